import { createServer, type AddressInfo, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { run } from '../lab/proc.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../../src/context.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { Providers } from '../../src/provider-instances.js';
import { testContext } from '../helpers/context.js';
import type { Lab } from '../lab/lab.js';
import { useLab } from '../lab/setup.js';
import { newKey } from '../lab/update-servers.js';

/**
 * Issue 25 §2 on the lab: zones kept on a hidden primary (the lab's BIND, inline-signed with
 * dnssec-policy) and changed only through RFC 2136 updates signed with TSIG. The judges are
 * independent: the validating resolver (dig, AD flag), named itself (dig +norec) and
 * posttls-finger. Foreign records at our owners (a TXT beside our TLSA, a TXT that is not a
 * report policy beside our TLSRPT policy, with another TTL) survive byte for byte; a re-run sends
 * no update; a wrong key, a refused update and a server that does not answer each give their
 * problem and change nothing that is served.
 */
const key = newKey('tlsa-manager', 'hmac-sha256');
const FOREIGN = ['_25._tcp.mail 300 IN TXT "foreign text at our owner"', '_smtp._tls 300 IN TXT "not a report policy"', 'www 300 IN A 192.0.2.80'];
const lab = useLab({
  defaultZones: false,
  tsigKeys: [key],
  zones: [
    { name: 'dyn', signed: true, ds: true, records: FOREIGN, options: [`allow-update { key "${key.name}"; };`] },
    // Served, signed, but no update is allowed.
    { name: 'fixed', signed: true, ds: true, records: FOREIGN },
  ],
});

function context(l: Lab, zone: string, tsig: { name: string; algorithm: string; secret: string }, server = l.authoritative): AppContext {
  const root = l.cpanelRoot;
  writeFileSync(join(root, 'etc/userdomains'), `${zone}: user1\n`);
  return testContext(
    {
      policy: { ttl: 60 },
      providers: { hidden: { kind: 'rfc2136', server, tsig, timeoutSeconds: 2 } },
      zones: { [zone]: { provider: 'hidden' } },
      tlsrpt: { publish: 'all', address: `tlsrpt@${l.hostname}` },
      // The zone is not on this server: its MX comes from the lab's validating resolver.
      resolver: l.resolver,
    },
    root,
  );
}

async function publish(ctx: AppContext, zone: string) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, { domains: [zone] });
  return applyPlan(ctx, providers, plan, 'test');
}

/** The run's problems about the zone: reading it (the plan) or writing it (the apply). */
async function problemsOf(ctx: AppContext, zone: string) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, { domains: [zone] });
  const results = await applyPlan(ctx, providers, plan, 'test');
  return [...plan.problems.filter((p) => p.subject === zone), ...results.flatMap((r) => (r.problem ? [r.problem] : []))];
}

/** What named serves at the names we touch and beside them, as dig prints it (TTL and data). */
async function served(l: Lab, zone: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, type] of [[`_25._tcp.mail.${zone}`, 'TXT'], [`_smtp._tls.${zone}`, 'TXT'], [`www.${zone}`, 'A'], [`_25._tcp.mail.${zone}`, 'TLSA'], [`_465._tcp.mail.${zone}`, 'TLSA'], [zone, 'SOA']] as const) {
    out[`${name}/${type}`] = (await l.digAuthoritative(name, type)).answers.filter((a) => !/\sRRSIG\s/.test(a)).sort();
  }
  return out;
}

/** BIND's delv through the lab resolver, validating on its own from the parent's DS (as dnssec-judge.test.ts does). */
async function delv(l: Lab, name: string, type: string): Promise<string> {
  const [, tag, alg, dt, digest] = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f ]+)$/.exec(l.trustAnchor.trim())!;
  const anchor = join(l.dir, 'delv-anchor.conf');
  writeFileSync(anchor, `trust-anchors { ${l.parent}. static-ds ${tag} ${alg} ${dt} "${digest!.replace(/\s/g, '')}"; };\n`);
  const r = await run(['delv', `@${l.resolver}`, '-a', anchor, `+root=${l.parent}`, name, type], { timeoutMs: 15_000 });
  return r.stdout + r.stderr;
}

function silentServer(): Promise<{ server: string; close(): void }> {
  const held: import('node:net').Socket[] = [];
  const srv: Server = createServer((s) => held.push(s));
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => resolve({ server: `127.0.0.1:${(srv.address() as AddressInfo).port}`, close: () => { for (const s of held) s.destroy(); srv.close(); } })),
  );
}

describe('rfc2136 provider on the lab (BIND with inline signing, TSIG)', () => {
  it('publishes through a signed UPDATE: validated, verified by posttls-finger, foreign records byte for byte, a re-run sends nothing', async () => {
    const l = lab();
    const zone = `dyn.${l.parent}`;
    const host = `mail.${zone}`;
    const cert = await l.issueCert({ names: [host], issuer: 'R1' });
    l.installCert(host, cert.combinedPem);
    const ctx = context(l, zone, key);
    const before = await served(l, zone);

    const [result] = await publish(ctx, zone);
    expect(result!.problem).toBeUndefined();
    // 3 1 1 + 2 1 1 on 25/465/587, and the TLS-RPT policy.
    expect(result!.applied).toHaveLength(7);
    // Inline signing: BIND tests the SOA prerequisite against the unsigned zone's serial, so the
    // provider falls back to the RRset prerequisites (docs/reference-notes.md).
    expect(result!.details).toMatchObject({ prerequisite: 'rrsets' });

    const after = await served(l, zone);
    // Foreign records, at our owners too, exactly as before (TTL 300 kept although ours is 60).
    for (const k of [`_25._tcp.mail.${zone}/TXT`, `www.${zone}/A`]) expect(after[k], k).toEqual(before[k]);
    expect(after[`_smtp._tls.${zone}/TXT`]).toEqual([...before[`_smtp._tls.${zone}/TXT`]!, `_smtp._tls.${zone}. 300\tIN\tTXT\t"v=TLSRPTv1; rua=mailto:tlsrpt@${l.hostname}"`].sort());
    expect(after[`${zone}/SOA`]).not.toEqual(before[`${zone}/SOA`]);

    await l.flushResolver();
    const tlsa = await l.dig(`_25._tcp.${host}`, 'TLSA');
    expect(tlsa.flags).toContain('ad');
    const data = tlsa.answers.join('').toLowerCase().replace(/\s+/g, '');
    expect(data).toContain(cert.spkiSha256);
    expect(data).toContain(l.ca.intermediates.R1.spkiSha256);
    // delv validates on its own: the TLSA set and the TXT set with our policy beside the foreign one.
    const delvTlsa = await delv(l, `_25._tcp.${host}`, 'TLSA');
    expect(delvTlsa).toContain('fully validated');
    expect(delvTlsa.toLowerCase().replace(/\s+/g, '')).toContain(cert.spkiSha256);
    const delvTxt = await delv(l, `_smtp._tls.${zone}`, 'TXT');
    expect(delvTxt).toContain('fully validated');
    expect(delvTxt).toContain('"v=TLSRPTv1; rua=mailto:');
    expect(delvTxt).toContain('"not a report policy"');
    expect((await l.posttlsFinger(zone, { port: 25 })).verified).toBe(true);
    expect((await l.posttlsFinger(zone, { port: 465 })).verified).toBe(true);

    // Re-run: nothing to change, no update sent (the served serial stays).
    expect(await publish(ctx, zone)).toEqual([]);
    expect(await served(l, zone)).toEqual(after);
  });

  it('a wrong key, a refused update and a server that does not answer each give their problem and change nothing', async () => {
    const l = lab();
    const zone = `dyn.${l.parent}`;
    const host = `mail.${zone}`;
    // A new certificate: each attempt below has records to change.
    const cert = await l.issueCert({ names: [host], issuer: 'R2', keyType: 'rsa' });
    l.installCert(host, cert.combinedPem);
    const before = await served(l, zone);
    const wrongSecret = newKey().secret;

    const [wrong, ...more] = await problemsOf(context(l, zone, { ...key, secret: wrongSecret }), zone);
    expect(more).toEqual([]);
    expect(wrong?.code).toBe('rfc2136-key-rejected');
    expect(wrong?.message).toMatch(/BADSIG/);
    expect(wrong?.fix).toBeTruthy();
    expect(JSON.stringify(wrong)).not.toContain(wrongSecret);
    expect(JSON.stringify(wrong)).not.toContain(key.secret);
    expect(await served(l, zone)).toEqual(before);

    const [unknown] = await problemsOf(context(l, zone, { ...key, name: 'no-such-key' }), zone);
    expect(unknown?.code).toBe('rfc2136-key-rejected');
    expect(unknown?.message).toMatch(/BADKEY/);
    expect(await served(l, zone)).toEqual(before);

    const silent = await silentServer();
    try {
      const t0 = Date.now();
      const [mute] = await problemsOf(context(l, zone, key, silent.server), zone);
      expect(mute?.code).toBe('rfc2136-no-answer');
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      silent.close();
    }
    expect(await served(l, zone)).toEqual(before);

    const fixed = `fixed.${l.parent}`;
    const fixedHost = `mail.${fixed}`;
    l.installCert(fixedHost, (await l.issueCert({ names: [fixedHost], issuer: 'R1' })).combinedPem);
    const fixedBefore = await served(l, fixed);
    const [refused] = await problemsOf(context(l, fixed, key), fixed);
    expect(refused?.code).toBe('rfc2136-refused');
    expect(refused?.fix).toMatch(/allow-update/);
    expect(await served(l, fixed)).toEqual(fixedBefore);
  });
});
