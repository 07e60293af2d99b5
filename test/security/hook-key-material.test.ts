import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, type TestPki } from '../helpers/openssl.js';
import { HOOK_FIXTURES, hookEvent } from '../helpers/cpanel-fixtures.js';

/**
 * Issue 22, item 2: cPanel hands the private key to our hooks (`key_pem` in AutoSSL::installssl,
 * `key` in SSL::installssl, the service-certificate event and UAPI SSL::install_ssl's `args`).
 * A marker carried in every key field, on every event we register (success and failure paths,
 * the failure twice so the publish alert opens), must appear nowhere: not in any file under the
 * root (state database with its WAL, logs, zones, alerts), not on stdout or stderr with --debug
 * and the most verbose log level.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const MARKER = 'TLSAMKEYMARKERb64Zm9vYmFyMarkerMustNeverBeStored0123456789';
const ZONE = 'keys.test';
const HOST = `mail.${ZONE}`;
let pki: TestPki;
let root: string;
let keyPem: string;
let keyLines: string[];
let certPem: string;
let cabPem: string;
const outputs: string[] = [];

function fire(input: string): string {
  const r = spawnSync(process.execPath, [CLI, 'hook', '--debug', '--root', root], {
    input,
    encoding: 'utf8',
    env: { ...process.env, TLSA_MANAGER_LOG_LEVEL: 'trace' },
    timeout: 60_000,
  });
  outputs.push(r.stdout, r.stderr);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^1 /);
  return r.stdout;
}

/** Every event we register, as cPanel sends it (test/fixtures/cpanel/hooks), the key where cPanel puts it. */
function fireAll(): void {
  const v = { user: 'keys', domain: ZONE, certificatePem: certPem, keyPem, cabPem };
  for (const name of HOOK_FIXTURES) fire(hookEvent(name, v));
  // Key material where a certificate belongs (a pasted key): refused without echoing it.
  fire(hookEvent('SSL-installssl-pre', { ...v, certificatePem: keyPem, cabPem: keyPem }));
  fire(hookEvent('AutoSSL-installssl-pre', { ...v, certificatePem: `${certPem}\n${keyPem}`, cabPem: keyPem }));
  fire(hookEvent('UAPI-SSL-install_ssl-post', { ...v, certificatePem: keyPem }));
  // An event we do not handle, and a payload that is not what cPanel sends.
  fire(JSON.stringify({ context: { category: 'Whostmgr', event: 'Accounts::Create', stage: 'post' }, data: { user: 'keys', key: keyPem } }));
  fire(JSON.stringify({ context: { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' }, data: { username: ['keys'], domain_set_name: { x: keyPem }, certificate_pem: 7, key_pem: keyPem } }));
}

/** Every regular file under dir (symlinks not followed). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

beforeAll(() => {
  pki = makePki();
  const current = pki.leaf(HOST, { sans: [HOST, ZONE] });
  const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
  keyPem = `${readFileSync(next.key, 'utf8')}-----BEGIN PRIVATE KEY-----\n${MARKER}\n-----END PRIVATE KEY-----\n`;
  keyLines = readFileSync(next.key, 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('-----'));
  certPem = readFileSync(next.cert, 'utf8');
  cabPem = readFileSync(pki.interCert, 'utf8');
  root = makeFakeRoot({
    domains: { [ZONE]: 'keys' },
    local: [ZONE],
    zones: { [ZONE]: cpanelZone(ZONE, [`${ZONE}. IN MX 10 ${HOST}.`, `${HOST}. IN A 192.0.2.10`]) },
    domainTls: { [HOST]: readFileSync(current.combined, 'utf8') },
    files: {
      '/var/cpanel/users/keys': `DNS=${ZONE}\nSSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\n`,
      '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }),
    },
  });
  fireAll();
  // The failure paths: every publish fails (a reload that fails), twice, so the publish-failed alert opens.
  writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['false'], authoritative: false } }));
  // Another certificate is served now (its own key in its combined file, not the marked one), so
  // every event has records to publish and each publish fails.
  const third = pki.leaf(HOST, { sans: [HOST, ZONE] });
  certPem = readFileSync(third.cert, 'utf8');
  writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', HOST, 'combined'), readFileSync(third.combined, 'utf8'));
  fireAll();
  fireAll();
}, 300_000);

describe('key material handed to a hook is never kept', () => {
  it('the events ran: records were published, then the failures were logged and alerted', () => {
    const all = filesUnder(root).map((f) => readFileSync(f).toString('latin1')).join('\n');
    expect(readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8')).toMatch(/_25\._tcp\.mail\.keys\.test\.\s+\d+\s+IN\s+TLSA\s+3 1 1/);
    expect(all).toContain('publish-failed');
    expect(outputs.join('\n')).toMatch(/could not be updated right now|reload/);
  });

  it('no file under the root holds the marker or a line of the key (state database and WAL, logs, zones)', () => {
    const files = filesUnder(root);
    expect(files.some((f) => f.includes('state.db'))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f).toString('latin1');
      expect(text, f).not.toContain(MARKER);
      for (const line of keyLines) expect(text, f).not.toContain(line);
    }
  });

  it('no answer, log line or --debug output holds the marker or a line of the key', () => {
    const text = outputs.join('\n');
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(MARKER);
    for (const line of keyLines) expect(text).not.toContain(line);
  });
});
