import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { run } from '../lab/proc.js';
import { dnssecStatus } from '../../src/dnssec/status.js';
import { DNSSEC_KIND, dnssecStore, latestDnssec, recheckDnssec, recordStatuses } from '../../src/dnssec/watch.js';
import { dnssecFirstLook } from '../../src/hooks/reconcile.js';
import { Schedule } from '../../src/schedule/schedule.js';
import type { DnssecState } from '../../src/dnssec/state.js';
import { testContext } from '../helpers/context.js';
import type { Lab } from '../lab/lab.js';

/**
 * Issue 12's judge: `dnssec status` must agree with BIND's delv (validating on its own, trust
 * anchor = the lab parent's DS) on every lab zone: secure ⇔ "fully validated", bogus ⇔
 * "resolution failed", signed-no-ds/unsigned/unsupported-algorithm ⇔ "unsigned answer".
 */
const lab = useLab({
  zones: [
    { name: 'wrongds', signed: true, ds: 'wrong' },
    { name: 'orphands', signed: false, ds: 'wrong' },
    { name: 'oddalg', signed: true, ds: 'unsupported' },
    { name: 'expired', signed: false, ds: true, expiredSignatures: true },
  ],
});

type DelvVerdict = 'fully validated' | 'unsigned answer' | 'resolution failed';

async function delv(l: Lab, name: string): Promise<{ verdict: DelvVerdict | 'other'; output: string }> {
  // "<parent>. IN DS <tag> <alg> <digest type> <digest>" → delv's trust-anchors syntax.
  const [, tag, alg, dt, digest] = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f ]+)$/.exec(l.trustAnchor.trim())!;
  const anchor = join(l.dir, 'delv-anchor.conf');
  writeFileSync(anchor, `trust-anchors { ${l.parent}. static-ds ${tag} ${alg} ${dt} "${digest!.replace(/\s/g, '')}"; };\n`);
  const r = await run(['delv', `@${l.resolver}`, '-a', anchor, `+root=${l.parent}`, name, 'SOA'], { timeoutMs: 15_000 });
  const output = r.stdout + r.stderr;
  const verdict = (['fully validated', 'unsigned answer', 'resolution failed'] as const).find((v) => output.includes(v)) ?? 'other';
  return { verdict, output };
}

const DELV_FOR: Record<DnssecState, DelvVerdict | null> = {
  secure: 'fully validated',
  bogus: 'resolution failed',
  'signed-no-ds': 'unsigned answer',
  unsigned: 'unsigned answer',
  'unsupported-algorithm': 'unsigned answer',
  'parent-unsigned': 'unsigned answer',
  unknown: null,
};

function ctxFor(l: Lab) {
  return testContext({ resolver: l.resolver, resolverProbeName: l.parent, dnssec: { servers: { [l.parent]: [l.authoritative] } } });
}

describe('dnssec status agrees with delv on every lab zone', () => {
  const expected: Record<string, { state: DnssecState; reason: string | null }> = {
    good: { state: 'secure', reason: null },
    nods: { state: 'signed-no-ds', reason: null },
    unsigned: { state: 'unsigned', reason: null },
    wrongds: { state: 'bogus', reason: 'ds-mismatch' },
    orphands: { state: 'bogus', reason: 'ds-without-signing' },
    oddalg: { state: 'unsupported-algorithm', reason: null },
    expired: { state: 'bogus', reason: 'signature-expired' },
  };

  it('every zone: our state is the expected one and delv agrees', async () => {
    const l = lab();
    const zones = Object.keys(expected).map((z) => `${z}.${l.parent}`);
    const rows = await dnssecStatus(ctxFor(l), zones, { signers: false });
    for (const row of rows) {
      const label = row.zone.split('.')[0]!;
      const judge = await delv(l, row.zone);
      expect({ zone: row.zone, state: row.state, reason: row.reason, delv: judge.verdict }, judge.output).toEqual({
        zone: row.zone, ...expected[label], delv: DELV_FOR[expected[label]!.state],
      });
    }
  });

  it('the DS we compute for a signed zone is the one dnssec-dsfromkey made for its key', async () => {
    const l = lab();
    const [good, nods] = await dnssecStatus(ctxFor(l), [`good.${l.parent}`, `nods.${l.parent}`], { signers: false });
    for (const row of [good!, nods!]) {
      const [, tag, alg, dt, digest] = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-F ]+)$/i.exec(l.zoneDs(row.zone))!;
      expect(row.ds).toEqual([{ keyTag: Number(tag), algorithm: Number(alg), digestType: Number(dt), digest: digest!.replace(/\s/g, '').toLowerCase() }]);
    }
    expect(good!.parentDs).toEqual(good!.ds);
    expect(nods!.parentDs).toEqual([]);
  });

  it('the lab as registrar: adding the DS to the parent turns signed-no-ds into secure (delv agrees)', async () => {
    const l = lab();
    const zone = `nods.${l.parent}`;
    const ctx = ctxFor(l);
    const [before] = await dnssecStatus(ctx, [zone], { signers: false });
    expect(before!.state).toBe('signed-no-ds');
    await l.setParentDs(zone, [l.zoneDs(zone)]);
    await l.flushResolver();
    const [after] = await dnssecStatus(ctx, [zone], { signers: false });
    const judge = await delv(l, zone);
    expect({ state: after!.state, delv: judge.verdict }, judge.output).toEqual({ state: 'secure', delv: 'fully validated' });
    await l.setParentDs(zone, []);
    await l.flushResolver();
  });

  it('a parent whose servers do not answer: unknown, naming the lookup, when the resolver cannot help either', async () => {
    const l = lab();
    const ctx = testContext({ resolver: '127.0.0.1:1', dnssec: { servers: { [l.parent]: ['127.0.0.1:1'] } } });
    const [row] = await dnssecStatus(ctx, [`good.${l.parent}`], { signers: false, timeoutMs: 300 });
    expect(row!.state).toBe('unknown');
    expect(row!.message).toMatch(/parent zone/);
  });

  it('the CLI: one JSON object per zone with the documented fields; exit 1 when a zone is bogus, else 0', async () => {
    const l = lab();
    const ctx = ctxFor(l);
    const cli = (zones: string[]) => spawnSync(process.execPath, ['dist/cli.js', '--root', ctx.root.path('/'), 'dnssec', 'status', '--json', ...zones], { encoding: 'utf8' });
    const bad = cli([`good.${l.parent}`, `wrongds.${l.parent}`]);
    expect(bad.status, bad.stderr).toBe(1);
    const rows = JSON.parse(bad.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => [r.zone, r.state, r.reason])).toEqual([[`good.${l.parent}`, 'secure', null], [`wrongds.${l.parent}`, 'bogus', 'ds-mismatch']]);
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(expect.arrayContaining(['zone', 'state', 'reason', 'signing', 'ds', 'parentDs']));
      for (const d of [...(r.ds as object[]), ...(r.parentDs as object[])]) expect(Object.keys(d).sort()).toEqual(['algorithm', 'digest', 'digestType', 'keyTag']);
    }
    const fine = cli([`good.${l.parent}`, `nods.${l.parent}`]);
    expect(fine.status, fine.stderr).toBe(0);
    const text = spawnSync(process.execPath, ['dist/cli.js', '--root', ctx.root.path('/'), 'dnssec', 'status', `nods.${l.parent}`], { encoding: 'utf8' });
    expect(text.stdout).toMatch(new RegExp(`^nods\\.${l.parent.replace('.', '\\.')}: SIGNED, NO DS`));
    expect(text.stdout).toContain(l.zoneDs(`nods.${l.parent}`).replace(/\s+/g, ' ').replace(/ IN DS /, ' IN DS '));
  });

  it('dnssec ds: the DS line and registrar fields equal dnssec-dsfromkey, the DNSKEY fields what named serves; CDS/CDNSKEY as dig sees them', async () => {
    const l = lab();
    const zone = `nods.${l.parent}`;
    const ctx = ctxFor(l);
    const r = spawnSync(process.execPath, ['dist/cli.js', '--root', ctx.root.path('/'), 'dnssec', 'ds', zone, '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const h = JSON.parse(r.stdout);
    const dsfromkey = l.zoneDs(zone).replace(/\s+/g, ' ');
    expect(h.ds.map((d: { line: string }) => d.line.replace(/\s+/g, ' '))).toEqual([dsfromkey]);
    const [, tag, , , digest] = /DS (\d+) (\d+) (\d+) ([0-9A-F]+)$/i.exec(dsfromkey)!;
    expect(h.ds[0]).toMatchObject({ keyTag: Number(tag), algorithm: 13, algorithmName: 'ECDSAP256SHA256', digestType: 2, digestTypeName: 'SHA-256', digest: digest!.toLowerCase() });
    const served = (await l.digAuthoritative(zone, 'DNSKEY')).answers.filter((a) => /\sDNSKEY\s+257\s/.test(a));
    expect(served).toHaveLength(1);
    const [, flags, protocol, alg, key] = /DNSKEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/.exec(served[0]!)!;
    expect(h.dnskey).toEqual([expect.objectContaining({ flags: Number(flags), protocol: Number(protocol), algorithm: Number(alg), publicKey: key!.replace(/\s/g, ''), keyTag: Number(tag) })]);
    const cds = (await l.digAuthoritative(zone, 'CDS')).answers.filter((a) => /\sCDS\s/.test(a));
    expect(h.cds.published).toBe(cds.length > 0);
    expect(h.scanning).toMatch(cds.length > 0 ? /add the DS on their own/ : /does not publish CDS\/CDNSKEY/);
  });

  it('dnssec ds: an RFC 8078 delete request (CDS 0 0 0 00) is recognised; an unsigned zone has nothing to hand over (exit 1)', async () => {
    const l = lab();
    const zone = `unsigned.${l.parent}`;
    await l.setRecords(zone, [`${zone}. 60 IN CDS 0 0 0 00`, `${zone}. 60 IN CDNSKEY 0 3 0 AA==`]);
    await l.flushResolver();
    const ctx = ctxFor(l);
    const r = spawnSync(process.execPath, ['dist/cli.js', '--root', ctx.root.path('/'), 'dnssec', 'ds', zone, '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(1);
    const h = JSON.parse(r.stdout);
    expect({ ds: h.ds, cds: h.cds.deleteRequest, cdnskey: h.cdnskey.deleteRequest }).toEqual({ ds: [], cds: true, cdnskey: true });
    await l.setRecords(zone, []);
  });

  it('the timer looks once at every managed zone the watcher has not seen yet (a new install), then leaves settled ones alone', async () => {
    const l = lab();
    const zones = [`good.${l.parent}`, `nods.${l.parent}`];
    const ctx = testContext({ resolver: l.resolver, resolverProbeName: l.parent, dnssec: { servers: { [l.parent]: [l.authoritative] } }, zones: Object.fromEntries(zones.map((z) => [z, { provider: 'cpanel' }])) });
    expect(latestDnssec(ctx).size).toBe(0);
    expect(await dnssecFirstLook(ctx, { signers: false })).toEqual(zones);
    const states = latestDnssec(ctx);
    // delv is the judge of these two zones in the first test of this file.
    expect(zones.map((z) => states.get(z)?.state)).toEqual(['secure', 'signed-no-ds']);
    expect(ctx.state().activity({ kind: 'dnssec' }).map((e) => e.subject).sort()).toEqual(zones);
    // Seen now: the next run looks at none of them again (the no-DS zone is the watcher's, on its back-off).
    expect(await dnssecFirstLook(ctx, { signers: false })).toEqual([]);
    expect(new Schedule(ctx.state().db).get(DNSSEC_KIND, zones[1]!)).not.toBeNull();
  });

  it('the watcher: a signed-no-ds zone is due again after minutes; when the DS arrives the change is logged old → new and watching stops', async () => {
    const l = lab();
    const zone = `nods.${l.parent}`;
    const ctx = ctxFor(l);
    const t0 = Date.now();
    recordStatuses(ctx, await dnssecStatus(ctx, [zone], { signers: false }), 'cli', t0);
    const schedule = new Schedule(ctx.state().db);
    const item = schedule.get(DNSSEC_KIND, zone)!;
    expect(item.dueAt - t0).toBe(5 * 60_000);
    expect((await recheckDnssec(ctx, { now: t0 + 60_000, signers: false })).checked).toEqual([]); // not due yet
    await l.setParentDs(zone, [l.zoneDs(zone)]);
    await l.flushResolver();
    const run = await recheckDnssec(ctx, { now: t0 + 5 * 60_000, signers: false });
    expect(run.changes).toEqual([{ zone, from: 'signed-no-ds', to: 'secure', kind: 'good-news' }]);
    expect(schedule.get(DNSSEC_KIND, zone)).toBeNull();
    expect(dnssecStore(ctx).get(zone)!.status.state).toBe('secure');
    const log = ctx.state().activity({ kind: 'dnssec' }).map((e) => e.detail);
    expect(log[0]).toMatch(/^DNSSEC Signed, no DS → Secure: the chain validates\./);
    expect(log[1]).toMatch(/^DNSSEC not checked → Signed, no DS/);
    // The registrar breaks it: anything → bogus is an incident.
    await l.setParentDs(zone, [l.zoneDs(zone).replace(/[0-9A-F]{8}$/i, '00000000')]);
    await l.flushResolver();
    const broken = await recheckDnssec(ctx, { zones: [zone], signers: false });
    expect(broken.changes).toEqual([{ zone, from: 'secure', to: 'bogus', kind: 'incident' }]);
    expect(ctx.state().activity({ kind: 'dnssec' })[0]!).toMatchObject({ ok: false, detail: expect.stringMatching(/Secure → Bogus \(ds-mismatch\): INCIDENT/) });
    await l.setParentDs(zone, []);
    await l.flushResolver();
  });
});
