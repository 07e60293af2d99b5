import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { installStubs } from '../../demo/stubs-install.js';
import type { FakeCloudflare } from '../fakes/cloudflare/server.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, type TestPki } from '../helpers/openssl.js';

/**
 * The fault matrix's world: two customer zones (f.test, g.test) whose MX hosts are served here,
 * records we published for the current certificates, records someone else published (at our
 * owners and elsewhere), and a renewal pending (new keys) that the faulty run tries to publish.
 * One publish path per world: zone file + reload, WHM API 1 (demo stub), Cloudflare (fake API).
 */
export type PathKind = 'zonefile' | 'whmapi' | 'cloudflare';
export const ZONES = ['f.test', 'g.test'];
export const CLI = join(process.cwd(), 'dist/cli.js');
const FOREIGN_AT_OWNER = 'ab'.repeat(32);
const FOREIGN_ELSEWHERE = 'cd'.repeat(32);
const PORTS = [25, 465, 587];
export const owners = (z: string) => PORTS.map((p) => `_${p}._tcp.mail.${z}`);

export interface World {
  kind: PathKind;
  root: string;
  /** Directory for the test's scripts and markers (outside the root). */
  lab: string;
  cf?: { fake: FakeCloudflare; url: string; token: string };
  config: Record<string, unknown>;
  /** What the faulty run did (exit status and its first failure line), for the table. */
  effect?: string;
}

/** One TLSA record as `owner u s m data` (lower case), a stable way to compare sets. */
export type Rec = string;

let pki: TestPki | null = null;

function zoneText(z: string): string {
  return cpanelZone(z, [
    `${z}. IN MX 10 mail.${z}.`,
    `mail.${z}. IN A 192.0.2.10`,
    `www.${z}. IN A 192.0.2.10`,
    `${z}. IN TXT "v=spf1 mx -all"`,
    `_25._tcp.mail.${z}. 3600 IN TLSA 3 1 1 ${FOREIGN_AT_OWNER}`,
    `_443._tcp.www.${z}. 3600 IN TLSA 3 1 1 ${FOREIGN_ELSEWHERE}`,
  ]);
}

/** A fresh world with our records for the current keys published, and a renewal waiting. */
export async function makeWorld(kind: PathKind, cf?: World['cf']): Promise<World> {
  pki ??= makePki();
  const lab = mkdtempSync(join(tmpdir(), 'tlsa-fault-lab-'));
  const serve = () => Object.fromEntries(ZONES.map((z) => [`mail.${z}`, readFileSync(pki!.leaf(`mail.${z}`).combined, 'utf8')]));
  writeFileSync(join(lab, 'reload.sh'), RELOAD_SCRIPT, { mode: 0o755 });
  const config: Record<string, unknown> = {
    cpanel: { useWhmApi: kind === 'whmapi', reloadCommand: ['/bin/sh', join(lab, 'reload.sh'), '{zone}'], authoritative: false },
  };
  if (kind === 'cloudflare') {
    config.zones = Object.fromEntries(ZONES.map((z) => [z, { provider: 'cloudflare' }]));
    config.cloudflare = { apiToken: cf!.token, baseURL: cf!.url };
    for (const z of ZONES) {
      cf!.fake.addZone(z);
      cf!.fake.addRecord(z, { name: `_25._tcp.mail.${z}`, type: 'TLSA', ttl: 3600, data: { usage: 3, selector: 1, matching_type: 1, certificate: FOREIGN_AT_OWNER } });
      cf!.fake.addRecord(z, { name: `_443._tcp.www.${z}`, type: 'TLSA', ttl: 3600, data: { usage: 3, selector: 1, matching_type: 1, certificate: FOREIGN_ELSEWHERE } });
    }
  }
  const root = makeFakeRoot({
    domains: Object.fromEntries(ZONES.map((z) => [z, z.slice(0, 1)])),
    local: ZONES,
    zones: Object.fromEntries(ZONES.map((z) => [z, zoneText(z)])),
    domainTls: serve(),
    files: { '/etc/tlsa-manager/config.json': JSON.stringify(config) },
  });
  if (kind === 'whmapi') await installStubs(root);
  const w: World = { kind, root, lab, config, ...(cf ? { cf } : {}) };
  const first = await cli(w, ['apply', '--yes']);
  if (first.status !== 0) throw new Error(`set-up apply failed: ${first.out}`);
  // The renewal: new keys for both hosts (same issuer), not yet published.
  for (const [host, pem] of Object.entries(serve())) writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', host, 'combined'), pem);
  return w;
}

/**
 * Reload stub, counted per zone: `reload.fail` fails every reload, `reload.fail.<zone>.<n>` the
 * zone's n-th, `reload.hang.<zone>.<n>` makes it sleep (a kill point; its pid in hung.pid).
 */
const RELOAD_SCRIPT = `dir=$(dirname "$0")
n=$(($(cat "$dir/reload.count.$1" 2>/dev/null || echo 0) + 1)); echo $n > "$dir/reload.count.$1"
echo "$1" >> "$dir/reloads.log"
if [ -f "$dir/reload.fail.$1.$n" ] || [ -f "$dir/reload.fail" ]; then echo "rndc: connection refused" >&2; exit 1; fi
if [ -f "$dir/reload.hang.$1.$n" ]; then echo $$ > "$dir/hung.pid"; exec sleep 60; fi
exit 0
`;

/** Start counting reloads afresh (the set-up apply reloaded each zone once). */
export function resetReloadCounts(w: World): void {
  for (const f of readdirSync(w.lab)) if (f.startsWith('reload.count.')) rmSync(join(w.lab, f));
}

/** Replace the whmapi1 stub by a wrapper that hangs (kill point) before or after FUNCTION. */
export function whmapiHang(w: World, fn: string, when: 'before' | 'after'): void {
  const exe = join(w.root, 'usr/local/cpanel/bin/whmapi1');
  rmSync(exe);
  const stub = join(w.root, 'usr/local/cpanel/demo-stubs/whmapi1.mjs');
  const hang = `echo $$ > "${w.lab}/hung.pid"; sleep 60`;
  writeFileSync(exe, `#!/bin/sh
if [ "$2" != "${fn}" ] || [ -e "${w.lab}/hung.pid" ]; then exec "${process.execPath}" "${stub}" "$@"; fi
${when === 'before' ? `${hang}
exec "${process.execPath}" "${stub}" "$@"` : `out=$("${process.execPath}" "${stub}" "$@"); ${hang}; printf '%s\n' "$out"`}
`, { mode: 0o755 });
}

export function writeConfig(w: World, patch: (c: Record<string, unknown>) => void): void {
  const c = structuredClone(w.config);
  patch(c);
  writeFileSync(join(w.root, 'etc/tlsa-manager/config.json'), JSON.stringify(c), { mode: 0o600 });
}

/** Runs the CLI without blocking this process (the fake Cloudflare API answers from here). */
export function cli(w: World, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args, '--root', w.root], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out });
    });
  });
}

/** The faulty run: like cli(), and what it answered goes into the table. */
export async function faultyApply(w: World, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const r = await cli(w, ['apply', '--yes'], env);
  const line = r.out.split('\n').find((l) => /FAILED|error|cannot|refused/i.test(l)) ?? r.out.split('\n')[0] ?? '';
  w.effect = `exit ${r.status}: ${line.replace(/\|/g, '/').slice(0, 110)}`;
}

export function spawnApply(w: World, env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [CLI, 'apply', '--yes', '--root', w.root], { stdio: 'ignore', env: { ...process.env, ...env } });
}

export async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the fault point');
    await sleep(20);
  }
}

/** All TLSA records of a zone as published (zone file, or the fake Cloudflare API). */
export function published(w: World, zone: string): Rec[] {
  if (w.kind === 'cloudflare') {
    return w.cf!.fake.recordsOf(zone, 'TLSA').map((r) => `${r.name} ${String(r.content).toLowerCase()}`).sort();
  }
  // BIND's own canonical form (absolute names, one record a line): independent of our parser.
  const r = spawnSync('named-compilezone', ['-q', '-i', 'local', '-s', 'full', '-o', '-', zone, join(w.root, 'var/named', `${zone}.db`)], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === 'TLSA')
    .map((f) => `${f[0]!.replace(/\.$/, '').toLowerCase()} ${f[4]} ${f[5]} ${f[6]} ${f.slice(7).join('').toLowerCase()}`)
    .sort();
}

/** named-checkzone (-i local) accepts the zone file (not applicable to Cloudflare). */
export function zoneValid(w: World, zone: string): boolean {
  if (w.kind === 'cloudflare') return true;
  return spawnSync('named-checkzone', ['-q', '-i', 'local', zone, join(w.root, 'var/named', `${zone}.db`)]).status === 0;
}

export const foreign = (z: string): Rec[] => [`_25._tcp.mail.${z} 3 1 1 ${FOREIGN_AT_OWNER}`, `_443._tcp.www.${z} 3 1 1 ${FOREIGN_ELSEWHERE}`];

/** Ledger rows and journal entries from the state database. */
export function ledger(w: World, zone: string): { rows: Map<string, number>; journal: string[] } {
  const db = new Database(join(w.root, 'var/lib/tlsa-manager/state.db'), { readonly: true });
  try {
    const rows = new Map((db.prepare('SELECT owner, key, created_by_us FROM ledger WHERE zone = ?').all(zone) as { owner: string; key: string; created_by_us: number }[]).map((r) => [keyToRec(r.key), r.created_by_us]));
    const journal = (db.prepare('SELECT changes FROM journal WHERE zone = ?').all(zone) as { changes: string }[]).flatMap((j) =>
      (JSON.parse(j.changes) as { kind: string; record: { owner: string; usage: number; selector: number; matchingType: number; data: string } }[]).filter((c) => c.kind === 'create').map((c) => `${c.record.owner} ${c.record.usage} ${c.record.selector} ${c.record.matchingType} ${c.record.data.toLowerCase()}`),
    );
    return { rows, journal };
  } finally {
    db.close();
  }
}

/** recordKey's layout is `owner|u|s|m|data` or similar: normalise to a Rec by its parts. */
function keyToRec(key: string): Rec {
  const parts = key.split(/[\s|/]+/).filter(Boolean);
  const [owner, u, s, m, data] = parts;
  return `${owner} ${u} ${s} ${m} ${data?.toLowerCase()}`;
}

export function cleanup(w: World): void {
  for (const f of ['hung.pid', 'checkzone.pid']) {
    const p = join(w.lab, f);
    if (existsSync(p)) {
      try {
        process.kill(Number(readFileSync(p, 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  rmSync(w.lab, { recursive: true, force: true });
  rmSync(w.root, { recursive: true, force: true });
}

/** A PATH whose named-checkzone is a script of ours (rejecting, or hanging as a kill point). */
export function checkzoneWrapper(w: World, mode: 'reject' | 'hang'): string {
  const bin = join(w.lab, 'bin');
  mkdirSync(bin, { recursive: true });
  const body = mode === 'reject'
    ? '#!/bin/sh\necho "zone: loading from master file failed: out of range" >&2\nexit 1\n'
    : `#!/bin/sh\necho $$ > "${w.lab}/checkzone.pid"\nexec sleep 60\n`;
  writeFileSync(join(bin, 'named-checkzone'), body, { mode: 0o755 });
  return `${bin}:${process.env.PATH}`;
}

/** A tmpfs mounted over the zone or state directory, holding its current files. */
export function mountTmpfs(dir: string, opts: { sizeKb: number; fill?: boolean; readOnly?: boolean }): () => void {
  const saved = mkdtempSync(join(tmpdir(), 'tlsa-fault-save-'));
  cpSync(dir, saved, { recursive: true });
  run('mount', ['-t', 'tmpfs', '-o', `size=${opts.sizeKb}k,mode=0755`, 'tmpfs', dir]);
  cpSync(saved, dir, { recursive: true });
  if (opts.fill) {
    // Fill it to the last block: the next file written gets ENOSPC.
    spawnSync('dd', ['if=/dev/zero', `of=${join(dir, '.filler')}`, 'bs=1k'], { stdio: 'ignore' });
  }
  if (opts.readOnly) run('mount', ['-o', 'remount,ro', dir]);
  return () => {
    const out = mkdtempSync(join(tmpdir(), 'tlsa-fault-out-'));
    cpSync(dir, out, { recursive: true });
    run('umount', [dir]);
    rmSync(join(out, '.filler'), { force: true });
    for (const f of readdirSync(out)) cpSync(join(out, f), join(dir, f), { recursive: true });
    rmSync(out, { recursive: true, force: true });
    rmSync(saved, { recursive: true, force: true });
  };
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
