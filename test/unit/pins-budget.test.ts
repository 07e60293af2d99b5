import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISSUER_FIXTURES, LE_SPKI, leafFrom as makeLeaf, lookalikeCa, spkiOf, type LookalikeCa } from '../helpers/le-chain.js';
import { desiredRecords, type DesiredRecord } from '../../src/plan/desired.js';
import { planZone, type ZonePlanInput } from '../../src/plan/plan.js';
import type { LedgerView } from '../../src/state/ledger.js';
import { parseBundle } from '../../src/tlsa/certificate.js';
import { recordKey } from '../../src/tlsa/types.js';
import type { Endpoint } from '../../src/cpanel/scan.js';
import type { PublishedRecord, PublishedTlsa } from '../../src/providers/contract.js';

/**
 * Issue 9: pins chosen like the CA chooses, and a record budget per owner. Expected SPKI digests
 * come from openssl reading the Let's Encrypt intermediates in test/fixtures/issuers, never from
 * the table under test.
 */
const ISSUERS = ISSUER_FIXTURES;
const NOW = new Date('2026-11-29T12:00:00Z');
const HOUR = 3_600_000;
const LE = LE_SPKI;
const RSA = ['R10', 'R11', 'R12', 'R13', 'R14', 'YR1', 'YR2', 'YR3'];
const nameOf = (spki: string) => Object.entries(LE).find(([, v]) => v === spki)?.[0] ?? spki;
const leafFrom = (ca: LookalikeCa, host: string, kind: 'rsa' | 'ec') => makeLeaf(ca, host, kind).cert;

function endpoint(host: string, leaf: string, issuerPem: string): Endpoint {
  const chain = parseBundle(readFileSync(leaf, 'utf8') + readFileSync(issuerPem, 'utf8'), host).certificates;
  return { host, domains: [host.replace(/^mail\./, '')], served: { source: `/var/cpanel/ssl/domain_tls/${host}/combined`, rule: 'exact', chain }, problems: [] };
}

const policy = { ports: [25, 465, 587], records: ['3 1 1', '2 1 1'], ttl: 3600 };
const desiredFor = (eps: Endpoint[], host: string): DesiredRecord[] => desiredRecords(eps, policy, () => 'example.test', NOW).byZone.get('example.test')!.filter((d) => d.host === host);
const pinsAt = (records: DesiredRecord[], owner: string) => records.filter((d) => d.owner === owner && d.usage === 2).sort((a, b) => a.priority - b.priority).map((d) => nameOf(d.data));

// Leaves whose issuer is the real R12 / E6 (the chain carries the real intermediate).
const r12Look = lookalikeCa('R12', 'rsa');
const e6Look = lookalikeCa('E6', 'ec');
const rsaLeaf = leafFrom(r12Look, 'mail.rsa.test', 'rsa');
const ecLeaf = leafFrom(e6Look, 'mail.ec.test', 'ec');
const rsaServed = endpoint('mail.rsa.test', rsaLeaf, join(ISSUERS, 'r12.pem'));
const ecServed = endpoint('mail.ec.test', ecLeaf, join(ISSUERS, 'e6.pem'));

describe('issuer pins chosen like the CA chooses', () => {
  it('RSA leaf from R12: R12 itself, then R10-R14 (own generation), then YR1-YR3; no ECDSA pin', () => {
    const records = desiredFor([rsaServed], 'mail.rsa.test');
    expect(pinsAt(records, '_25._tcp.mail.rsa.test')).toEqual(['R12', 'R10', 'R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']);
    const leafSpki = spkiOf(rsaLeaf);
    for (const port of [25, 465, 587]) {
      const at = records.filter((d) => d.owner === `_${port}._tcp.mail.rsa.test`);
      expect(at.filter((d) => d.usage === 3).map((d) => d.data)).toEqual([leafSpki]);
      expect(at).toHaveLength(9); // 1 + 8: fits the default budget of 10 with room for the next key
    }
  });

  it('ECDSA leaf from E6: E pins only, own generation first', () => {
    const records = desiredFor([ecServed], 'mail.ec.test');
    expect(pinsAt(records, '_25._tcp.mail.ec.test')).toEqual(['E6', 'E5', 'E7', 'E8', 'E9', 'YE1', 'YE2', 'YE3']);
  });

  it('an issuer known only by O=Let\'s Encrypt is pinned itself, siblings from the table of its key kind, newest generation first', () => {
    const fake = lookalikeCa('R12', 'rsa'); // a test CA: same name as R12, another key
    const ep = endpoint('mail.fake.test', leafFrom(fake, 'mail.fake.test', 'rsa'), fake.cert);
    const pins = pinsAt(desiredFor([ep], 'mail.fake.test'), '_25._tcp.mail.fake.test');
    expect(pins).toEqual([spkiOf(fake.cert), 'YR1', 'YR2', 'YR3', 'R10', 'R11', 'R12', 'R13', 'R14']);
  });

  it('a same-CA issuer seen on this server (not in the table) comes before the other generation', () => {
    const fake12 = lookalikeCa('R12', 'rsa');
    const fake13 = lookalikeCa('R13', 'rsa');
    const a = endpoint('mail.a.test', leafFrom(fake12, 'mail.a.test', 'rsa'), fake12.cert);
    const b = endpoint('mail.b.test', leafFrom(fake13, 'mail.b.test', 'rsa'), fake13.cert);
    const pins = pinsAt(desiredFor([a, b, rsaServed], 'mail.rsa.test'), '_25._tcp.mail.rsa.test');
    expect(pins).toEqual(['R12', 'R10', 'R11', 'R13', 'R14', spkiOf(fake12.cert), spkiOf(fake13.cert), 'YR1', 'YR2', 'YR3']);
    expect(pinsAt(desiredFor([a, b], 'mail.a.test'), '_25._tcp.mail.a.test').slice(0, 2)).toEqual([spkiOf(fake12.cert), spkiOf(fake13.cert)]);
  });
});

// ---- the budget in the planner ----

const zone = 'example.test';
const owner = '_25._tcp.mail.rsa.test';
const pub = (d: { owner: string; usage: number; selector: number; matchingType: number; data: string }, extra: Partial<PublishedTlsa> = {}): PublishedRecord =>
  ({ owner: d.owner, ttl: 3600, usage: d.usage as 3, selector: d.selector as 1, matchingType: d.matchingType as 1, data: d.data, ...extra });
const hex = (i: number) => i.toString(16).padStart(64, '0');

function ledger(entries: { rec: PublishedRecord; since: number; ours: boolean }[]): LedgerView {
  const m = new Map(entries.map((e) => [recordKey(e.rec), e]));
  return { publishedSince: (_z, k) => m.get(k)?.since ?? null, createdByUs: (_z, k) => m.get(k)?.ours ?? false };
}
const oursSince = (recs: PublishedRecord[], since: number) => recs.map((rec) => ({ rec, since, ours: true }));

function plan(p: Partial<ZonePlanInput>) {
  return planZone({ zone, provider: 'cpanel', desired: [], published: [], ledger: ledger([]), stillServed: () => false, now: NOW.getTime(), ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10, ...p });
}

/** Records at each owner after the plan's changes: what senders will see. */
function rrsetAfter(published: PublishedRecord[], p: ReturnType<typeof plan>): Map<string, number> {
  const keys = new Set(published.map(recordKey));
  for (const c of p.changes) c.kind === 'create' ? keys.add(recordKey(c.record)) : keys.delete(recordKey(c.record));
  const out = new Map<string, number>();
  for (const k of keys) out.set(k.split(' ')[0]!, (out.get(k.split(' ')[0]!) ?? 0) + 1);
  return out;
}

const wanted = desiredFor([rsaServed], 'mail.rsa.test');

describe('record budget per owner', () => {
  it('a fresh Let\'s Encrypt RSA host: 9 records per owner, nothing left out', () => {
    const p = plan({ desired: wanted });
    expect(p.changes.filter((c) => c.kind === 'create')).toHaveLength(27);
    expect(p.overBudget).toEqual([]);
    expect(p.warnings).toEqual([]);
  });

  it('maxRecordsPerOwner 4: the served key and issuer first, then the likeliest siblings; the rest named in issuers-over-budget', () => {
    const p = plan({ desired: wanted, maxRecordsPerOwner: 4 });
    const created = p.changes.filter((c) => c.record.owner === owner);
    // 4 = served 3 1 1 + R12 + R10 + (one slot kept for the next 3 1 1 at a renewal)
    expect(created.map((c) => (c.record.usage === 3 ? '3 1 1' : nameOf(c.record.data!))).sort()).toEqual(['3 1 1', 'R10', 'R12']);
    const left = p.overBudget.filter((o) => o.record.owner === owner).map((o) => nameOf(o.record.data));
    expect(left).toEqual(['R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']);
    const w = p.warnings.find((x) => x.code === 'issuers-over-budget');
    expect(w?.severity).toBe('info');
    expect(w?.subject).toBe('mail.rsa.test');
    for (const name of ['R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']) expect(w?.message).toContain(`${name}`);
    expect(w?.message).not.toContain('R10;');
    expect(p.warnings.filter((x) => x.code === 'issuer-not-covered')).toEqual([]);
  });

  it('a renewal: the pre-published next key makes 10, within the default budget', () => {
    const published = wanted.map((d) => pub(d));
    const next: DesiredRecord[] = [25, 465, 587].map((port) => ({ owner: `_${port}._tcp.mail.rsa.test`, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data: hex(7), host: 'mail.rsa.test', port, reason: 'incoming', priority: 1 }));
    const p = plan({ desired: [...wanted, ...next], published, ledger: ledger(oursSince(published, 0)) });
    expect(p.changes.map((c) => [c.kind, c.record.data])).toEqual(next.map((d) => ['create', d.data]));
    expect(rrsetAfter(published, p).get(owner)).toBe(10);
  });

  it('never grows an owner past the budget: what does not fit now is deferred, not created', () => {
    const published = wanted.map((d) => pub(d));
    const stale = [1, 2].map((i) => pub({ owner, usage: 2, selector: 1, matchingType: 1, data: hex(i) })); // old pins kept for rollover
    const all = [...published, ...stale];
    const renewed = wanted.map((d) => (d.usage === 3 ? { ...d, data: hex(9) } : d)); // new key, not pre-published
    const p = plan({ desired: renewed, published: all, ledger: ledger(oursSince(all, NOW.getTime() - HOUR)), stillServed: () => false });
    // 11 published at the owner (old key + 8 pins + 2 stale): nothing is added, the new key waits for room.
    expect(rrsetAfter(all, p).get(owner)).toBe(11);
    expect(p.deferred.map((d) => [d.record.owner, d.record.data])).toContainEqual([owner, hex(9)]);
    expect(p.changes.filter((c) => c.kind === 'create' && c.record.owner === owner)).toEqual([]);
  });

  it('foreign records use up the budget too', () => {
    const foreign = [1, 2, 3, 4, 5].map((i) => pub({ owner, usage: 3, selector: 1, matchingType: 1, data: hex(100 + i) }));
    const p = plan({ desired: wanted, published: foreign });
    const atOwner = p.changes.filter((c) => c.record.owner === owner);
    expect(atOwner).toHaveLength(4); // 5 foreign + 4 + 1 free for the next key = 10
    expect(rrsetAfter(foreign, p).get(owner)).toBe(9);
    expect(p.foreign).toHaveLength(5);
  });

  it('18 records published the old way shrink to the budget on the next run through retirement, without --force', () => {
    const keep = wanted.map((d) => pub(d));
    const ecdsaAndSurplus = ['E5', 'E6', 'E7', 'E8', 'E9', 'YE1', 'YE2', 'YE3'].map((nm) => pub({ owner, usage: 2, selector: 1, matchingType: 1, data: LE[nm]! }));
    const published = [...keep, ...ecdsaAndSurplus, pub({ owner, usage: 2, selector: 1, matchingType: 1, data: hex(55) })];
    expect(published.filter((p) => p.owner === owner)).toHaveLength(18);
    const young = plan({ desired: wanted, published, ledger: ledger(oursSince(published, NOW.getTime() - HOUR)) });
    expect(young.changes).toEqual([]); // the records kept are not 2xTTL old yet
    expect(young.waiting.filter((w) => w.record.owner === owner)).toHaveLength(9);
    const due = plan({ desired: wanted, published, ledger: ledger(oursSince(published, NOW.getTime() - 3 * HOUR)) });
    expect(due.blocked).toBeUndefined();
    expect(due.changes.every((c) => c.kind === 'delete')).toBe(true);
    expect(rrsetAfter(published, due).get(owner)).toBe(9);
  });

  it('a pin the budget left out is retired even though it matches the served issuer', () => {
    const published = wanted.filter((d) => d.owner === owner).map((d) => pub(d));
    const served = (r: { usage: number; data: string }) => r.data === LE.R12 || r.usage === 3;
    const p = plan({ desired: wanted.filter((d) => d.owner === owner), published, ledger: ledger(oursSince(published, 0)), stillServed: served, maxRecordsPerOwner: 2 });
    // Budget 2: the served key and room for the next one; R12 and all siblings go.
    expect(p.changes.filter((c) => c.kind === 'delete').map((c) => nameOf(c.record.data!)).sort()).toEqual(RSA.slice().sort());
    expect(p.overBudget.map((o) => nameOf(o.record.data))).toContain('R12');
  });

  it('a replaced key record waits while its successor is deferred; surplus pins retire to make room', () => {
    const oldKey = pub({ owner, usage: 3, selector: 1, matchingType: 1, data: hex(1) });
    const pins = wanted.filter((d) => d.owner === owner && d.usage === 2).map((d) => pub(d));
    const surplus = [2, 3].map((i) => pub({ owner, usage: 2, selector: 1, matchingType: 1, data: hex(i) }));
    const published = [oldKey, ...pins, ...surplus];
    const desired = wanted.filter((d) => d.owner === owner); // served key hex? not published
    const p = plan({ desired, published, ledger: ledger(oursSince(published, 0)) });
    expect(p.changes.map((c) => [c.kind, c.record.data])).toEqual([['delete', hex(2)], ['delete', hex(3)]]);
    expect(p.waiting.map((w) => w.record.data)).toEqual([hex(1)]);
    expect(p.deferred.map((d) => d.record.usage)).toEqual([3]);
    // Next run: room for the new key; the old key then waits 2xTTL for it as usual.
    const after = [oldKey, ...pins];
    const q = plan({ desired, published: after, ledger: ledger(oursSince(after, 0)) });
    expect(q.changes.map((c) => [c.kind, c.record.usage])).toEqual([['create', 3]]);
    expect(q.waiting.map((w) => w.reason)).toEqual(['its replacement is not published yet']);
  });
});

describe('safety limit (octoDNS rule)', () => {
  it('a zone whose only mail host moved away (27 records, 3 owners) is cleaned up without --force', () => {
    const published = wanted.map((d) => pub(d));
    const p = plan({ desired: [], published, ledger: ledger(oursSince(published, 0)) });
    expect(p.blocked).toBeUndefined();
    expect(p.changes.filter((c) => c.kind === 'delete')).toHaveLength(27);
  });

  it('from minRecordsForDeleteLimit managed owners on, removing more than the share of them needs --force', () => {
    // 4 hosts = 12 owners; 2 hosts gone = 6 of 12 owners > 30%.
    const hosts = ['a', 'b', 'c', 'd'].map((h) => `mail.${h}.test`);
    const published = hosts.flatMap((h) => [25, 465, 587].map((port) => pub({ owner: `_${port}._tcp.${h}`, usage: 3, selector: 1, matchingType: 1, data: hex(port) })));
    const desired = hosts.slice(0, 2).flatMap((h) => [25, 465, 587].map((port): DesiredRecord => ({ owner: `_${port}._tcp.${h}`, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data: hex(port), host: h, port, reason: 'kept', priority: 0 })));
    const p = plan({ desired, published, ledger: ledger(oursSince(published, 0)) });
    expect(p.blocked?.code).toBe('safety-limit');
    expect(p.changes).toEqual([]);
    expect(plan({ desired, published, ledger: ledger(oursSince(published, 0)), force: true }).changes).toHaveLength(6);
    // One host of four gone (3 of 12 owners, 25%) is routine.
    expect(plan({ desired: [...desired, ...desired.map((d) => ({ ...d, owner: d.owner.replace('.a.', '.c.'), host: 'mail.c.test' }))], published, ledger: ledger(oursSince(published, 0)) }).blocked).toBeUndefined();
  });
});
