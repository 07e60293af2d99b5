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
  }, 120_000);
});
