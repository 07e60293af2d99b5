import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommand } from '../../src/cli/check-command.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';
import { startFakeDns, zoneHandler, type FakeDnsServer } from '../fakes/dns-server.js';
import { startFakeSmtp, type FakeSmtpServer } from '../fakes/smtp-server.js';
import { pickAddresses, type LabAddresses } from '../lab/addresses.js';

/**
 * `check --nagios --mta-sts` (issue 27 §6) against live stand-ins on the test's own loopback
 * block: a DNS server with the _mta-sts records, an HTTPS server on port 443 serving both
 * policies with a certificate of a test CA (mtaSts.caFile), and an SMTP server whose certificate
 * is for mx.b.test only. a.test's enforce policy lists mx.a.test, whose certificate does not name
 * it (openssl agrees), so a.test is broken for MTA-STS senders; b.test's testing policy is not.
 * Without the flag the line is the DANE line alone.
 */
let addrs: LabAddresses;
let dns: FakeDnsServer;
let smtp: FakeSmtpServer;
let web: https.Server;
let root: string;
let pki: ReturnType<typeof makePki>;
let mxCert: { key: string; cert: string };

const POLICIES: Record<string, string> = {
  'mta-sts.a.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.a.test\r\nmax_age: 86400\r\n',
  'mta-sts.b.test': 'version: STSv1\r\nmode: testing\r\nmx: mx.b.test\r\nmax_age: 86400\r\n',
};

beforeAll(async () => {
  addrs = await pickAddresses();
  const base = addrs.resolver.replace(/\.2$/, '');
  pki = makePki();
  const chain = (c: { cert: string }) => readFileSync(c.cert, 'utf8') + readFileSync(pki.interCert, 'utf8');
  const webCert = pki.leaf('mta-sts.a.test', { sans: ['mta-sts.a.test', 'mta-sts.b.test'] });
  mxCert = pki.leaf('mx.b.test');
  web = https.createServer({ key: readFileSync(webCert.key), cert: chain(webCert) }, (req, res) => {
    const body = req.url === '/.well-known/mta-sts.txt' ? POLICIES[String(req.headers.host).replace(/:\d+$/, '')] : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => web.listen(443, `${base}.4`, resolve));
  smtp = await startFakeSmtp({ key: readFileSync(mxCert.key, 'utf8'), cert: chain(mxCert) });
  dns = await startFakeDns(
    zoneHandler([
      // The resolver self-test asks for the root SOA with AD (zoneHandler sets AD on every answer).
      { name: '.', type: 'SOA', data: { mname: 'ns.test', rname: 'hostmaster.test', serial: 1 } },
      { name: 'a.test', type: 'MX', data: { preference: 10, exchange: 'mx.a.test' } },
      { name: 'mx.a.test', type: 'A', data: `${base}.10` },
      { name: '_mta-sts.a.test', type: 'TXT', data: ['v=STSv1; id=a1;'] },
      { name: 'mta-sts.a.test', type: 'A', data: `${base}.4` },
      { name: 'b.test', type: 'MX', data: { preference: 10, exchange: 'mx.b.test' } },
      { name: 'mx.b.test', type: 'A', data: `${base}.11` },
      { name: '_mta-sts.b.test', type: 'TXT', data: ['v=STSv1; id=b1;'] },
      { name: 'mta-sts.b.test', type: 'A', data: `${base}.4` },
      { name: 'c.test', type: 'MX', data: { preference: 10, exchange: 'mx.b.test' } },
    ]),
  );
  const endpoint = `127.0.0.1:${smtp.port}`;
  root = makeFakeRoot({
    domains: { 'a.test': 'a', 'b.test': 'b', 'c.test': 'c' },
    local: ['a.test', 'b.test', 'c.test'],
    zones: { 'a.test': cpanelZone('a.test', []), 'b.test': cpanelZone('b.test', []), 'c.test': cpanelZone('c.test', []) },
    files: {
      '/etc/tlsa-manager/config.json': JSON.stringify({
        resolver: `${dns.host}:${dns.port}`,
        cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false },
        mtaSts: { publish: ['a.test', 'b.test'], caFile: pki.rootCert },
        checks: { smtpEndpoints: { [`${base}.10:25`]: endpoint, [`${base}.11:25`]: endpoint } },
      }),
    },
  });
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => web?.close(resolve));
  await smtp?.close();
  await dns?.close();
  if (addrs) rmSync(addrs.lockPath, { force: true });
});

const run = async (flags: Record<string, unknown>, args = ['a.test', 'b.test', 'c.test']) => checkCommand.run({ ctx: null, values: { nagios: true, root, ...flags }, args, stdin: () => '' });

describe('check --nagios --mta-sts', () => {
  it('the judge: the MX certificate is valid for mx.b.test and not for mx.a.test (openssl verify)', () => {
    const verify = (name: string) => {
      try {
        execFileSync('openssl', ['verify', '-CAfile', pki.rootCert, '-untrusted', pki.interCert, '-verify_hostname', name, mxCert.cert], { stdio: 'pipe' });
        return true;
      } catch {
        return false;
      }
    };
    expect(verify('mx.b.test')).toBe(true);
    expect(verify('mx.a.test')).toBe(false);
  });

  it('counts a.test broken for MTA-STS, names it, and adds sts_broken= out of the 2 MTA-STS domains; without the flag the DANE line alone', async () => {
    const plain = await run({});
    expect(plain.output).not.toContain('sts_broken');
    expect(plain.output).not.toContain('MTA-STS');
    const plainPerf = plain.output!.split(' | ')[1]!;

    const withSts = await run({ 'mta-sts': true });
    const [head, perf] = withSts.output!.split(' | ');
    expect(perf).toBe(`${plainPerf} sts_broken=1;1;1;0;2`);
    expect(head).toMatch(/^TLSA_MANAGER CRITICAL - \d of 3 domain\(s\) broken \(.*a\.test: MTA-STS broken.*\)$/);
    expect(head).not.toContain('b.test: MTA-STS');
    expect(withSts.exitCode).toBe(2);

    // Only c.test (no MTA-STS): nothing of MTA-STS is checked, sts_broken=0 out of 0.
    const c = await run({ 'mta-sts': true }, ['c.test']);
    expect(c.output).toMatch(/ sts_broken=0;1;1;0;0$/);
  }, 60_000);

  it('--mta-sts without --nagios is a usage error', async () => {
    await expect(checkCommand.run({ ctx: null, values: { root, 'mta-sts': true }, args: ['a.test'], stdin: () => '' })).rejects.toThrow('--mta-sts adds MTA-STS to the Nagios line: it goes with --nagios');
  });
});
