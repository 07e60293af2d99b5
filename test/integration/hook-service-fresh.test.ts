import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
 * Issue 26: the running service keeps what it read (accounts, mail routing, the zone listing, the
 * config) by change stamps; an event after a change must see the change, as today's hook (one
 * process per event) does.
 */
const A = 'fresh-a.test';
const B = 'fresh-b.test';
let pki: ReturnType<typeof makePki>;
let root: string;
let srv: RunningServer;
let sock: string;
const config = (extra: object) => JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, ...extra });

function send(body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: sock, agent: false, path: '/hook', method: 'POST', headers: { 'X-TLSA-Hook-Client': '1', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let out = '';
      res.on('data', (c: Buffer) => (out += c.toString()));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const zoneOf = (d: string) => readFileSync(join(root, 'var/named', `${d}.db`), 'utf8');
const siteOf = (d: string) => cpanelZone(d, [`${d}. IN MX 10 mail.${d}.`, `mail.${d}. IN A 192.0.2.10`]);

beforeAll(async () => {
  pki = makePki();
  root = makeFakeRoot({
    domains: { [A]: 'fa' },
    local: [A],
    zones: { [A]: siteOf(A) },
    domainTls: { [`mail.${A}`]: readFileSync(pki.leaf(`mail.${A}`, { sans: [`mail.${A}`, A] }).combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': config({ policy: { ports: [25] } }) },
  });
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-hookfresh-'));
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  sock = join(dir, 'run/web.sock');
  srv = await startServer(createContext({ root, logger: createLogger({ level: 'silent' }) }), { kind: 'socket', path: sock });
});

afterAll(async () => {
  await srv?.close();
});

describe('the service sees every change at the next event', () => {
  it('a new account (userdomains, localdomains, a new zone file and certificate) is reconciled by the next event for it', async () => {
    expect(await send(hookEvent('SSL-installssl-post', { domain: A }))).toMatch(/^1 reconciled fresh-a\.test: \d+ TLSA change\(s\)/);
    expect(await send(hookEvent('SSL-installssl-post', { domain: B }))).toBe('1 no customer domain of this server is affected\n');
    const leaf = pki.leaf(`mail.${B}`, { sans: [`mail.${B}`, B] });
    mkdirSync(join(root, 'var/cpanel/ssl/domain_tls', `mail.${B}`), { recursive: true });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', `mail.${B}`, 'combined'), readFileSync(leaf.combined, 'utf8'));
    writeFileSync(join(root, 'var/named', `${B}.db`), siteOf(B));
    writeFileSync(join(root, 'etc/localdomains'), `${A}\n${B}\n`);
    writeFileSync(join(root, 'etc/userdomains'), `${A}: fa\n${B}: fb\n*: nobody\n`);
    expect(await send(hookEvent('SSL-installssl-post', { domain: B }))).toMatch(/^1 reconciled fresh-b\.test: [1-9]\d* TLSA change\(s\)/);
    expect(zoneOf(B)).toContain(opensslTlsaData(leaf.cert, 1, 1));
  });

  it('a config edited outside the web app (another port) is used by the next event', async () => {
    expect(await send(hookEvent('SSL-installssl-post', { domain: A }))).toBe(`1 reconciled ${A}: 0 TLSA change(s)\n`);
    expect(zoneOf(A)).not.toContain(`_465._tcp.mail.${A}`);
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), config({ policy: { ports: [25, 465] } }));
    expect(await send(hookEvent('SSL-installssl-post', { domain: A }))).toMatch(new RegExp(`^1 reconciled ${A.replace('.', '\\.')}: [1-9]\\d* TLSA change\\(s\\)`));
    expect(zoneOf(A)).toContain(`_465._tcp.mail.${A}`);
  });

  it('a config the service cannot read is answered as today\'s hook answers it, and a fixed one is used again', async () => {
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), '{ not json');
    expect(await send(hookEvent('SSL-installssl-post', { domain: A }))).toMatch(/^1 TLSA Manager cannot run this hook: /);
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), config({ policy: { ports: [25, 465] } }));
    expect(await send(hookEvent('SSL-installssl-post', { domain: A }))).toBe(`1 reconciled ${A}: 0 TLSA change(s)\n`);
  });
});
