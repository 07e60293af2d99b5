import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { scanServer } from '../../src/cpanel/scan.js';
import { ServerRoot } from '../../src/util/server-root.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

/**
 * Issue 9 item 4, from zone files: mail routing follows DNS like an MTA. A mail domain whose own
 * name is a CNAME gets its MX through the CNAME (RFC 5321 §5.1); an MX target that is a CNAME
 * keeps its records at the name the MX record gives (a sender looks at the expanded name first,
 * RFC 7672 §2.2.2, and finds none there, so it uses these). The zone after apply is read back by
 * BIND's named-compilezone.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
let root: string;
let mailCert: string;
let relayCert: string;

function tlsaOwners(zone: string): string[] {
  const text = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', zone, join(root, `var/named/${zone}.db`)], { encoding: 'utf8' });
  return [...new Set(text.split('\n').filter((l) => /\sIN\s+TLSA\s/.test(l)).map((l) => l.split(/\s+/)[0]!.replace(/\.$/, '')))].sort();
}

beforeAll(() => {
  const pki = makePki();
  const mail = pki.leaf('mail.example.test');
  const relay = pki.leaf('mx.target.test', { sans: ['mx.target.test', 'relay.target.test'] });
  mailCert = mail.cert;
  relayCert = relay.cert;
  root = makeFakeRoot({
    // www.example.test is a domain of its own in cPanel (a subdomain), but only a CNAME in DNS.
    domains: { 'example.test': 'ann', 'www.example.test': 'ann', 'target.test': 'ben' },
    local: ['example.test', 'target.test'],
    zones: {
      // The apex points here too (as on most cPanel servers): taken as an implicit MX, www would look served here.
      'example.test': cpanelZone('example.test', ['example.test. IN A 192.0.2.10', 'example.test. IN MX 10 mail.example.test.', 'mail IN A 192.0.2.10', 'www IN CNAME example.test.']),
      'target.test': cpanelZone('target.test', ['target.test. IN MX 10 mx.target.test.', 'mx IN CNAME relay', 'relay IN A 192.0.2.10']),
    },
    domainTls: { 'mail.example.test': readFileSync(mail.combined, 'utf8'), 'mx.target.test': readFileSync(relay.combined, 'utf8') },
    eximCrt: readFileSync(pki.leaf('server.host.test').cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { records: ['3 1 1'] }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
});

describe('mail routing through CNAMEs, from zone files', () => {
  it('a mail domain that is a CNAME: MX host of the alias target, mail local, no host of its own', async () => {
    const s = await scanServer(new ServerRoot(root));
    const www = s.domains.find((d) => d.domain === 'www.example.test')!;
    expect(www).toMatchObject({ cname: 'example.test', mail: 'local', mx: [{ host: 'mail.example.test', preference: 10, pointsHere: true }] });
    expect(www.mx.some((m) => m.implicit)).toBe(false);
    expect(s.endpoints.find((e) => e.host === 'mail.example.test')!.domains.sort()).toEqual(['example.test', 'www.example.test']);
    expect(s.endpoints.map((e) => e.host)).not.toContain('www.example.test');
  });

  it('plans exactly the records an MTA needs: none at _25._tcp.www, the MX target keeps its own name', () => {
    const plan = JSON.parse(execFileSync(process.execPath, [CLI, 'plan', '--json', '--root', root], { encoding: 'utf8' }));
    const owners = plan.zones.flatMap((z: { changes: { record: { owner: string } }[] }) => z.changes.map((c) => c.record.owner)).sort();
    expect(owners).toEqual(['mail.example.test', 'mx.target.test'].flatMap((h) => [25, 465, 587].map((p) => `_${p}._tcp.${h}`)).sort());

    execFileSync(process.execPath, [CLI, 'apply', '--yes', '--root', root], { encoding: 'utf8' });
    expect(tlsaOwners('example.test')).toEqual([25, 465, 587].map((p) => `_${p}._tcp.mail.example.test`).sort());
    expect(tlsaOwners('target.test')).toEqual([25, 465, 587].map((p) => `_${p}._tcp.mx.target.test`).sort());
    const zoneText = readFileSync(join(root, 'var/named/example.test.db'), 'utf8');
    expect(zoneText).toContain(opensslTlsaData(mailCert, 1, 1));
    expect(readFileSync(join(root, 'var/named/target.test.db'), 'utf8')).toContain(opensslTlsaData(relayCert, 1, 1));
  });
});
