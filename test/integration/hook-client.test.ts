import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { createContext, createLogger } from '../../src/context.js';
import { hookEvent } from '../helpers/cpanel-fixtures.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

/**
 * Issue 26: the thin hook client (plugin/bin/tlsa-manager-hook, Perl) hands cPanel's event to the
 * running service over its root-only socket, without the private key, and falls back to the
 * Node.js hook when the service does not answer. Events come from test/fixtures/cpanel.
 */
const CLIENT = join(process.cwd(), 'plugin/bin/tlsa-manager-hook');
const CLI = join(process.cwd(), 'dist/cli.js');
const MARKER = 'TLSAMHOOKCLIENTKEYMARKER0123456789abcdef';
const ZONE = 'client.test';
const HOST = `mail.${ZONE}`;
let pki: ReturnType<typeof makePki>;
let root: string;
let dir: string;
let srv: RunningServer;
let sock: string;

/** Runs the client as the installed wrapper does (empty environment), async so the in-process service can answer. */
function client(input: string, args: string[]): Promise<{ stdout: string; stderr: string; status: number | null; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const c = spawn('/usr/bin/perl', [CLIENT, ...args], { env: { PATH: '/usr/bin:/bin' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => resolve({ stdout, stderr, status, ms: Date.now() - started }));
    c.stdin.end(input);
  });
}

const keyPem = () => `-----BEGIN PRIVATE KEY-----\n${MARKER}\n-----END PRIVATE KEY-----\n`;

/** A unix-socket server that records what it is sent and answers with `reply` (null: closes without a word). */
function fakeService(path: string, reply: string | null): Promise<{ server: Server; received: string[] }> {
  const received: string[] = [];
  const server = createServer((s) => {
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      const [head, body = ''] = data.split('\r\n\r\n');
      const len = Number(/Content-Length: (\d+)/i.exec(head ?? '')?.[1] ?? -1);
      if (Buffer.byteLength(body) < len) return;
      received.push(data);
      if (reply === null) s.destroy();
      else s.end(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n${reply}`);
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ server, received })));
}

beforeAll(async () => {
  pki = makePki();
  root = makeFakeRoot({
    domains: { [ZONE]: 'cl' },
    local: [ZONE],
    zones: { [ZONE]: cpanelZone(ZONE, [`${ZONE}. IN MX 10 ${HOST}.`, `${HOST}. IN A 192.0.2.10`]) },
    domainTls: { [HOST]: readFileSync(pki.leaf(HOST, { sans: [HOST, ZONE] }).combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  spawnSync(process.execPath, [CLI, 'apply', '--yes', '--root', root]);
  dir = mkdtempSync(join(tmpdir(), 'tlsa-hookclient-'));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  sock = join(dir, 'run/web.sock');
  srv = await startServer(createContext({ root, logger: createLogger({ level: 'silent' }) }), { kind: 'socket', path: sock });
});

afterAll(async () => {
  await srv?.close();
});

describe('the hook client', () => {
  it("is answered by the running service (the fallback is unusable here), with the same answer and records as today's hook", async () => {
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    const event = hookEvent('AutoSSL-installssl-pre', { user: 'cl', domain: ZONE, certificatePem: readFileSync(next.cert, 'utf8'), keyPem: readFileSync(next.key, 'utf8'), cabPem: readFileSync(pki.interCert, 'utf8') });
    const r = await client(event, ['--socket', sock, '--node', '/nonexistent/node', '--cli', '/nonexistent/cli.js', '--root', root]);
    expect(r.stdout).toBe(`1 pre-published for ${HOST}: 3 TLSA change(s)\n`);
    expect(readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8')).toContain(opensslTlsaData(next.cert, 1, 1));
    // The same event again through today's Node.js hook: nothing left to do, as through the service.
    const again = spawnSync(process.execPath, [CLI, 'hook', '--root', root], { input: event, encoding: 'utf8' });
    expect(again.stdout).toBe(`1 pre-published for ${HOST}: 0 TLSA change(s)\n`);
    const viaService = await client(event, ['--socket', sock, '--node', '/nonexistent/node', '--cli', '/nonexistent/cli.js']);
    expect(viaService.stdout).toBe(again.stdout);
  });

  it('sends no key material: key_pem, key and args.key are removed, a PEM key anywhere else is cut out', async () => {
    const fake = join(dir, 'fake.sock');
    const { server, received } = await fakeService(fake, '1 fake service answer\n');
    try {
      for (const name of ['AutoSSL-installssl-pre', 'SSL-installssl-post', 'SSL-install_service_ssl_certificate-post', 'UAPI-SSL-install_ssl-post'] as const) {
        const r = await client(hookEvent(name, { keyPem: keyPem(), certificatePem: 'CERT' }), ['--socket', fake]);
        expect(r.stdout).toBe('1 fake service answer\n');
      }
      const garbled = await client(`{not json ${keyPem()}`, ['--socket', fake]);
      expect(garbled.stdout).toBe('1 fake service answer\n');
      expect(received).toHaveLength(5);
      for (const req of received) {
        expect(req).toMatch(/^POST \/hook HTTP\/1\.0\r\n/);
        expect(req).toContain('X-TLSA-Hook-Client: 1');
        expect(req).not.toContain(MARKER);
        expect(req).not.toContain('PRIVATE KEY');
      }
      // The certificate and the rest of the event do go across.
      expect(received[0]).toContain('"certificate_pem":"CERT"');
    } finally {
      server.close();
    }
  });

  it('no service (no socket): runs the Node.js hook itself and gives its answer', async () => {
    const event = hookEvent('SSL-installssl-post', { domain: ZONE });
    const r = await client(event, ['--socket', join(dir, 'absent.sock'), '--node', process.execPath, '--cli', CLI, '--root', root]);
    const direct = spawnSync(process.execPath, [CLI, 'hook', '--root', root], { input: event, encoding: 'utf8' });
    expect(r.stdout).toBe(direct.stdout);
    expect(r.stdout).toMatch(/^1 reconciled client\.test: \d+ TLSA change\(s\)\n$/);
  });

  it('a service that closes without an answer: the fallback answers (the event is not lost)', async () => {
    const fake = join(dir, 'mute.sock');
    const { server, received } = await fakeService(fake, null);
    try {
      const r = await client(hookEvent('SSL-installssl-post', { domain: ZONE }), ['--socket', fake, '--node', process.execPath, '--cli', CLI, '--root', root]);
      expect(received).toHaveLength(1);
      expect(r.stdout).toMatch(/^1 reconciled client\.test: /);
    } finally {
      server.close();
    }
  });

  it('the service stopped in the middle of a run of events: every event is answered (by the fallback once it is gone) and a reconcile then has nothing to do', async () => {
    const own = join(dir, 'stop.sock');
    const service = await startServer(createContext({ root, logger: createLogger({ level: 'silent' }) }), { kind: 'socket', path: own });
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', HOST, 'combined'), readFileSync(next.combined, 'utf8'));
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) {
      if (i === 3) await service.close();
      const r = await client(hookEvent('SSL-installssl-post', { domain: ZONE }), ['--socket', own, '--node', process.execPath, '--cli', CLI, '--root', root]);
      answers.push(r.stdout);
    }
    expect(answers).toHaveLength(6);
    for (const a of answers) expect(a).toMatch(/^1 reconciled client\.test: \d+ TLSA change\(s\)\n$/);
    expect(answers[0]).not.toBe('1 reconciled client.test: 0 TLSA change(s)\n'); // the first one published the new key
    const plan = JSON.parse(spawnSync(process.execPath, [CLI, 'plan', '--json', '--root', root], { encoding: 'utf8' }).stdout) as { zones: { changes: unknown[] }[] };
    expect(plan.zones.flatMap((z) => z.changes)).toEqual([]);
    expect(readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8')).toContain(opensslTlsaData(next.cert, 1, 1));
  });

  it('the service answers hooks only for the hook client: a request through the CGI shim (X-TLSA-Remote-User) never reaches them', async () => {
    const body = hookEvent('SSL-installssl-post', { domain: ZONE });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: sock, method: 'POST', path: '/hook', headers: { 'Content-Type': 'application/json', 'X-TLSA-Hook-Client': '1', 'X-TLSA-Remote-User': 'root', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).not.toBe(200);
  });
});
