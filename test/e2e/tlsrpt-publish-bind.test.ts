import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import type { Lab } from '../lab/lab.js';
import { testContext } from '../helpers/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import type { AppContext } from '../../src/context.js';

/**
 * Issue 14 §1 against a real BIND with DNSSEC inline signing: the TLSRPT policy written into the
 * zone file is served, signed, exactly as RFC 8460 spells it (dig reads it through the validating
 * resolver); an address change leaves one policy, publishing off leaves none, and an unrelated TXT
 * record at the same name is served throughout.
 */
const lab = useLab({ zones: [{ name: 'rpt', signed: true, ds: true }] });
const UNRELATED = '"unrelated text; keep me"';

function serverRoot(l: Lab, zone: string, tlsrpt: Record<string, unknown>): AppContext {
  const root = l.cpanelRoot;
  try {
    symlinkSync(dirname(l.zoneFile(zone)), join(root, 'var/named'));
  } catch {
    /* linked by an earlier step */
  }
  writeFileSync(join(root, 'etc/userdomains'), `${zone}: user1\n`);
  writeFileSync(join(root, 'etc/localdomains'), zone);
  const reload = l.rndcArgv(zone).map((a) => (a === zone ? '{zone}' : a));
  return testContext({ policy: { ttl: 60 }, cpanel: { reloadCommand: reload, authoritative: l.authoritative, useWhmApi: false }, tlsrpt }, root);
}

async function apply(ctx: AppContext) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers);
  const results = await applyPlan(ctx, providers, plan, 'test');
  for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
  return results;
}

/** The TXT RDATA dig prints for `name` (validating resolver), sorted, and whether it was secure. */
async function txt(l: Lab, name: string): Promise<{ ad: boolean; rdata: string[] }> {
  await l.flushResolver();
  const a = await l.dig(name, 'TXT');
  const rdata = a.answers.map((line) => /\sIN\s+TXT\s+(.*)$/.exec(line)?.[1]?.trim()).filter((x): x is string => x !== undefined).sort();
  return { ad: a.flags.includes('ad'), rdata };
}

describe('TLSRPT policy in a zone file served by BIND', () => {
  it('is served signed as written, replaced on an address change, retired when publishing stops', async () => {
    const l = lab();
    const zone = `rpt.${l.parent}`;
    const host = `mail.${zone}`;
    const owner = `_smtp._tls.${zone}`;
    await l.installCert(host, (await l.issueCert({ names: [host], issuer: 'R1' })).combinedPem);
    await l.setRecords(zone, [`${owner}. 60 IN TXT ${UNRELATED}`]);

    const first = await apply(serverRoot(l, zone, { publish: 'all', address: `tlsrpt@${l.hostname}` }));
    expect(first[0]!.applied.filter((c) => c.record.owner === owner).map((c) => c.kind)).toEqual(['create']);
    const published = await txt(l, owner);
    expect(published.ad).toBe(true);
    expect(published.rdata).toEqual([`"v=TLSRPTv1; rua=mailto:tlsrpt@${l.hostname}"`, UNRELATED].sort());
    // Only at the mail domain, not at the MX host.
    expect((await txt(l, `_smtp._tls.${host}`)).rdata).toEqual([]);

    await apply(serverRoot(l, zone, { publish: [zone], address: `reports@${l.hostname}` }));
    expect((await txt(l, owner)).rdata).toEqual([`"v=TLSRPTv1; rua=mailto:reports@${l.hostname}"`, UNRELATED].sort());

    const before = readFileSync(l.zoneFile(zone), 'utf8');
    const off = await apply(serverRoot(l, zone, { publish: 'off' }));
    expect(off[0]!.applied.map((c) => [c.kind, c.record.owner])).toEqual([['delete', owner]]);
    expect((await txt(l, owner)).rdata).toEqual([UNRELATED]);
    // The TLSA records stay: only the policy line left the file.
    const after = readFileSync(l.zoneFile(zone), 'utf8');
    expect(after.split('\n').filter((x) => x.includes('TLSA'))).toEqual(before.split('\n').filter((x) => x.includes('TLSA')));
  });
});
