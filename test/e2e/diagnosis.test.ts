import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import type { Lab } from '../lab/lab.js';
import { checkDomains } from '../../src/dane/check.js';
import { authenticates, type DomainCheck, type Verdict } from '../../src/dane/verdict.js';
import { testContext } from '../helpers/context.js';

/**
 * Issue 9 item 5: `check` names the real cause behind a DANE result, with its fix, and its verdict
 * agrees with posttls-finger (Verified or not) in every case. Item 4 (resolver side): a mail
 * domain whose own name is a CNAME gets its MX through the CNAME, like an MTA.
 */
const ZONES = ['names', 'leafonly', 'selfsigned', 'expiredta', 'alias', 'mxalias'];
const lab = useLab({ defaultZones: false, zones: ZONES.map((name) => ({ name, signed: true, ds: true })) });
const exec = promisify(execFile);

async function ours(l: Lab, domain: string): Promise<DomainCheck> {
  const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent });
  const [r] = await checkDomains(ctx, [domain], { ports: [25], timeoutMs: 10_000 });
  return r!;
}

/** Our verdict and posttls-finger's agree; returns our result. */
async function judge(l: Lab, domain: string, expected: Verdict): Promise<DomainCheck> {
  const r = await ours(l, domain);
  const pf = await l.posttlsFinger(domain, { port: 25 });
  expect({ verdict: r.verdict, verified: authenticates(r.verdict) }, `posttls-finger said:\n${pf.output}\nwe said: ${JSON.stringify(r.problems)}`).toEqual({ verdict: expected, verified: pf.verified });
  return r;
}

async function publish(l: Lab, zone: string, lines: string[]) {
  await l.setRecords(zone, lines);
  await l.flushResolver();
}

const tlsa = (host: string, rds: string[]) => rds.map((rd) => `_25._tcp.${host}. 30 IN TLSA ${rd}`);
const codes = (r: DomainCheck) => (r.problems ?? []).map((p) => `${p.code}:${p.severity}`);

describe('check names the cause, and agrees with posttls-finger', () => {
  it("2 1 1 matches the chain but the certificate does not name the MX host: cause dane-ta-name-mismatch; with 3 1 1 it still validates (DANE-EE ignores names)", async () => {
    const l = lab();
    const zone = `names.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [`www.${zone}`], issuer: 'R1' });
    l.installCert(host, cert.combinedPem);

    await publish(l, zone, tlsa(host, [`2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const failing = await judge(l, zone, 'tlsa-mismatch');
    expect(codes(failing)).toEqual(['dane-ta-name-mismatch:error']);
    const cause = failing.problems![0]!;
    expect(cause.message).toContain(`www.${zone}`);
    expect(cause.message).toContain(`do not cover ${host}`);
    expect(cause.message).toMatch(/"3 1 1" \(DANE-EE\) does not depend on names/);
    expect(failing.fix).toBe(cause.fix);
    expect(failing.mx[0]!.ports[0]!.message).toBe(cause.message);

    await publish(l, zone, tlsa(host, [`3 1 1 ${cert.spkiSha256}`, `2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const passing = await judge(l, zone, 'valid');
    expect(codes(passing)).toEqual(['dane-ta-name-mismatch:warning']);
  });

  it('2 1 1 published but the server sends only its leaf: cause dane-ta-leaf-only', async () => {
    const l = lab();
    const zone = `leafonly.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host], issuer: 'R1' });
    l.installCert(host, cert.keyPem + cert.certPem);
    await publish(l, zone, tlsa(host, [`2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const r = await judge(l, zone, 'tlsa-mismatch');
    expect(codes(r)).toEqual(['dane-ta-leaf-only:error']);
    expect(r.problems![0]!.message).toMatch(/sends only its own certificate, no intermediate/);
    expect(r.problems![0]!.fix).toMatch(/CA bundle/);
  });

  it("a self-signed certificate (cPanel's placeholder): 3 1 1 still validates with a warning, 2 1 1 alone fails with the cause named", async () => {
    const l = lab();
    const zone = `selfsigned.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueSelfSigned({ names: [host] });
    l.installCert(host, cert.combinedPem);

    await publish(l, zone, tlsa(host, [`3 1 1 ${cert.spkiSha256}`, `2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const passing = await judge(l, zone, 'valid');
    expect(codes(passing)).toEqual(['certificate-self-signed:warning']);
    expect(passing.problems![0]!.message).toMatch(/self-signed certificate \(subject = issuer, no chain\).*"3 1 1" record for its key still authenticates/);

    await publish(l, zone, tlsa(host, [`2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const failing = await judge(l, zone, 'tlsa-mismatch');
    expect(codes(failing)).toEqual(['certificate-self-signed:error']);
    expect(failing.fix).toMatch(/AutoSSL/);
  });

  it('2 1 1 whose leaf has expired: cause dane-ta-leaf-expired (DANE-TA checks validity, DANE-EE does not)', async () => {
    const l = lab();
    const zone = `expiredta.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host], issuer: 'R1', notAfterDays: -2 });
    l.installCert(host, cert.combinedPem);
    await publish(l, zone, tlsa(host, [`2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const r = await judge(l, zone, 'tlsa-mismatch');
    expect(codes(r)).toEqual(['dane-ta-leaf-expired:error']);
    expect(r.problems![0]!.message).toMatch(/DANE-TA checks validity, "3 1 1" \(DANE-EE\) does not/);

    // The same certificate with a 3 1 1 beside it authenticates (verdict expired: DANE-EE senders deliver), the 2 1 1 is still named.
    await publish(l, zone, tlsa(host, [`3 1 1 ${cert.spkiSha256}`, `2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]));
    const ee = await judge(l, zone, 'expired');
    expect(codes(ee)).toEqual(['dane-ta-leaf-expired:warning']);
  });

  it('the CLI carries the cause and its fix in text and JSON', async () => {
    const l = lab();
    const zone = `leafonly.${l.parent}`;
    const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent, policy: { ports: [25] } });
    const cli = join(process.cwd(), 'dist/cli.js');
    const run = (extra: string[]) => exec('node', [cli, '--root', ctx.root.root, ...extra, 'check', zone]).then(() => ({ code: 0, stdout: '' }), (e: { code: number; stdout: string }) => e);
    const text = await run([]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/error dane-ta-leaf-only: .*sends only its own certificate/);
    expect(text.stdout).toMatch(/fix: Install the certificate for mail\.leafonly\.\S+ together with its CA bundle/);
    expect(text.stdout).toMatch(/TLSA _25\._tcp\.mail\.leafonly\.\S+: 1 record\(s\), signed answer \d+ bytes, fits 1232 \(UDP\)/);
    const json = await run(['--json']);
    const [r] = JSON.parse(json.stdout) as DomainCheck[];
    expect(r!.problems).toEqual([expect.objectContaining({ code: 'dane-ta-leaf-only', severity: 'error', subject: `mail.${zone}` })]);
    expect(r!.mx[0]!.ports[0]!.problems![0]!.code).toBe('dane-ta-leaf-only');
  });
});

describe('mail routing follows DNS like an MTA (resolver side)', () => {
  it('a mail domain whose own name is a CNAME gets its MX through the CNAME (RFC 5321 §5.1)', async () => {
    const l = lab();
    const zone = `alias.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host] });
    l.installCert(host, cert.combinedPem);
    // www.<zone> CNAME <zone>; <zone> MX 10 mail.<zone> (the lab's default MX).
    await publish(l, zone, [`www.${zone}. 30 IN CNAME ${zone}.`, ...tlsa(host, [`3 1 1 ${cert.spkiSha256}`])]);
    const r = await judge(l, `www.${zone}`, 'valid');
    expect(r.mx.map((m) => ({ host: m.host, owner: m.tlsaOwner }))).toEqual([{ host, owner: `_25._tcp.${host}` }]);
  });

  it('an MX target that is a CNAME: TLSA at the expanded name first, else at the original name (RFC 7672 §2.2.2)', async () => {
    const l = lab();
    const zone = `mxalias.${l.parent}`;
    const alias = `mx.${zone}`;
    const target = `relay.${zone}`;
    const mail = `mail.${zone}`; // the lab's own MX 10, kept valid so only the alias is judged
    const cert = await l.issueCert({ names: [target, alias, mail] });
    for (const n of [target, alias, mail]) l.installCert(n, cert.combinedPem);
    const routing = [`${zone}. 30 IN MX 5 ${alias}.`, `${alias}. 30 IN CNAME ${target}.`, `${target}. 30 IN A ${l.exim}`, ...tlsa(mail, [`3 1 1 ${cert.spkiSha256}`])];

    // Records only at the original name: the expanded name has none, so the original is used.
    await publish(l, zone, [...routing, ...tlsa(alias, [`3 1 1 ${cert.spkiSha256}`])]);
    const original = await judge(l, zone, 'valid');
    const viaAlias = original.mx.find((m) => m.host === alias)!;
    expect({ expanded: viaAlias.expandedHost, owner: viaAlias.tlsaOwner }).toEqual({ expanded: target, owner: `_25._tcp.${alias}` });

    // Records at both: the expanded name wins; a wrong record at the original name does not matter.
    await publish(l, zone, [...routing, ...tlsa(target, [`3 1 1 ${cert.spkiSha256}`]), ...tlsa(alias, [`3 1 1 ${'00'.repeat(32)}`])]);
    const expanded = await judge(l, zone, 'valid');
    expect(expanded.mx.find((m) => m.host === alias)!.tlsaOwner).toBe(`_25._tcp.${target}`);
  });
});
