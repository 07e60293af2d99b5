import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot, type DemoManifest } from '../../demo/build-root.js';
import { startDemoNetwork, type DemoNetwork } from '../../demo/network.js';
import { writeDemoConfig } from '../../demo/start.js';

// What the demo network serves is judged with dig and openssl s_client, and what the product makes
// of it with the shipped CLI (dist/cli.js), never with the network's own code. The network runs in
// this process, so every client is spawned asynchronously (spawnSync would stop it answering).

function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.stdin.end(opts.input ?? '');
  });
}

let root: string;
let m: DemoManifest;
let net: DemoNetwork;
let work: string;
const REPO = process.cwd();

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'demo-net-work-'));
  root = join(mkdtempSync(join(tmpdir(), 'demo-net-')), 'root');
  m = await buildDemoRoot(root);
  net = await startDemoNetwork({ root, manifest: m });
  writeDemoConfig(root, net);
}, 120_000);

afterAll(async () => {
  await net?.close();
  if (root) rmSync(join(root, '..'), { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
});

async function dig(server: { host: string; port: number }, name: string, type: string, ...flags: string[]): Promise<{ status: string; flags: string[]; answers: string[] }> {
  const stdout = await run('dig', [`@${server.host}`, '-p', String(server.port), '+dnssec', '+nosplit', '+tries=1', '+time=2', ...flags, name, type]);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'none';
  const f = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const answers = stdout.split('\n').filter((l) => l && !l.startsWith(';') && new RegExp(`\\sIN\\s+${type}\\s`).test(l));
  return { status, flags: f, answers };
}

function fingerprint(pem: string): string {
  const r = spawnSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: pem, encoding: 'utf8' });
  return r.stdout.trim();
}

/** The leaf certificate a client gets at the listener for `port` when it asks for `sni`. */
async function served(port: 25 | 465 | 587, sni: string): Promise<string> {
  const args = ['s_client', '-connect', `127.0.0.1:${net.smtp[port]}`, '-servername', sni, ...(port === 465 ? [] : ['-starttls', 'smtp'])];
  const stdout = await run('openssl', args, { input: 'QUIT\r\n', timeoutMs: 10_000 });
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(stdout)?.[0] ?? '';
  return fingerprint(leaf);
}

const leafOf = (file: string) => fingerprint(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(readFileSync(join(root, file), 'utf8'))![0]);

function cli(...args: string[]): Promise<string> {
  return run(process.execPath, [join(REPO, 'dist', 'cli.js'), ...args], { env: { ...process.env, TLSA_MANAGER_ROOT: root }, timeoutMs: 60_000 });
}

describe('demo network: DNS', () => {
  it('the resolver face sets AD for a signed zone, not for the unsigned one, and SERVFAILs the bogus chain unless CD is set', async () => {
    const signed = await dig(net.resolver, 'alpha-demo.test', 'MX');
    expect(signed.status).toBe('NOERROR');
    expect(signed.flags).toContain('ad');
    expect(signed.answers.join('\n')).toMatch(/MX\s+0 alpha-demo\.test\./);
    const unsigned = await dig(net.resolver, 'delta-demo.test', 'MX');
    expect(unsigned.status).toBe('NOERROR');
    expect(unsigned.flags).not.toContain('ad');
    expect((await dig(net.resolver, 'charlie-demo.test', 'MX')).status).toBe('SERVFAIL');
    const cd = await dig(net.resolver, 'charlie-demo.test', 'MX', '+cd');
    expect(cd.status).toBe('NOERROR');
    expect(cd.flags).not.toContain('ad');
    expect((await dig(net.resolver, '.', 'SOA')).flags).toContain('ad');
    expect((await dig(net.resolver, 'nothing-here.alpha-demo.test', 'A')).status).toBe('NXDOMAIN');
  });

  it('the authoritative face answers with AA for local zones only and serves a zone file edit at once', async () => {
    const owner = '_25._tcp.alpha-demo.test';
    expect((await dig(net.authoritative, owner, 'TLSA', '+norec')).answers).toHaveLength(0);
    const before = await dig(net.authoritative, 'alpha-demo.test', 'A', '+norec');
    expect(before.flags).toContain('aa');
    expect((await dig(net.authoritative, 'cloud-demo.test', 'MX', '+norec')).status).toBe('REFUSED');
    appendFileSync(join(root, 'var/named/alpha-demo.test.db'), `${owner}.\t3600\tIN\tTLSA\t3 1 1 ${'ab'.repeat(32)}\n`);
    const after = await dig(net.authoritative, owner, 'TLSA', '+norec');
    expect(after.answers.join('\n')).toContain('3 1 1 ' + 'AB'.repeat(32));
    expect((await dig(net.resolver, owner, 'TLSA')).flags).toContain('ad');
  });
});

/** BIND's DS for the DNSKEY the resolver face serves for `zone` (a KSK/CSK), as one line. */
async function dsFromServedKey(zone: string): Promise<string> {
  const keys = await dig(net.resolver, zone, 'DNSKEY', '+cd');
  const file = join(work, `${zone}.dnskey`);
  writeFileSync(file, keys.answers.join('\n') + '\n');
  return (await run('dnssec-dsfromkey', ['-2', '-f', file, zone])).trim();
}

/** "zone. IN DS tag alg type HEX" from dig's answer line (TTL dropped, digest upper case). */
const dsLineOf = (answer: string) => answer.replace(/\s+/g, ' ').replace(/^(\S+) \d+ IN DS (\d+) (\d+) (\d+) (\S+)$/, (_m, o: string, t: string, a: string, d: string, h: string) => `${o} IN DS ${t} ${a} ${d} ${h.toUpperCase()}`);

describe('demo network: DNSSEC chain (the simulated TLD)', () => {
  it('the parent publishes real DS records: what dnssec-dsfromkey computes for signed zones, a retired key\'s for the bogus one, none for the unsigned and the no-DS zone', async () => {
    const parent = { host: net.parent.host, port: net.parent.port };
    expect(net.parent.zones).toEqual(['test']);
    const alpha = await dig(parent, 'alpha-demo.test', 'DS', '+norec');
    expect(alpha.flags).toContain('aa');
    expect(alpha.answers.map(dsLineOf)).toEqual([await dsFromServedKey('alpha-demo.test')]);
    const charlie = await dig(parent, 'charlie-demo.test', 'DS', '+norec');
    expect(charlie.answers).toHaveLength(1);
    const charlieServed = await dsFromServedKey('charlie-demo.test');
    expect(charlieServed).toMatch(/^charlie-demo\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
    expect(dsLineOf(charlie.answers[0]!)).not.toBe(charlieServed);
    for (const zone of ['delta-demo.test', 'foxtrot-demo.test']) {
      const none = await dig(parent, zone, 'DS', '+norec');
      expect([none.status, none.answers.length], zone).toEqual(['NOERROR', 0]);
    }
    expect((await dig(net.resolver, 'delta-demo.test', 'DNSKEY', '+cd')).answers).toHaveLength(0);
    expect(await dsFromServedKey('foxtrot-demo.test')).toMatch(/^foxtrot-demo\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
    // The resolver face answers the parent's side too: its apex validates, the DS comes with AD.
    expect((await dig(net.resolver, 'test', 'SOA')).flags).toContain('ad');
    expect((await dig(net.resolver, 'alpha-demo.test', 'DS')).answers.map(dsLineOf)).toEqual(alpha.answers.map(dsLineOf));
  });

  it('the signature over a zone\'s DNSKEY set is real: delv validates it with the key as trust anchor', async () => {
    const key = (await dig(net.resolver, 'alpha-demo.test', 'DNSKEY', '+cd')).answers[0]!.split(/\s+/);
    const anchor = join(work, 'anchor.conf');
    writeFileSync(anchor, `trust-anchors { alpha-demo.test. static-key ${key[4]} ${key[5]} ${key[6]} "${key.slice(7).join('')}"; };\n`);
    const out = await run('delv', ['-a', anchor, '+root=alpha-demo.test', `@${net.authoritative.host}`, '-p', String(net.authoritative.port), 'alpha-demo.test', 'DNSKEY']);
    expect(out).toMatch(/^; fully validated$/m);
  });

  it('the product judges the chains (dnssec status --all): secure, unsigned, signed without DS with the DS hand-off, bogus', async () => {
    const out = await cli('dnssec', 'status', '--all', '--json');
    const rows = JSON.parse(out.slice(out.indexOf('['))) as { zone: string; state: string; reason: string | null; parent: string; ds: { keyTag: number; algorithm: number; digestType: number; digest: string }[]; parentDs: { digest: string }[] }[];
    const by = new Map(rows.map((r) => [r.zone, r]));
    expect(by.get('alpha-demo.test')).toMatchObject({ state: 'secure', parent: 'test' });
    expect(by.get('delta-demo.test')).toMatchObject({ state: 'unsigned', ds: [] });
    expect(by.get('charlie-demo.test')).toMatchObject({ state: 'bogus', reason: 'ds-mismatch' });
    const fox = by.get('foxtrot-demo.test')!;
    expect(fox.state).toBe('signed-no-ds');
    const d = fox.ds[0]!;
    expect(`foxtrot-demo.test. IN DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toUpperCase()}`).toBe(await dsFromServedKey('foxtrot-demo.test'));
    expect(rows.filter((r) => r.state === 'unknown')).toEqual([]);
  }, 60_000);
});

describe('demo network: SMTP like Exim', () => {
  it('presents domain_tls/<sni>, then the wildcard entry, then /etc/exim.crt, on 25, 465 and 587', async () => {
    const alpha = leafOf('/var/cpanel/ssl/domain_tls/alpha-demo.test/combined');
    for (const port of [25, 465, 587] as const) expect(await served(port, 'alpha-demo.test'), String(port)).toBe(alpha);
    expect(await served(25, 'anything.wild-demo.test')).toBe(leafOf('/var/cpanel/ssl/domain_tls/*.wild-demo.test/combined'));
    const service = leafOf('/var/cpanel/ssl/exim/exim.crt');
    expect(await served(25, 'mail.missing-demo.test')).toBe(service);
    expect(await served(465, 'unknown.example')).toBe(service);
    expect(alpha).not.toBe(service);
  });
});

describe('the product against the demo network (dist/cli.js)', () => {
  it('before publishing: not protected, stale, unsigned, bogus; after: the fixable ones validate', async () => {
    // Undo the edit of the DNS test so the story starts from the built root.
    const zone = join(root, 'var/named/alpha-demo.test.db');
    writeFileSync(zone, readFileSync(zone, 'utf8').replace(/^_25\._tcp\.alpha-demo\.test\..*\n/m, ''));
    const before = await cli('check', 'alpha-demo.test', 'bravo-demo.test', 'charlie-demo.test', 'delta-demo.test');
    expect(before).toMatch(/^alpha-demo\.test: NOT PROTECTED/m);
    expect(before).toMatch(/^bravo-demo\.test: TLSA MISMATCH/m);
    expect(before).toMatch(/^charlie-demo\.test: DNSSEC BOGUS/m);
    expect(before).toMatch(/^delta-demo\.test: NO DNSSEC/m);
    expect(await cli('apply', '--yes')).toMatch(/change\(s\) applied/);
    const after = await cli('check', 'alpha-demo.test', 'bravo-demo.test', 'charlie-demo.test', 'delta-demo.test', 'expiring-demo.test');
    expect(after).toMatch(/^alpha-demo\.test: VALID/m);
    expect(after).toMatch(/^bravo-demo\.test: VALID/m);
    expect(after).toMatch(/^charlie-demo\.test: DNSSEC BOGUS/m);
    expect(after).toMatch(/^delta-demo\.test: NO DNSSEC/m);
    expect(after).toMatch(/^expiring-demo\.test: EXPIRING .*expires on/m);
    // The demo opts into TLS-RPT policies (tlsrpt.publish "all"): published with the TLSA records, served signed.
    const policy = await dig(net.resolver, '_smtp._tls.alpha-demo.test', 'TXT');
    expect(policy.flags).toContain('ad');
    expect(policy.answers.join('\n')).toContain('"v=TLSRPTv1; rua=mailto:tlsrpt@server.demo-host.test"');
  }, 120_000);
});
