import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { digSized } from '../lab/dns.js';
import type { Lab } from '../lab/lab.js';
import { checkDomains } from '../../src/dane/check.js';
import { KNOWN_ISSUERS } from '../../src/tlsa/known-issuers.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { labServer } from '../helpers/lab-server.js';
import { testContext } from '../helpers/context.js';

/**
 * Issue 9 item 3: a signed TLSA answer at the default budget (10 records per owner) fits the
 * 1232-byte EDNS buffer with RSA-2048 and with ECDSA P-256 zone keys, measured with the real
 * `dig +dnssec +bufsize=1232` (no TC) against the lab's BIND and its validating resolver; `check`
 * reports the same size, and names an answer that does not fit (18 records, RSA) as a warning
 * without changing the verdict (posttls-finger falls back to TCP and still verifies).
 */
const PORTS = [25, 465, 587] as const;
const lab = useLab({
  defaultZones: false,
  zones: [
    { name: 'rsa', signed: true, ds: true, keyAlgorithm: 'rsasha256' },
    { name: 'ecdsa', signed: true, ds: true },
    { name: 'rsabig', signed: true, ds: true, keyAlgorithm: 'rsasha256' },
    { name: 'rsa12', signed: true, ds: true, keyAlgorithm: 'rsasha256' },
    { name: 'planrsa', signed: true, ds: true, keyAlgorithm: 'rsasha256' },
    { name: 'planecdsa', signed: true, ds: true },
  ],
});

/** A Let's Encrypt-shaped chain: RSA leaf from an RSA intermediate `C=US, O=Let's Encrypt, CN=R12`. */
async function letsEncryptLeaf(l: Lab, host: string) {
  const r12 = await l.addIntermediate({ name: `R12-${host.split('.')[1]}`, subject: "/C=US/O=Let's Encrypt/CN=R12", keyType: 'rsa' });
  const cert = await l.issueCert({ names: [host], issuer: r12.name, keyType: 'rsa' });
  const next = await l.issueCert({ names: [host], issuer: r12.name, keyType: 'rsa' });
  return { r12, cert, next };
}

/**
 * What the default budget holds during a renewal: served `3 1 1`, the pre-published next `3 1 1`,
 * the served issuer's `2 1 1`, and the other RSA Let's Encrypt intermediates (R10–R14, YR1–YR3).
 */
function budgetRecords(served: string, next: string, issuer: string): string[] {
  const siblings = KNOWN_ISSUERS.filter((k) => k.ca === 'letsencrypt' && k.keyAlgorithm === 'rsa' && k.name !== 'R12').map((k) => k.spkiSha256);
  const records = [`3 1 1 ${served}`, `3 1 1 ${next}`, `2 1 1 ${issuer}`, ...siblings.map((s) => `2 1 1 ${s}`)];
  return records.slice(0, 10);
}

async function publish(l: Lab, zone: string, host: string, records: string[], ports: readonly number[] = PORTS) {
  await l.setRecords(zone, ports.flatMap((p) => records.map((rd) => `_${p}._tcp.${host}. 60 IN TLSA ${rd}`)));
  await l.flushResolver();
}

/** A root that hosts `zone` (its file under /var/named) and names the lab's BIND as this server's DNS. */
async function check(l: Lab, zone: string, ports: readonly number[] = PORTS) {
  const root = mkdtempSync(join(tmpdir(), 'tlsa-root-'));
  mkdirSync(join(root, 'var/named'), { recursive: true });
  copyFileSync(l.zoneFile(zone), join(root, `var/named/${zone}.db`));
  const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent, cpanel: { authoritative: l.authoritative } }, root);
  const [r] = await checkDomains(ctx, [zone], { timeoutMs: 10_000, ports: [...ports] });
  return r!;
}

describe('signed TLSA answers at the default budget fit 1232 bytes', () => {
  for (const [label, zoneLabel] of [['RSA-2048', 'rsa'], ['ECDSA P-256', 'ecdsa']] as const) {
    it(`${label} zone key: 10 records per owner, no TC at bufsize=1232, and check reports dig's size`, async () => {
      const l = lab();
      const zone = `${zoneLabel}.${l.parent}`;
      const host = `mail.${zone}`;
      const { r12, cert, next } = await letsEncryptLeaf(l, host);
      l.installCert(host, cert.combinedPem);
      const records = budgetRecords(cert.spkiSha256, next.spkiSha256, r12.spkiSha256);
      expect(records).toHaveLength(10);
      await publish(l, zone, host, records);

      const dnskey = await digSized(l.addresses.named, l.addresses.namedPort, zone, 'DNSKEY', { recurse: false });
      expect(dnskey.answers.some((a) => new RegExp(`\\sDNSKEY\\s+257\\s+3\\s+${zoneLabel === 'rsa' ? 8 : 13}\\s`).test(a)), dnskey.raw).toBe(true);

      const ours = await check(l, zone);
      expect(ours.verdict, ours.message).toBe('valid');
      expect(ours.problems ?? []).toEqual([]);
      for (const port of PORTS) {
        const owner = `_${port}._tcp.${host}`;
        // What the resolver gets from BIND (with BIND's cookie, the larger form) ...
        const auth = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false });
        expect(auth.flags, auth.raw).not.toContain('tc');
        expect(auth.size).toBeLessThanOrEqual(1232);
        expect(auth.answers.filter((a) => /\sIN\s+TLSA\s/.test(a))).toHaveLength(10);
        expect(auth.answers.some((a) => new RegExp(`\\sRRSIG\\s+TLSA\\s+${zoneLabel === 'rsa' ? 8 : 13}\\s`).test(a))).toBe(true);
        // ... and what a sender gets from its validating resolver.
        const res = await digSized(l.resolver, 53, owner, 'TLSA', { cookie: false });
        expect(res.flags, res.raw).toEqual(expect.arrayContaining(['ad']));
        expect(res.flags).not.toContain('tc');
        expect(res.size).toBeLessThanOrEqual(1232);
        // check reports both legs: the resolver's answer and BIND's, asked as a resolver asks it.
        const asked = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false, cookie: false });
        expect(ours.mx[0]!.tlsaAnswers).toContainEqual({ owner, port, records: 10, bytes: res.size, truncated: false, authoritative: { server: l.authoritative, bytes: asked.size, truncated: false } });
      }
      expect((await l.posttlsFinger(zone)).verified).toBe(true);
    });
  }

  it("what the planner publishes at the default budget for a Let's Encrypt-shaped RSA chain fits at every owner, with RSA-2048 and ECDSA zone keys", async () => {
    const l = lab();
    const zones = [`planrsa.${l.parent}`, `planecdsa.${l.parent}`];
    const ctx = labServer(l, zones);
    for (const zone of zones) {
      const host = `mail.${zone}`;
      const { cert } = await letsEncryptLeaf(l, host);
      l.installCert(host, cert.combinedPem);
    }
    const providers = new Providers(ctx);
    const results = await applyPlan(ctx, providers, await makePlan(ctx, providers), 'test');
    for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
    await l.flushResolver();

    const checked = await checkDomains(ctx, zones, { timeoutMs: 10_000, save: false });
    for (const [i, zone] of zones.entries()) {
      const host = `mail.${zone}`;
      const ours = checked[i]!;
      expect(ours.verdict, ours.message).toBe('valid');
      expect(ours.problems ?? []).toEqual([]);
      for (const port of PORTS) {
        const owner = `_${port}._tcp.${host}`;
        const auth = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false });
        const records = auth.answers.filter((a) => /\sIN\s+TLSA\s/.test(a)).length;
        expect(records).toBeGreaterThanOrEqual(2);
        expect(records).toBeLessThanOrEqual(10);
        expect(auth.flags, auth.raw).not.toContain('tc');
        expect(auth.size).toBeLessThanOrEqual(1232);
        const asked = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false, cookie: false });
        const res = await digSized(l.resolver, 53, owner, 'TLSA', { cookie: false });
        expect(res.flags).not.toContain('tc');
        expect(ours.mx[0]!.tlsaAnswers).toContainEqual({ owner, port, records, bytes: res.size, truncated: false, authoritative: { server: l.authoritative, bytes: asked.size, truncated: false } });
      }
    }
  });

  it("12 records (the budget's maximum) with an RSA-2048 key: the resolver's answer fits, BIND's answer to resolvers does not; check warns about that leg", async () => {
    const l = lab();
    const zone = `rsa12.${l.parent}`;
    const host = `mail.${zone}`;
    const { r12, cert, next } = await letsEncryptLeaf(l, host);
    l.installCert(host, cert.combinedPem);
    const twelve = [...budgetRecords(cert.spkiSha256, next.spkiSha256, r12.spkiSha256), `2 1 1 ${'cd'.repeat(32)}`, `2 1 1 ${'ef'.repeat(32)}`];
    expect(twelve).toHaveLength(12);
    await publish(l, zone, host, twelve, [25]);
    const owner = `_25._tcp.${host}`;

    const auth = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false, cookie: false });
    expect(auth.flags, auth.raw).toContain('tc');
    const authTcp = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false, cookie: false, tcp: true });
    const res = await digSized(l.resolver, 53, owner, 'TLSA', { cookie: false });
    expect(res.flags).not.toContain('tc');

    const ours = await check(l, zone, [25]);
    expect(ours.verdict).toBe('valid');
    expect(ours.mx[0]!.tlsaAnswers).toEqual([{ owner, port: 25, records: 12, bytes: res.size, truncated: false, authoritative: { server: l.authoritative, bytes: authTcp.size, truncated: true } }]);
    expect((ours.problems ?? []).map((p) => [p.code, p.severity, p.subject])).toEqual([['tlsa-answer-large', 'warning', owner]]);
    expect(ours.problems![0]!.message).toContain(`${authTcp.size} bytes, over the 1232-byte EDNS buffer as this server's DNS (${l.authoritative}) sends it to resolvers`);
    expect(ours.problems![0]!.message).not.toContain('as the validating resolver returns it');
    expect((await l.posttlsFinger(zone)).verified).toBe(true);
  });

  it('20 records with an RSA-2048 key do not fit: TC at 1232, check warns (tlsa-answer-large), the verdict stays valid like posttls-finger', async () => {
    const l = lab();
    const zone = `rsabig.${l.parent}`;
    const host = `mail.${zone}`;
    const { r12, cert, next } = await letsEncryptLeaf(l, host);
    l.installCert(host, cert.combinedPem);
    // Issue 9's report (3 1 1, the served issuer, all 16 Let's Encrypt intermediates: ~1207 bytes
    // here) during a renewal (the next 3 1 1) with one record of the admin's own (a 3 0 1).
    const all = [`3 1 1 ${cert.spkiSha256}`, `3 1 1 ${next.spkiSha256}`, `3 0 1 ${'ab'.repeat(32)}`, `2 1 1 ${r12.spkiSha256}`, ...KNOWN_ISSUERS.filter((k) => k.ca === 'letsencrypt').map((k) => `2 1 1 ${k.spkiSha256}`)];
    expect(all.length).toBe(20);
    // Port 25 only: 3 × 18 new records in one reload exceed BIND's inline-signing journal cap
    // (max-journal-size, see reference/dane.md) in a zone this small.
    await publish(l, zone, host, all, [25]);

    const owner = `_25._tcp.${host}`;
    const udp = await digSized(l.resolver, 53, owner, 'TLSA', { cookie: false });
    expect(udp.flags, udp.raw).toContain('tc');
    const tcp = await digSized(l.resolver, 53, owner, 'TLSA', { cookie: false, tcp: true });
    expect(tcp.size).toBeGreaterThan(1232);

    const authTcp = await digSized(l.addresses.named, l.addresses.namedPort, owner, 'TLSA', { recurse: false, cookie: false, tcp: true });
    const ours = await check(l, zone, [25]);
    expect(ours.verdict).toBe('valid');
    expect(ours.mx[0]!.tlsaAnswers).toEqual([{ owner, port: 25, records: all.length, bytes: tcp.size, truncated: true, authoritative: { server: l.authoritative, bytes: authTcp.size, truncated: true } }]);
    const large = (ours.problems ?? []).filter((p) => p.code === 'tlsa-answer-large');
    expect(large.map((p) => p.subject)).toEqual([owner]);
    expect(large[0]).toMatchObject({ severity: 'warning' });
    expect(large.find((p) => p.subject === owner)!.message).toContain(`${tcp.size} bytes`);
    expect((await l.posttlsFinger(zone)).verified).toBe(true);
  });
});
