import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { startIpv6Exim, type Ipv6Exim } from '../lab/ipv6.js';
import { checkDomains } from '../../src/dane/check.js';
import type { DomainCheck } from '../../src/dane/verdict.js';
import { testContext } from '../helpers/context.js';

/**
 * Issue 9 item 5: every address of every MX host is probed, A and AAAA. The MX host has an IPv4
 * address (the lab's Exim) and an IPv6 address (a second Exim in a network namespace, ULA address);
 * each presents its own certificate, so only a check that really probes IPv6 can see the
 * difference. posttls-finger, made to try IPv6 (or IPv4) first, is the judge per family.
 */
const lab = useLab({ defaultZones: false, zones: [{ name: 'six', signed: true, ds: true }] });
let v6: Ipv6Exim;
beforeAll(async () => {
  v6 = await startIpv6Exim(lab());
});
afterAll(async () => {
  await v6?.stop();
});

async function check(domain: string): Promise<DomainCheck> {
  const l = lab();
  const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent });
  const [r] = await checkDomains(ctx, [domain], { ports: [25], timeoutMs: 10_000 });
  return r!;
}

describe('every address of the MX host is probed, IPv6 too', () => {
  it('an IPv6 address presenting another certificate is found out, as posttls-finger sees it over IPv6; both pass once both keys are published', async () => {
    const l = lab();
    const zone = `six.${l.parent}`;
    const host = `mail.${zone}`;
    const v4cert = await l.issueCert({ names: [host] });
    const v6cert = await l.issueCert({ names: [host] });
    l.installCert(host, v4cert.combinedPem);
    v6.installCert(host, v6cert.combinedPem);
    const aaaa = `${host}. 30 IN AAAA ${v6.address}`;
    const tlsa = (spki: string) => `_25._tcp.${host}. 30 IN TLSA 3 1 1 ${spki}`;

    await l.setRecords(zone, [aaaa, tlsa(v4cert.spkiSha256)]);
    await l.flushResolver();
    const one = await check(zone);
    expect(one.mx[0]!.addresses.sort()).toEqual([l.exim, v6.address].sort());
    const byAddress = (r: DomainCheck) => Object.fromEntries(r.mx[0]!.ports.map((p) => [p.address, { verdict: p.verdict, key: p.presentedSpkiSha256 }]));
    expect(byAddress(one)).toEqual({
      [l.exim]: { verdict: 'valid', key: v4cert.spkiSha256 },
      [v6.address]: { verdict: 'tlsa-mismatch', key: v6cert.spkiSha256 },
    });
    expect(one.verdict).toBe('tlsa-mismatch');
    const pf6 = await v6.posttlsFinger(zone, { family: 'ipv6' });
    expect(pf6.output).toContain(`[${v6.address}]:25`);
    expect(pf6.verified, pf6.output).toBe(false);
    const pf4 = await v6.posttlsFinger(zone, { family: 'ipv4' });
    expect(pf4.output).toContain(`[${l.exim}]:25`);
    expect(pf4.verified, pf4.output).toBe(true);

    await l.setRecords(zone, [aaaa, tlsa(v4cert.spkiSha256), tlsa(v6cert.spkiSha256)]);
    await l.flushResolver();
    const both = await check(zone);
    expect(Object.values(byAddress(both)).map((p) => p.verdict)).toEqual(['valid', 'valid']);
    expect(both.verdict).toBe('valid');
    const again = await v6.posttlsFinger(zone, { family: 'ipv6' });
    expect(again.output).toContain(`[${v6.address}]:25`);
    expect(again.verified, again.output).toBe(true);
  });
});
