import { describe, expect, it } from 'vitest';
import { planZone, type ZonePlanInput } from '../../src/plan/plan.js';
import type { LedgerView } from '../../src/state/ledger.js';
import type { DesiredRecord } from '../../src/plan/desired.js';
import type { PublishedRecord, PublishedTlsa } from '../../src/providers/contract.js';
import { recordKey } from '../../src/tlsa/types.js';

const zone = 'example.test';
const owner = '_25._tcp.mail.example.test';
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 29, 12);

const want = (data: string, o = owner): DesiredRecord => ({ owner: o, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data, host: o.replace(/^_\d+\._tcp\./, ''), port: 25, reason: 'test', priority: 0 });
const pub = (data: string, o = owner, extra: Partial<PublishedTlsa> = {}): PublishedRecord => ({ owner: o, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data, ...extra });

function ledger(entries: { rec: PublishedRecord; since: number; ours: boolean }[]): LedgerView {
  const m = new Map(entries.map((e) => [recordKey(e.rec), e]));
  return { publishedSince: (_z, k) => m.get(k)?.since ?? null, createdByUs: (_z, k) => m.get(k)?.ours ?? false };
}

function plan(p: Partial<ZonePlanInput>) {
  return planZone({ zone, provider: 'cpanel', desired: [], published: [], ledger: ledger([]), stillServed: () => false, now: NOW, ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10, ...p });
}

describe('planZone', () => {
  it('creates what is missing and nothing when in sync (hex compared case-insensitively)', () => {
    expect(plan({ desired: [want('aa')] }).changes.map((c) => [c.kind, c.record.data])).toEqual([['create', 'aa']]);
    expect(plan({ desired: [want('aa')], published: [pub('AA')] }).changes).toEqual([]);
  });

  it('keeps an old record of ours until its successor has been published for 2xTTL, then deletes it', () => {
    const old = pub('01');
    const next = pub('02');
    const common = { desired: [want('02')], published: [old, next] };
    const young = plan({ ...common, ledger: ledger([{ rec: old, since: NOW - 10 * HOUR, ours: true }, { rec: next, since: NOW - HOUR, ours: true }]) });
    expect(young.changes).toEqual([]);
    expect(young.waiting[0]!.until).toBe(new Date(NOW + HOUR).toISOString());
    const ready = plan({ ...common, ledger: ledger([{ rec: old, since: NOW - 10 * HOUR, ours: true }, { rec: next, since: NOW - 2 * HOUR, ours: true }]) });
    expect(ready.changes.map((c) => [c.kind, c.record.data])).toEqual([['delete', '01']]);
  });

  it('does not delete an old record while the successor is not published yet', () => {
    const old = pub('01');
    const p = plan({ desired: [want('02')], published: [old], ledger: ledger([{ rec: old, since: NOW - 99 * HOUR, ours: true }]) });
    expect(p.changes.map((c) => c.kind)).toEqual(['create']);
    expect(p.waiting.map((w) => w.reason)).toEqual(['its replacement is not published yet']);
  });

  it('never deletes a record it did not create unless the owner is taken over', () => {
    const foreign = pub('ff');
    const next = pub('02');
    const base = { desired: [want('02')], published: [foreign, next], ledger: ledger([{ rec: next, since: NOW - 99 * HOUR, ours: true }]) };
    const p = plan(base);
    expect(p.changes).toEqual([]);
    expect(p.foreign.map((f) => f.data)).toEqual(['ff']);
    expect(plan({ ...base, takeover: new Set([owner]) }).changes.map((c) => [c.kind, c.record.data])).toEqual([['delete', 'ff']]);
    // A Cloudflare comment marker counts as ours even without a ledger entry.
    expect(plan({ ...base, published: [pub('ff', owner, { markedOurs: true }), next] }).changes.map((c) => c.kind)).toEqual(['delete']);
  });

  it('keeps a record that still matches a certificate the server presents', () => {
    const old = pub('01');
    const next = pub('02');
    const p = plan({
      desired: [want('02')],
      published: [old, next],
      ledger: ledger([{ rec: old, since: 0, ours: true }, { rec: next, since: 0, ours: true }]),
      stillServed: (r) => r.data === '01',
    });
    expect(p.changes).toEqual([]);
    expect(p.waiting[0]!.reason).toBe('still matches a certificate the server presents');
  });

  it('stops deletes without replacement beyond the safety share unless forced', () => {
    const owners = ['a', 'b', 'c', 'd'].map((h) => `_25._tcp.${h}.example.test`);
    const published = owners.map((o, i) => pub(`0${i}`, o));
    const led = ledger(published.map((rec) => ({ rec, since: 0, ours: true })));
    // Only host a is still desired: b, c, d would lose all records (3 of 4 > 30%).
    const desired = [want('00', owners[0])];
    const blocked = plan({ desired, published, ledger: led, minRecordsForDeleteLimit: 4 });
    expect(blocked.blocked?.code).toBe('safety-limit');
    expect(blocked.changes).toEqual([]);
    const forced = plan({ desired, published, ledger: led, minRecordsForDeleteLimit: 4, force: true });
    expect(forced.blocked).toBeUndefined();
    expect(forced.changes.map((c) => c.record.owner).sort()).toEqual(owners.slice(1).sort());
  });
});
