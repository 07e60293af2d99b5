import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseZone, tlsaRecordsAt } from '../../src/zonefile/index.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';

/**
 * Issue 3: kill -9 in the middle of an apply leaves every zone file either old or new (never
 * half-written), and the next run converges. Runs the built CLI as a separate process.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const ZONES = Array.from({ length: 30 }, (_, i) => `crash${i}.test`);
let root: string;

beforeAll(() => {
  const pki = makePki();
  const service = pki.leaf('server.host.test');
  root = makeFakeRoot({
    domains: Object.fromEntries(ZONES.map((z) => [z, 'user1'])),
    local: ZONES,
    zones: Object.fromEntries(ZONES.map((z) => [z, cpanelZone(z, [`${z}. IN MX 10 mail.${z}.`, `mail.${z}. IN A 192.0.2.10`])])),
    eximCrt: readFileSync(service.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
    // A slow reload widens the window in which the kill lands mid-run.
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['sleep', '0.1'], authoritative: false } }) },
  });
});

function tlsaCounts(): number[] {
  return ZONES.map((z) => {
    const file = join(root, 'var/named', `${z}.db`);
    execFileSync('named-checkzone', ['-q', '-i', 'local', z, file]);
    const parsed = parseZone(readFileSync(file, 'utf8'), z);
    return tlsaRecordsAt(parsed, [25, 465, 587].map((p) => `_${p}._tcp.mail.${z}`)).length;
  });
}

function cli(args: string[]): { status: number | null; out: string } {
  try {
    return { status: 0, out: execFileSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8' }) };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, out: e.stdout + e.stderr };
  }
}

describe('apply killed with SIGKILL', () => {
  it('leaves every zone old or new, and the next run converges', async () => {
    const child = spawn(process.execPath, [CLI, 'apply', '--yes', '--root', root], { stdio: 'ignore' });
    // Kill once a few zones are done but not all: a backup is taken just before a zone's rename and
    // at most 4 zones are in flight, so after 6 backups at least 2 zones are complete.
    const backups = join(root, 'var/lib/tlsa-manager/backups');
    for (let i = 0; i < 400 && !(existsSync(backups) && readdirSync(backups).length >= 6); i++) await sleep(25);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const counts = tlsaCounts();
    expect(counts.every((n) => n === 0 || n === 6), `per-zone TLSA counts: ${counts}`).toBe(true);
    expect(counts.filter((n) => n === 6).length).toBeGreaterThan(0);
    expect(counts.filter((n) => n === 0).length).toBeGreaterThan(0);

    const again = cli(['apply', '--yes']);
    expect(again.status, again.out).toBe(0);
    expect(tlsaCounts().every((n) => n === 6)).toBe(true);
    const plan = cli(['plan', '--json']);
    const zones = JSON.parse(plan.out).zones as { changes: unknown[] }[];
    expect(zones.every((z) => z.changes.length === 0)).toBe(true);
  });
});
