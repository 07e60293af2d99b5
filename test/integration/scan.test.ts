import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanServer } from '../../src/cpanel/scan.js';
import { ServerRoot } from '../../src/util/server-root.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';

let pki: TestPki;
let root: string;
let certs: Record<string, { combined: string; cert: string }>;

beforeAll(() => {
  pki = makePki();
  certs = {
    apex: pki.leaf('apex.test', { sans: ['apex.test', 'mail.apex.test'] }),
    mail: pki.leaf('mail.own.test'),
    wild: pki.leaf('wild.test', { sans: ['*.wild.test'] }),
    service: pki.leaf('server.host.test'),
  };
  const combined = (k: string) => readFileSync(certs[k]!.combined, 'utf8');
  root = makeFakeRoot({
    domains: { 'apex.test': 'alice', 'own.test': 'bob', 'shared.test': 'carol', 'google.test': 'dave', 'wild.test': 'erin', 'broken.test': 'frank', 'nocert.test': 'gina' },
    local: ['apex.test', 'own.test', 'shared.test', 'wild.test', 'broken.test', 'nocert.test'],
    remote: ['google.test'],
    zones: {
      'apex.test': cpanelZone('apex.test', ['apex.test.\t14400\tIN\tA\t192.0.2.10', 'apex.test.\t14400\tIN\tMX\t0\tapex.test.', 'mail\t14400\tIN\tCNAME\tapex.test.']),
      // mail is reached through a relative CNAME ("relay", i.e. relay.own.test).
      'own.test': cpanelZone('own.test', ['own.test.\t14400\tIN\tMX\t10\tmail.own.test.', 'mail\t14400\tIN\tCNAME\trelay', 'relay\t14400\tIN\tA\t192.0.2.10']),
      'shared.test': cpanelZone('shared.test', ['shared.test. 14400 IN MX 10 server.host.test.']),
      'google.test': cpanelZone('google.test', ['google.test. 14400 IN MX 1 aspmx.l.google.com.']),
      'wild.test': cpanelZone('wild.test', ['wild.test. IN MX 5 mx.wild.test.', 'mx IN A 192.0.2.10']),
      'broken.test': 'broken.test. IN SOA ( oops\n',
      'nocert.test': cpanelZone('nocert.test', ['nocert.test. IN MX 10 mail.nocert.test.', 'mail.nocert.test. IN A 192.0.2.10']),
    },
    domainTls: { 'apex.test': combined('apex'), 'mail.apex.test': combined('apex'), 'mail.own.test': combined('mail'), '*.wild.test': combined('wild') },
    eximCrt: readFileSync(certs.service!.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
  });
});

describe('scanServer on a cPanel-shaped root', () => {
  it('finds MX hosts, whether they point here, and the certificate Exim presents to each (cPanel SNI rules)', async () => {
    const s = await scanServer(new ServerRoot(root));
    const byDomain = Object.fromEntries(s.domains.map((d) => [d.domain, d]));
    expect(byDomain['apex.test']!.mx).toMatchObject([{ host: 'apex.test', pointsHere: true }]);
    expect(byDomain['own.test']!.mx).toMatchObject([{ host: 'mail.own.test', pointsHere: true, addresses: ['192.0.2.10'], why: 'resolves to 192.0.2.10 (this server)' }]);
    expect(byDomain['shared.test']!.mx).toMatchObject([{ host: 'server.host.test', pointsHere: true, why: "the server's own hostname" }]);
    expect(byDomain['google.test']!.mail).toBe('remote');
    expect(byDomain['google.test']!.mx).toMatchObject([{ host: 'aspmx.l.google.com', pointsHere: false }]);
    expect(byDomain['broken.test']!.problems.map((p) => p.code)).toEqual(['zone-syntax']);

    const ep = Object.fromEntries(s.endpoints.map((e) => [e.host, e]));
    expect(Object.keys(ep).sort()).toEqual(['apex.test', 'mail.nocert.test', 'mail.own.test', 'mx.wild.test', 'server.host.test']);
    expect(ep['apex.test']!.served).toMatchObject({ rule: 'exact', source: '/var/cpanel/ssl/domain_tls/apex.test/combined' });
    expect(ep['mx.wild.test']!.served).toMatchObject({ rule: 'wildcard', source: '/var/cpanel/ssl/domain_tls/*.wild.test/combined' });
    expect(ep['mail.nocert.test']!.served).toMatchObject({ rule: 'service', source: '/etc/exim.crt' });
    expect(ep['server.host.test']!.domains).toEqual(['shared.test']);
    // /etc/exim.crt names the server's hostname (openssl says so): no "no certificate of its own" there,
    // only for a host it does not name.
    expect(execFileSync('openssl', ['x509', '-noout', '-subject', '-in', certs.service!.cert]).toString()).toMatch(/CN\s*=\s*server\.host\.test/);
    expect(ep['server.host.test']!.served).toMatchObject({ rule: 'service' });
    expect(ep['server.host.test']!.problems.map((p) => p.code)).not.toContain('service-cert');
    expect(ep['mail.nocert.test']!.problems.map((p) => p.code)).toContain('service-cert');
    // The certificate is the one openssl sees in the file Exim would read.
    expect(ep['mail.own.test']!.served!.chain[0]!.spkiSha256).toBe(opensslTlsaData(certs.mail!.cert, 1, 1));
    expect(ep['mx.wild.test']!.served!.chain[0]!.spkiSha256).toBe(opensslTlsaData(certs.wild!.cert, 1, 1));
    expect(ep['mail.nocert.test']!.served!.chain[0]!.spkiSha256).toBe(opensslTlsaData(certs.service!.cert, 1, 1));
  });

  it('reports hostile or broken input per domain and keeps going', async () => {
    const hostile = makeFakeRoot({
      domains: { 'ok.test': 'a', 'bad name.test': 'b', 'x.test': 'c' },
      files: { '/etc/userdomains': 'ok.test: a\nbad\nname.test: b\n../../etc.test: c\nx.test: c;rm\n' },
      zones: { 'ok.test': cpanelZone('ok.test', ['ok.test. IN MX 10 mail\\010evil.ok.test.', 'ok.test. IN MX 20 mail.ok.test.', 'mail IN A 192.0.2.10']) },
      local: ['ok.test'],
    });
    const s = await scanServer(new ServerRoot(hostile));
    // "bad" has no colon; "../../etc.test" is no name; "c;rm" is no user; "name.test: b" is fine.
    expect(s.domains.map((d) => d.domain)).toEqual(['ok.test', 'name.test']);
    expect(s.problems.map((p) => p.code).sort()).toEqual(['name-invalid', 'owner-invalid', 'userdomains-syntax']);
    expect(s.domains[0]!.problems.map((p) => p.code)).toEqual(['mx-invalid']);
    expect(s.domains[0]!.problems[0]!.message).not.toMatch(/\n/);
    expect(s.endpoints.map((e) => e.host)).toEqual(['mail.ok.test']);
    expect(s.endpoints[0]!.problems.map((p) => p.code)).toContain('cert-unreadable');
  });

  it('a domain whose scan throws is its own scan-failed problem; the other domains are scanned (issue 21)', async () => {
    const root = makeFakeRoot({
      domains: { 'ok.test': 'a', 'away.test': 'b' },
      zones: { 'ok.test': cpanelZone('ok.test', ['ok.test. IN MX 10 mail.ok.test.', 'mail IN A 192.0.2.10']) },
      local: ['ok.test'],
    });
    // An external resolver that fails outright (not a rejected promise) for the zone not hosted here.
    const externalDns = { mx: (): never => { throw new Error('resolver exploded'); }, addresses: async () => null };
    const s = await scanServer(new ServerRoot(root), { externalDns });
    expect(s.domains.map((d) => [d.domain, d.problems.map((p) => p.code)]).sort()).toEqual([['away.test', ['scan-failed']], ['ok.test', []]]);
    expect(s.domains.find((d) => d.domain === 'away.test')!.problems[0]!.message).toBe('Scanning away.test failed: resolver exploded');
    expect(s.domains.find((d) => d.domain === 'ok.test')!.mx.map((m) => m.host)).toEqual(['mail.ok.test']);
  });

  it('a certificate path that is a symlink loop is a problem of that host only', async () => {
    const loop = makeFakeRoot({
      domains: { 'loop.test': 'a', 'fine.test': 'b' },
      local: ['loop.test', 'fine.test'],
      zones: {
        'loop.test': cpanelZone('loop.test', ['loop.test. IN MX 10 mail.loop.test.', 'mail IN A 192.0.2.10']),
        'fine.test': cpanelZone('fine.test', ['fine.test. IN MX 10 mail.fine.test.', 'mail IN A 192.0.2.10']),
      },
      domainTls: { 'mail.fine.test': readFileSync(certs.mail!.combined, 'utf8') },
    });
    mkdirSync(join(loop, 'var/cpanel/ssl/domain_tls/mail.loop.test'), { recursive: true });
    symlinkSync('combined', join(loop, 'var/cpanel/ssl/domain_tls/mail.loop.test/combined'));
    const s = await scanServer(new ServerRoot(loop));
    const ep = Object.fromEntries(s.endpoints.map((e) => [e.host, e]));
    expect(ep['mail.loop.test']!.served).toBeNull();
    expect(ep['mail.loop.test']!.problems[0]!.message).toBe('/var/cpanel/ssl/domain_tls/mail.loop.test/combined is a symbolic link loop, so Exim has no certificate to present here.');
    expect(ep['mail.fine.test']!.served?.rule).toBe('exact');
  });
});
