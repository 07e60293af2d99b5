import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { checkDomains } from '../../src/dane/check.js';
import { authenticates, type Verdict } from '../../src/dane/verdict.js';
import { testContext } from '../helpers/context.js';
import type { Lab } from '../lab/lab.js';

/**
 * Issue 4's judge: for every scenario our verdict and Postfix's posttls-finger must agree on
 * "a DANE sender authenticates" (Verified) vs not; and our verdict must be the specific one.
 */
const SCENARIOS = ['match', 'keychange', 'ta', 'expired', 'notlsa', 'pkix', 'oneport', 'cname'];
const lab = useLab({ zones: [...SCENARIOS.map((name) => ({ name, signed: true, ds: true })), { name: 'plain', signed: false, ds: false }] });

const zoneName = (l: Lab, s: string) => `${s}.${l.parent}`;

async function judge(l: Lab, domain: string, port: 25 | 465 | 587, expected: Verdict) {
  const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent });
  const [ours] = await checkDomains(ctx, [domain], { ports: [port], timeoutMs: 10_000 });
  const portVerdicts = ours!.mx.flatMap((m) => m.ports.map((p) => p.verdict));
  const verdict = portVerdicts.length > 0 ? portVerdicts.reduce((a, b) => (a === 'valid' ? b : a)) : ours!.verdict;
  const pf = await l.posttlsFinger(domain, { port });
  expect({ verdict, verified: authenticates(verdict) }, `posttls-finger said:\n${pf.output}`).toEqual({ verdict: expected, verified: pf.verified });
  return { ours: ours!, pf };
}

async function publish(l: Lab, zone: string, host: string, lines: string[]) {
  await l.setRecords(zone, lines.map((rd) => `_25._tcp.${host}. 30 IN TLSA ${rd}`).concat(lines.map((rd) => `_465._tcp.${host}. 30 IN TLSA ${rd}`)));
  await l.flushResolver();
}

/** A scenario's zone with a fresh certificate installed for its MX host and TLSA made from it. */
async function served(scenario: string, records: (spki: string) => string[], opts: { notAfterDays?: number } = {}) {
  const l = lab();
  const zone = zoneName(l, scenario);
  const host = `mail.${zone}`;
  const cert = await l.issueCert({ names: [host], ...opts });
  await l.installCert(host, cert.combinedPem);
  await publish(l, zone, host, records(cert.spkiSha256));
  return { l, zone, host, cert };
}

describe('our DANE verdict agrees with posttls-finger', () => {
  it('3 1 1 match: valid / Verified', async () => {
    const { l, zone, cert } = await served('match', (spki) => [`3 1 1 ${spki}`]);
    const { ours } = await judge(l, zone, 25, 'valid');
    expect(ours.mx[0]!.ports[0]!.matched).toMatchObject({ depth: 0, record: { usage: 3, data: cert.spkiSha256 } });
  });

  it('3 1 1 mismatch after a key change: tlsa-mismatch / Untrusted', async () => {
    const l = lab();
    const zone = zoneName(l, 'keychange');
    const host = `mail.${zone}`;
    const old = await l.issueCert({ names: [host] });
    await publish(l, zone, host, [`3 1 1 ${old.spkiSha256}`]);
    const renewed = await l.issueCert({ names: [host] });
    await l.installCert(host, renewed.combinedPem);
    await judge(l, zone, 25, 'tlsa-mismatch');
  });

  it('2 1 1 matches a new leaf key from the same intermediate: valid / Verified', async () => {
    const l = lab();
    const zone = zoneName(l, 'ta');
    const host = `mail.${zone}`;
    const old = await l.issueCert({ names: [host], issuer: 'R1' });
    await publish(l, zone, host, [`3 1 1 ${old.spkiSha256}`, `2 1 1 ${l.ca.intermediates.R1.spkiSha256}`]);
    const renewed = await l.issueCert({ names: [host], issuer: 'R1' });
    await l.installCert(host, renewed.combinedPem);
    const { ours } = await judge(l, zone, 25, 'valid');
    expect(ours.mx[0]!.ports[0]!.matched).toMatchObject({ depth: 1, record: { usage: 2 } });
  });

  it('an expired certificate with 3 1 1 still authenticates (DANE-EE ignores expiry): its own verdict, expired', async () => {
    const { l, zone } = await served('expired', (spki) => [`3 1 1 ${spki}`], { notAfterDays: -2 });
    await judge(l, zone, 25, 'expired');
  });

  it('no TLSA records: no-tlsa / not Verified', async () => {
    const l = lab();
    const zone = zoneName(l, 'notlsa');
    await l.installCert(`mail.${zone}`, (await l.issueCert({ names: [`mail.${zone}`] })).combinedPem);
    await judge(l, zone, 25, 'no-tlsa');
  });

  it('unsigned zone: no-dnssec / not Verified', async () => {
    const { l, zone } = await served('plain', (spki) => [`3 1 1 ${spki}`]);
    const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent });
    const [ours] = await checkDomains(ctx, [zone], { ports: [25] });
    const pf = await l.posttlsFinger(zone, { port: 25 });
    expect(ours!.verdict).toBe('no-dnssec');
    expect(pf.verified).toBe(false);
  });

  it('signed zone without DS at the parent: no-ds, told apart from unsigned; not Verified', async () => {
    const l = lab();
    const zone = `nods.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host] });
    await l.installCert(host, cert.combinedPem);
    await publish(l, zone, host, [`3 1 1 ${cert.spkiSha256}`]);
    const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent });
    const [ours] = await checkDomains(ctx, [zone], { ports: [25] });
    expect(ours).toMatchObject({ verdict: 'no-ds', dnssec: { signed: true, ds: false } });
    expect((await l.posttlsFinger(zone, { port: 25 })).verified).toBe(false);
  });

  it('a resolver that does not validate is named as such, and nothing is judged', async () => {
    const l = lab();
    // The authoritative server answers, but never with AD: results would be meaningless.
    const ctx = testContext({ resolver: l.authoritative, resolverProbeName: l.parent });
    const [ours] = await checkDomains(ctx, [`match.${l.parent}`], { ports: [25] });
    expect(ours!.verdict).toBe('resolver-not-validating');
    expect(ours!.message).toMatch(/does not validate DNSSEC.*results would be meaningless/);
  });

  it('usage-1-only records: tlsa-unusable / not Verified', async () => {
    const { l, zone } = await served('pkix', (spki) => [`1 1 1 ${spki}`]);
    await judge(l, zone, 25, 'tlsa-unusable');
  });

  it('one port presents another certificate: 25 valid, 465 tlsa-mismatch, as posttls-finger sees it', async () => {
    const l = lab();
    const zone = zoneName(l, 'oneport');
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host] });
    await l.installCert(host, cert.combinedPem);
    await l.installCert(host, (await l.issueCert({ names: [host] })).combinedPem, { port: 465 });
    await publish(l, zone, host, [`3 1 1 ${cert.spkiSha256}`]);
    await judge(l, zone, 25, 'valid');
    await judge(l, zone, 465, 'tlsa-mismatch');
  });

  it('MX via CNAME: TLSA at the expanded name is used, with SNI = the expanded name', async () => {
    const l = lab();
    const zone = zoneName(l, 'cname');
    const target = `mail.${zone}`;
    const cert = await l.issueCert({ names: [target] });
    await l.installCert(target, cert.combinedPem);
    await l.setRecords(zone, [`${zone}. 30 IN MX 5 mx.${zone}.`, `mx.${zone}. 30 IN CNAME ${target}.`, `_25._tcp.${target}. 30 IN TLSA 3 1 1 ${cert.spkiSha256}`]);
    await l.flushResolver();
    const { ours } = await judge(l, zone, 25, 'valid');
    const viaCname = ours.mx.find((m) => m.host === `mx.${zone}`)!;
    expect(viaCname.expandedHost).toBe(target);
    expect(viaCname.tlsaOwner).toBe(`_25._tcp.${target}`);
  });
});
