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
 * Issue 3, zone-file mode against a real BIND with DNSSEC inline signing: what we write is
 * served signed, a posttls-finger sender verifies, nothing else in the file changes, and an edit
 * BIND would reject is refused with the served zone left as it was.
 */
const lab = useLab({ zones: [{ name: 'pub', signed: true, ds: true }, { name: 'broken', signed: true, ds: true }] });

function serverRootFor(l: Lab, zone: string): AppContext {
  const root = l.cpanelRoot;
  // The lab's named reads its zone files from one directory: that is this server's /var/named.
  try {
    symlinkSync(dirname(l.zoneFile(zone)), join(root, 'var/named'));
  } catch {
    /* already linked by the other test */
  }
  const zones = ['pub', 'broken'].map((z) => `${z}.${l.parent}`);
  writeFileSync(join(root, 'etc/userdomains'), zones.map((z) => `${z}: user1\n`).join(''));
  writeFileSync(join(root, 'etc/localdomains'), zones.join('\n'));
  const reload = l.rndcArgv(zone).map((a) => (a === zone ? '{zone}' : a));
  return testContext({ policy: { ttl: 60 }, cpanel: { reloadCommand: reload, authoritative: l.authoritative, useWhmApi: false } }, root);
}

async function publish(ctx: AppContext, domains: string[]) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers, { domains });
  return applyPlan(ctx, providers, plan, 'test');
}

describe('publishing to zone files served by BIND with DNSSEC', () => {
  it('publishes 3 1 1 + 2 1 1 for 25/465/587, served signed, verified by posttls-finger, byte-preserving, idempotent', async () => {
    const l = lab();
    const zone = `pub.${l.parent}`;
    const host = `mail.${zone}`;
    const ctx = serverRootFor(l, zone);
    const cert = await l.issueCert({ names: [host], issuer: 'R1' });
    await l.installCert(host, cert.combinedPem);
    const before = readFileSync(l.zoneFile(zone), 'utf8');
    const servedBefore = await l.digAuthoritative(zone, 'SOA');

    const [result] = await publish(ctx, [zone]);
    expect(result!.problem).toBeUndefined();
    expect(result!.applied).toHaveLength(6);

    // Every byte but the serial and the appended TLSA lines is unchanged.
    const after = readFileSync(l.zoneFile(zone), 'utf8');
    const serialBefore = /(\d+)(\s*;\s*Serial)/i.exec(before)![1]!;
    const serialAfter = /(\d+)(\s*;\s*Serial)/i.exec(after)![1]!;
    expect(Number(serialAfter)).toBeGreaterThan(Number(serialBefore));
    expect(after.startsWith(before.replace(serialBefore, serialAfter).trimEnd())).toBe(true);
    const added = after.slice(before.replace(serialBefore, serialAfter).trimEnd().length).trim().split('\n');
    expect(added).toHaveLength(6);

    await l.flushResolver();
    const tlsa = await l.dig(`_25._tcp.${host}`, 'TLSA');
    expect(tlsa.flags).toContain('ad');
    // dig prints long hex in space-separated chunks.
    const served = tlsa.answers.join('').toLowerCase().replace(/\s+/g, '');
    expect(served).toContain(cert.spkiSha256);
    expect(served).toContain(l.ca.intermediates.R1.spkiSha256);
    expect((await l.digAuthoritative(zone, 'SOA')).answers.join('')).not.toEqual(servedBefore.answers.join(''));
    expect((await l.posttlsFinger(zone, { port: 25 })).verified).toBe(true);
    expect((await l.posttlsFinger(zone, { port: 465 })).verified).toBe(true);

    // Re-running changes nothing, not even the serial.
    expect(await publish(ctx, [zone])).toEqual([]);
    expect(readFileSync(l.zoneFile(zone), 'utf8')).toBe(after);
  });

  it('refuses an edit named-checkzone rejects and leaves the served zone as it was', async () => {
    const l = lab();
    const zone = `broken.${l.parent}`;
    const host = `mail.${zone}`;
    const ctx = serverRootFor(l, zone);
    await l.installCert(host, (await l.issueCert({ names: [host] })).combinedPem);
    // A CNAME at the TLSA owner: adding TLSA there gives "CNAME and other data", which BIND refuses.
    await l.setRecords(zone, [`_25._tcp.${host}. 60 IN CNAME elsewhere.${zone}.`]);
    const file = readFileSync(l.zoneFile(zone), 'utf8');
    const served = (await l.digAuthoritative(zone, 'SOA')).answers.join('');

    const [result] = await publish(ctx, [zone]);
    expect(result!.problem?.code).toBe('checkzone-failed');
    expect(result!.problem?.message).toContain('nothing was written');
    expect(result!.applied).toEqual([]);
    expect(readFileSync(l.zoneFile(zone), 'utf8')).toBe(file);
    expect((await l.digAuthoritative(zone, 'SOA')).answers.join('')).toBe(served);
  });
});
