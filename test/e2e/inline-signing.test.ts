import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import type { Lab } from '../lab/lab.js';
import { run } from '../lab/proc.js';
import { testContext } from '../helpers/context.js';
import { createZoneFileProvider as createFromHost } from '../../src/providers/cpanel/zonefile.js';
import { providerHost } from '../../src/provider-instances.js';
import type { Change } from '../../src/providers/contract.js';
import type { AppContext } from '../../src/context.js';

/** The zone-file provider as the cpanel module makes it: the narrow host and its own settings. */
const createZoneFileProvider = (ctx: AppContext) => createFromHost({ ...providerHost(ctx), cpanel: ctx.config.cpanel });

/**
 * Issue 15 part 4, against the real BIND with inline signing: a first publish of many records into
 * a small signed zone is loaded unsigned but never signed (the journal diff exceeds the default
 * max-journal-size). The writer must say exactly that and what to set, leave the zone file and the
 * served zone as they were, and succeed on the next run once the setting is made.
 */
const lab = useLab({ defaultZones: false, zones: [{ name: 'small', signed: true, ds: true }, { name: 'roomy', signed: true, ds: true, options: ['max-journal-size unlimited;'] }] });

function ctxFor(l: Lab, zone: string): AppContext {
  const root = l.cpanelRoot;
  try {
    symlinkSync(dirname(l.zoneFile(zone)), join(root, 'var/named'));
  } catch {
    /* linked already */
  }
  const reload = l.rndcArgv(zone).map((a) => (a === zone ? '{zone}' : a));
  return testContext({ policy: { ttl: 60 }, cpanel: { reloadCommand: reload, authoritative: l.authoritative, useWhmApi: false } }, root);
}

/** 60 distinct records: about 10 MX hosts' worth (3 ports × 2 records each). */
function creates(zone: string, n: number): Change[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'create' as const,
    zone,
    reason: 'test',
    record: { owner: `_25._tcp.mx${i}.${zone}`, ttl: 60, usage: 3 as const, selector: 1 as const, matchingType: 1 as const, data: i.toString(16).padStart(4, '0').repeat(16) },
  }));
}

const servedSerial = async (l: Lab, zone: string) => Number((await l.digAuthoritative(zone, 'SOA')).answers.find((a) => /\sSOA\s/.test(a))!.split(/\s+/)[6]);

describe('inline signing: a change larger than the signing journal', () => {
  it('is diagnosed with the setting to make, rolled back under a higher serial, and goes through once the setting is made; a zone with the setting takes it at once', async () => {
    const l = lab();
    const zone = `small.${l.parent}`;
    const ctx = ctxFor(l, zone);
    const file = l.zoneFile(zone);
    const before = readFileSync(file, 'utf8');
    const servedBefore = await servedSerial(l, zone);
    const log = join(l.dir, 'named', 'named.log');
    const logBefore = readFileSync(log, 'utf8').length;

    const stuck = await createZoneFileProvider(ctx).apply(zone, creates(zone, 60));
    expect(stuck.applied).toEqual([]);
    expect(stuck.problem?.code).toBe('zone-inline-signing-stuck');
    expect(stuck.problem?.message).toContain('receive_secure_serial: unchanged');
    expect(stuck.problem?.fix).toContain(`Add "max-journal-size unlimited;" to the zone "${zone}" block in named.conf`);
    // BIND's own log says the same thing the message names.
    expect(readFileSync(log, 'utf8').slice(logBefore)).toMatch(new RegExp(`zone ${zone.replace(/\./g, '\\.')}/IN \\(signed\\): receive_secure_serial: unchanged`));
    // The file has its old records back (only the serial moved up), and the served zone is the old one.
    const restored = readFileSync(file, 'utf8');
    expect(restored).not.toContain('_25._tcp.mx0');
    const serialOf = (t: string) => Number(/(\d+)\s*;Serial Number/.exec(t)![1]);
    expect(restored.replace(/\d+(\s*;Serial Number)/, '$1')).toBe(before.replace(/\d+(\s*;Serial Number)/, '$1'));
    expect(serialOf(restored)).toBeGreaterThan(serialOf(before) + 1);
    expect(await servedSerial(l, zone)).toBeGreaterThanOrEqual(servedBefore);
    expect((await l.digAuthoritative(`_25._tcp.mx0.${zone}`, 'TLSA')).answers).toEqual([]);

    // The same publish where the zone has the setting the message names goes through, signed.
    const roomy = `roomy.${l.parent}`;
    const ok = await createZoneFileProvider(ctxFor(l, roomy)).apply(roomy, creates(roomy, 60));
    expect(ok.problem).toBeUndefined();
    expect(ok.applied).toHaveLength(60);
    const tlsa = await l.digAuthoritative(`_25._tcp.mx59.${roomy}`, 'TLSA');
    expect(tlsa.answers.join('\n')).toMatch(/\sRRSIG\s+TLSA\s/);

    // On the stuck zone, the admin does exactly what the message says; the next run goes through.
    const conf = join(l.dir, 'named', 'named.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(`zone "${zone}" {`, `zone "${zone}" {\n  max-journal-size unlimited;`));
    const rndc = (...cmd: string[]) => run([...l.rndcArgv(zone).slice(0, -2), ...cmd], { timeoutMs: 10_000 });
    expect(stuck.problem?.fix).toContain(`run "rndc reconfig" and "rndc sync -clean ${zone}"`);
    expect((await rndc('reconfig')).code).toBe(0);
    expect((await rndc('sync', '-clean', zone)).code).toBe(0);
    const again = await createZoneFileProvider(ctx).apply(zone, creates(zone, 60));
    expect(again.problem).toBeUndefined();
    expect(again.applied).toHaveLength(60);
    expect((await l.digAuthoritative(`_25._tcp.mx59.${zone}`, 'TLSA')).answers.join('\n')).toMatch(/\sRRSIG\s+TLSA\s/);
  }, 120_000);
});
