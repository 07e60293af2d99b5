import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';

/**
 * Issue 11, finding 1: a pre-stage hook event for charlie.test carrying a certificate that names
 * other customers' MX hosts and the server hostname, plus a CA certificate that did not sign it,
 * made the hook pre-publish the attacker's key and CA in other customers' zones. Only MX hosts of
 * the event's own vhost, owned by the event's user and covered by the certificate, get records,
 * and an issuer is pinned only when the leaf's signature verifies with it.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
let legit: TestPki;
let evilA: TestPki;
let evilB: TestPki;
let root: string;

const zones = ['charlie.test', 'bravo.test', 'delta.test', 'host.test'];

beforeAll(() => {
  legit = makePki();
  evilA = makePki();
  evilB = makePki(); // its intermediate has the same subject as evilA's, but another key
});

beforeEach(() => {
  const served = (h: string) => readFileSync(legit.leaf(h).combined, 'utf8');
  root = makeFakeRoot({
    hostname: 'server.host.test',
    domains: { 'charlie.test': 'charlie', 'bravo.test': 'bravo', 'delta.test': 'charlie' },
    local: ['charlie.test', 'bravo.test', 'delta.test'],
    zones: {
      'charlie.test': cpanelZone('charlie.test', ['charlie.test. IN MX 10 mail.charlie.test.', 'mail.charlie.test. IN A 192.0.2.10']),
      'bravo.test': cpanelZone('bravo.test', ['bravo.test. IN MX 10 mail.bravo.test.', 'mail.bravo.test. IN A 192.0.2.10']),
      // A domain of charlie's whose MX is the server hostname (served the service certificate).
      'delta.test': cpanelZone('delta.test', ['delta.test. IN MX 10 server.host.test.']),
      'host.test': cpanelZone('host.test', ['server.host.test. IN A 192.0.2.10', 'ns1.host.test. IN A 192.0.2.53']),
    },
    domainTls: { 'mail.charlie.test': served('mail.charlie.test'), 'mail.bravo.test': served('mail.bravo.test') },
    eximCrt: readFileSync(legit.leaf('server.host.test').cert, 'utf8') + readFileSync(legit.interCert, 'utf8'),
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  try { execFileSync(process.execPath, [CLI, "apply", "--yes", "--root", root], { encoding: "utf8" }); } catch (e) { throw new Error(String((e as { stdout: string }).stdout) + String((e as { stderr: string }).stderr)); }
});

function hook(input: unknown): string {
  return execFileSync(process.execPath, [CLI, 'hook', '--root', root], { input: JSON.stringify(input), encoding: 'utf8' }).trim();
}

const zoneText = (z: string): string => readFileSync(join(root, 'var/named', `${z}.db`), 'utf8');
const snapshot = (): Record<string, string> => Object.fromEntries(zones.map((z) => [z, zoneText(z)]));

describe('pre-stage hook with a hostile certificate', () => {
  it('publishes nothing in other customers\' zones or the hostname\'s zone, and pins no CA that did not sign the leaf', () => {
    const before = snapshot();
    const evil = evilA.leaf('mail.charlie.test', { sans: ['mail.charlie.test', 'mail.bravo.test', 'server.host.test', 'bravo.test'] });
    const out = hook({
      context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'pre' },
      data: { domain: 'charlie.test', crt: readFileSync(evil.cert, 'utf8'), cab: readFileSync(evilB.interCert, 'utf8') },
    });
    expect(out).toMatch(/^1 /);
    const after = snapshot();
    expect(after['bravo.test']).toBe(before['bravo.test']);
    expect(after['host.test']).toBe(before['host.test']);
    expect(after['delta.test']).toBe(before['delta.test']);
    // charlie's own MX host: the incoming key, but not the CA that did not sign it.
    const key = opensslTlsaData(evil.cert, 1, 1);
    const ca = opensslTlsaData(evilB.interCert, 1, 1);
    expect(after['charlie.test']!.split('\n').filter((l) => l.includes(key))).toHaveLength(3);
    expect(after['charlie.test']).not.toContain(ca);
  });

  it('pins the issuer that did sign the leaf, on the event\'s own MX host only', () => {
    const next = evilA.leaf('mail.charlie.test', { sans: ['mail.charlie.test', 'mail.bravo.test'] });
    const before = snapshot();
    hook({
      context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'pre' },
      data: { domain: 'charlie.test', crt: readFileSync(next.cert, 'utf8'), cab: readFileSync(evilA.interCert, 'utf8') },
    });
    const after = snapshot();
    const ca = opensslTlsaData(evilA.interCert, 1, 1);
    expect(after['charlie.test']!.split('\n').filter((l) => l.includes(ca) && /TLSA\s+2\s+1\s+1/.test(l))).toHaveLength(3);
    expect(after['bravo.test']).toBe(before['bravo.test']);
  });

  it('an AutoSSL event whose user does not own the vhost publishes nothing', () => {
    const before = snapshot();
    const next = evilA.leaf('mail.bravo.test', { sans: ['mail.bravo.test', 'bravo.test'] });
    const out = hook({
      context: { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' },
      data: { username: 'charlie', domain_set_name: 'bravo.test', certificate_pem: readFileSync(next.cert, 'utf8'), cab_pem: readFileSync(evilA.interCert, 'utf8') },
    });
    expect(out).toMatch(/^1 .*does not own bravo\.test/);
    expect(snapshot()).toEqual(before);
  });

  it('a manual install for bravo.test whose certificate also names charlie\'s host publishes for bravo only', () => {
    const before = snapshot();
    const next = legit.leaf('mail.bravo.test', { sans: ['mail.bravo.test', 'mail.charlie.test'] });
    hook({
      context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'pre' },
      data: { domain: 'bravo.test', crt: readFileSync(next.cert, 'utf8'), cab: readFileSync(legit.interCert, 'utf8') },
    });
    const after = snapshot();
    expect(after['charlie.test']).toBe(before['charlie.test']);
    expect(after['bravo.test']!.split('\n').filter((l) => l.includes(opensslTlsaData(next.cert, 1, 1)))).toHaveLength(3);
  });
});
