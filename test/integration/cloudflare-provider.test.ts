import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudflareProvider, MANAGED_MARKER, type ProviderLogger } from '../../src/providers/cloudflare/client.js';
import type { Change, PublishedRecord } from '../../src/providers/contract.js';
import { RequestBudget } from '../../src/providers/cloudflare/rate-limit.js';
import { recordKey, type TlsaRecord } from '../../src/tlsa/types.js';
import { ProblemError, type Problem } from '../../src/problem.js';
import { FakeCloudflare } from '../fakes/cloudflare/server.js';

/**
 * The real SDK talking real HTTP to the fake Cloudflare API. Record data are arbitrary SHA-256
 * values (node:crypto): the provider only transports them, it computes nothing.
 */

const ZONE = 'example.com';
const TOKEN = 'cf-TOKEN-3x4mple-s3cret-value-0123456789';
const RO_TOKEN = 'cf-READONLY-t0ken-abcdefabcdef-987654321';
const BAD_TOKEN = 'cf-UNKNOWN-t0ken-ffffffffffffffff-000000';

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const owner = (port: number, host = `mail.${ZONE}`) => `_${port}._tcp.${host}`;
const rec = (o: string, seed: string, ttl = 3600): TlsaRecord => ({ owner: o, ttl, usage: 3, selector: 1, matchingType: 1, data: hex(seed) });
const create = (r: TlsaRecord, zone = ZONE): Change => ({ kind: 'create', zone, record: r, reason: 'test' });
const del = (p: PublishedRecord, zone = ZONE): Change => ({ kind: 'delete', zone, record: p, existing: p, reason: 'test' });

/** The planner's job in miniature: what is desired and not published, and vice versa (ours only). */
function diff(desired: TlsaRecord[], published: PublishedRecord[], z = zone): Change[] {
  const have = new Set(published.map(recordKey));
  const want = new Set(desired.map(recordKey));
  return [...desired.filter((d) => !have.has(recordKey(d))).map((d) => create(d, z)), ...published.filter((p) => p.markedOurs && !want.has(recordKey(p))).map((p) => del(p, z))];
}

function captureLogger(): { logger: ProviderLogger; lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (obj: object, msg?: string) => lines.push(JSON.stringify({ level, obj, msg }));
  return { logger: { debug: push('debug'), info: push('info'), warn: push('warn') }, lines };
}

let fake: FakeCloudflare;
let url: string;

beforeAll(async () => {
  fake = new FakeCloudflare();
  url = await fake.start();
});
afterAll(async () => {
  await fake.stop();
});

let zoneSeq = 0;
let zone: string;
beforeEach(() => {
  // A fresh zone per test keeps tests independent on one server.
  zone = `z${++zoneSeq}.${ZONE}`;
  fake.addToken(TOKEN);
  fake.addToken(RO_TOKEN, { dnsEdit: false });
  fake.addZone(zone);
  fake.resetLog();
  fake.setLatency(0);
  fake.setRateLimit(null);
  fake.clearFaults();
});
afterEach(() => {
  fake.setRateLimit(null);
});

const provider = (extra: Partial<ConstructorParameters<typeof CloudflareProvider>[0]> = {}) =>
  new CloudflareProvider({ apiToken: TOKEN, baseURL: url, requestBudget: { max: 1200, windowMs: 300_000 }, ...extra });

const mailOwner = (port: number) => owner(port, `mail.${zone}`);

describe('CloudflareProvider against the fake API', () => {
  it('creates records with data and the marker, and reads them back normalised', async () => {
    const p = provider();
    const desired = [rec(mailOwner(25), 'a'), rec(mailOwner(25), 'b'), rec(mailOwner(465), 'a')];
    const res = await p.apply(zone, desired.map((d) => create(d, zone)));
    expect(res.problem).toBeUndefined();
    expect(res.applied).toHaveLength(3);
    expect(fake.count('POST /zones/:zone_id/dns_records/batch')).toBe(1);

    const stored = fake.recordsOf(zone, 'TLSA');
    expect(stored).toHaveLength(3);
    for (const s of stored) {
      expect(s.comment).toBe(MANAGED_MARKER);
      expect(s.ttl).toBe(3600);
      expect(s.content).toMatch(/^3 1 1 [0-9A-F]{64}$/);
    }
    const sent = fake.bodies.find((b) => b.route === 'POST /zones/:zone_id/dns_records/batch')!.body as { posts: Array<{ data: unknown; content?: unknown }> };
    expect(sent.posts[0]!.data).toEqual({ usage: 3, selector: 1, matching_type: 1, certificate: hex('a') });
    expect(sent.posts[0]!.content).toBeUndefined();

    const published = await p.populate(zone, [mailOwner(25), mailOwner(465)]);
    expect(published.map(recordKey).sort()).toEqual(desired.map(recordKey).sort());
    expect(published.every((r) => r.markedOurs === true && typeof r.id === 'string' && r.ttl === 3600)).toBe(true);
  });

  it('an idempotent re-run makes zero write calls; an empty change list makes zero calls', async () => {
    const p = provider();
    const desired = [rec(mailOwner(25), 'x'), rec(mailOwner(587), 'y')];
    await p.apply(zone, desired.map((d) => create(d, zone)));
    fake.resetLog();

    const second = provider();
    const changes = diff(desired, await second.populate(zone, [mailOwner(25), mailOwner(587)]));
    expect(changes).toEqual([]);
    const before = fake.log.length;
    const res = await second.apply(zone, changes);
    expect(res.problem).toBeUndefined();
    expect(fake.log.length).toBe(before);
    expect(fake.writeCount()).toBe(0);
  });

  it('compares hex case-insensitively: upper-case hex from the API matches lower-case desired data', async () => {
    const r = rec(mailOwner(25), 'case');
    fake.addRecord(zone, { name: r.owner, ttl: 3600, comment: MANAGED_MARKER, data: { usage: 3, selector: 1, matching_type: 1, certificate: r.data.toUpperCase() } });
    expect(fake.recordsOf(zone)[0]!.content).toBe(`3 1 1 ${r.data.toUpperCase()}`);
    const published = await provider().populate(zone, [r.owner]);
    expect(published).toHaveLength(1);
    expect(published[0]!.data).toBe(r.data);
    expect(diff([r], published)).toEqual([]);
  });

  it('deletes by id and leaves unmanaged records at the same owner untouched', async () => {
    const o = mailOwner(25);
    const theirs = fake.addRecord(zone, { name: o, ttl: 300, comment: null, data: { usage: 2, selector: 0, matching_type: 1, certificate: hex('theirs') } });
    const other = fake.addRecord(zone, { name: o, ttl: 300, comment: 'added by hand', data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('hand') } });
    fake.addRecord(zone, { name: `mail.${zone}`, type: 'A', content: '192.0.2.1', ttl: 300 });
    const p = provider();
    await p.apply(zone, [create(rec(o, 'old'), zone)]);

    const published = await p.populate(zone, [o]);
    expect(published).toHaveLength(3);
    const unmanaged = published.filter((r) => !r.markedOurs);
    expect(unmanaged.map((r) => r.id).sort()).toEqual([theirs.id, other.id].sort());
    expect(unmanaged.find((r) => r.id === theirs.id)).toMatchObject({ usage: 2, selector: 0, matchingType: 1, ttl: 300, data: hex('theirs') });

    const changes = diff([rec(o, 'new')], published);
    expect(changes.map((c) => c.kind).sort()).toEqual(['create', 'delete']);
    const res = await p.apply(zone, changes);
    expect(res.problem).toBeUndefined();

    const sent = fake.bodies.filter((b) => b.route === 'POST /zones/:zone_id/dns_records/batch').at(-1)!.body as { deletes: Array<{ id: string }> };
    const ours = published.find((r) => r.markedOurs)!;
    expect(sent.deletes).toEqual([{ id: ours.id }]);
    const after = fake.recordsOf(zone);
    expect(after.map((r) => r.id)).toEqual(expect.arrayContaining([theirs.id, other.id]));
    expect(after.find((r) => r.id === ours.id)).toBeUndefined();
    expect(after.filter((r) => r.type === 'TLSA').map((r) => r.content.split(' ')[3]!.toLowerCase()).sort()).toEqual([hex('hand'), hex('new'), hex('theirs')].sort());
    expect(after.some((r) => r.type === 'A')).toBe(true);
  });

  it('pages through more than 100 records, zone-wide and at one exact owner', async () => {
    const owners: string[] = [];
    for (let h = 0; h < 45; h++) for (const port of [25, 465, 587]) owners.push(owner(port, `mx${h}.${zone}`));
    owners.forEach((o, i) => fake.addRecord(zone, { name: o, comment: MANAGED_MARKER, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex(`r${i}`) } }));
    const crowded = owner(25, `crowded.${zone}`);
    for (let i = 0; i < 130; i++) fake.addRecord(zone, { name: crowded, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex(`c${i}`) } });
    fake.resetLog();

    const p = provider();
    const all = await p.populate(zone, owners);
    expect(all).toHaveLength(135);
    expect(new Set(all.map((r) => r.owner))).toEqual(new Set(owners));
    // 265 TLSA records in the zone → 3 pages of 100; result_info stops us without an empty 4th page.
    expect(fake.count('GET /zones/:zone_id/dns_records')).toBe(3);

    fake.resetLog();
    const one = await p.populate(zone, [crowded]);
    expect(one).toHaveLength(130);
    expect(new Set(one.map((r) => r.data)).size).toBe(130);
    expect(fake.log.filter((l) => l.route === 'GET /zones/:zone_id/dns_records').map((l) => new URLSearchParams(l.query).get('name.exact'))).toEqual([crowded, crowded]);
    // The zone id was cached by the first populate.
    expect(fake.count('GET /zones')).toBe(0);
  });

  it('waits out a 429 in the middle of a run (Retry-After) and finishes', async () => {
    const p = provider();
    await p.populate(zone, [mailOwner(25)]);
    fake.failNext(1, 429, '1');
    const res = await p.apply(zone, [create(rec(mailOwner(25), 'rl'), zone)]);
    expect(res.problem).toBeUndefined();
    const batchCalls = fake.log.filter((l) => l.route === 'POST /zones/:zone_id/dns_records/batch').map((l) => l.status);
    expect(batchCalls).toEqual([429, 200]);
    expect(fake.recordsOf(zone)).toHaveLength(1);
  });

  it('a 500 storm beyond the SDK retries gives a Problem and changes nothing', async () => {
    const o = mailOwner(25);
    fake.addRecord(zone, { name: o, comment: MANAGED_MARKER, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('keep') } });
    const p = provider({ maxRetries: 1 });
    const published = await p.populate(zone, [o]);
    const before = fake.recordsOf(zone);
    fake.failNext(5, 500);
    const res = await p.apply(zone, diff([rec(o, 'new')], published));
    expect(res.applied).toEqual([]);
    expect(res.problem?.code).toBe('cloudflare-unavailable');
    expect(res.problem?.message).toContain(zone);
    expect(res.problem?.fix).toBeTruthy();
    // One attempt plus one retry, both answered 500 by the fault injector.
    expect(fake.log.filter((l) => l.route === 'POST /zones/:zone_id/dns_records/batch').map((l) => l.status)).toEqual([500, 500]);
    expect(fake.recordsOf(zone)).toEqual(before);
  });

  it('a read-only token gets the permission Problem and nothing changes', async () => {
    const p = provider({ apiToken: RO_TOKEN });
    expect(await p.populate(zone, [mailOwner(25)])).toEqual([]);
    const res = await p.apply(zone, [create(rec(mailOwner(25), 'ro'), zone)]);
    expect(res.applied).toEqual([]);
    expect(res.problem).toMatchObject({ code: 'cloudflare-permission', subject: zone });
    expect(res.problem!.message).toBe(`The Cloudflare API token cannot edit DNS records of ${zone}.`);
    expect(res.problem!.fix).toContain('Zone:DNS:Edit');
    expect(res.problem!.fix).toContain('Zone:Zone:Read');
    expect(fake.recordsOf(zone)).toEqual([]);
    expect(fake.log.filter((l) => l.method !== 'GET').map((l) => l.status)).toEqual([403]);
  });

  it('a batch is all or nothing: one bad post leaves the zone exactly as it was', async () => {
    const o = mailOwner(25);
    const existing = fake.addRecord(zone, { name: o, comment: null, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('dup') } });
    const mine = fake.addRecord(zone, { name: o, comment: MANAGED_MARKER, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('mine') } });
    const p = provider();
    const published = await p.populate(zone, [o]);
    const before = fake.recordsOf(zone);
    const changes: Change[] = [del(published.find((r) => r.id === mine.id)!, zone), create(rec(o, 'fresh'), zone), create(rec(o, 'dup'), zone)];
    const res = await p.apply(zone, changes);
    expect(res.applied).toEqual([]);
    expect(res.problem?.code).toBe('cloudflare-record-exists');
    expect(res.problem?.message).toContain('An identical record already exists.');
    expect(fake.recordsOf(zone)).toEqual(before);
    expect(fake.recordsOf(zone).map((r) => r.id).sort()).toEqual([existing.id, mine.id].sort());
  });

  it('a delete of a record that vanished meanwhile fails the whole batch (81044)', async () => {
    const o = mailOwner(25);
    const mine = fake.addRecord(zone, { name: o, comment: MANAGED_MARKER, data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('gone') } });
    const p = provider();
    const published = await p.populate(zone, [o]);
    // Someone else removes it between our read and our write.
    const sdkFake = fake.recordsOf(zone);
    expect(sdkFake).toHaveLength(1);
    await fetch(`${url}/zones/${fake.zoneNamed(zone).id}/dns_records/${mine.id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
    const res = await p.apply(zone, [del(published[0]!, zone), create(rec(o, 'n'), zone)]);
    expect(res.problem?.code).toBe('cloudflare-record-missing');
    expect(fake.recordsOf(zone)).toEqual([]);
  });

  it('splits more than 200 changes into batch calls, creates before deletes', async () => {
    const p = provider();
    const owners = Array.from({ length: 150 }, (_, i) => owner(25, `h${i}.${zone}`));
    await p.apply(zone, owners.map((o) => create(rec(o, `old${o}`), zone)));
    const published = await p.populate(zone, owners);
    expect(published).toHaveLength(150);
    fake.resetLog();
    const changes = diff(owners.map((o) => rec(o, `new${o}`)), published); // 150 creates + 150 deletes
    const res = await p.apply(zone, changes);
    expect(res.problem).toBeUndefined();
    expect(res.applied).toHaveLength(300);
    const bodies = fake.bodies.filter((b) => b.route === 'POST /zones/:zone_id/dns_records/batch').map((b) => b.body as { posts?: unknown[]; deletes?: unknown[] });
    expect(bodies.map((b) => [b.posts?.length ?? 0, b.deletes?.length ?? 0])).toEqual([[150, 50], [0, 100]]);
    expect(res.details).toMatchObject({ batches: 2, apiCalls: 2 });
    const now = await p.populate(zone, owners);
    expect(now.map((r) => r.data).sort()).toEqual(owners.map((o) => hex(`new${o}`)).sort());
  });

  it('refuses invalid changes before any call (TTL outside Cloudflare limits, delete without id)', async () => {
    const p = provider();
    const bad = await p.apply(zone, [create(rec(mailOwner(25), 'a'), zone), create(rec(mailOwner(25), 'b', 30), zone)]);
    expect(bad.problem?.code).toBe('cloudflare-change-invalid');
    expect(bad.problem?.message).toContain('TTL 30');
    const noId = await p.apply(zone, [{ kind: 'delete', zone, record: rec(mailOwner(25), 'c'), reason: 't' }]);
    expect(noId.problem?.code).toBe('cloudflare-change-invalid');
    expect(fake.log).toEqual([]);
    // TTL 1 (automatic) is accepted.
    const auto = await p.apply(zone, [create(rec(mailOwner(25), 'auto', 1), zone)]);
    expect(auto.problem).toBeUndefined();
    expect(fake.recordsOf(zone)[0]!.ttl).toBe(1);
  });

  it('an unknown zone gives cloudflare-zone-not-found with a fix', async () => {
    const p = provider();
    const err = await p.populate('not-there.example', [owner(25, 'mail.not-there.example')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    const prob = (err as ProblemError).problem;
    expect(prob.code).toBe('cloudflare-zone-not-found');
    expect(prob.fix).toContain('Zone:Zone:Read');
    const res = await p.apply('not-there.example', [create(rec(owner(25, 'mail.not-there.example'), 'q'), 'not-there.example')]);
    expect(res.problem?.code).toBe('cloudflare-zone-not-found');
    expect(fake.writeCount()).toBe(0);
  });

  it('caches the zone id per instance', async () => {
    const p = provider();
    await p.populate(zone, [mailOwner(25)]);
    await p.populate(zone, [mailOwner(465)]);
    await p.apply(zone, [create(rec(mailOwner(25), 'c'), zone)]);
    expect(fake.count('GET /zones')).toBe(1);
  });

  it('connection errors become a clear Problem', async () => {
    const dead = new FakeCloudflare();
    const deadUrl = await dead.start();
    await dead.stop();
    const p = new CloudflareProvider({ apiToken: TOKEN, baseURL: deadUrl, maxRetries: 0, requestBudget: { max: 100, windowMs: 1000 } });
    const res = await p.apply(zone, [create(rec(mailOwner(25), 'c'), zone)]);
    expect(res.problem?.code).toBe('cloudflare-unreachable');
    expect(res.problem?.message).toContain(new URL(deadUrl).host);
  });

  it('reports the DNSSEC state', async () => {
    fake.setDnssec(zone, 'pending');
    expect(await provider().dnssecStatus(zone)).toBe('pending');
  });
});

describe('verifyToken', () => {
  it('a full token: every permission works', async () => {
    const check = await provider().verifyToken(zone);
    expect(check).toMatchObject({ ok: true, tokenActive: 'ok', zoneRead: 'ok', dnsRead: 'ok', dnsEdit: 'ok', problems: [] });
    expect(fake.writeCount()).toBe(1); // the empty batch probe
    expect(fake.recordsOf(zone)).toEqual([]);
  });

  it('a read-only token: edit is reported missing in words', async () => {
    const check = await provider({ apiToken: RO_TOKEN }).verifyToken(zone);
    expect(check).toMatchObject({ ok: false, zoneRead: 'ok', dnsRead: 'ok', dnsEdit: 'denied' });
    expect(check.summary).toContain('Zone:DNS:Edit');
    expect(check.summary).toMatch(/Zone:DNS:Edit[^;]*missing/);
    expect(check.problems.map((p) => p.code)).toEqual(['cloudflare-permission']);
  });

  it('a token without Zone:Read and an unknown token', async () => {
    fake.addToken('cf-nozone-token-aaaaaaaaaaaa', { zoneRead: false });
    const noZone = await provider({ apiToken: 'cf-nozone-token-aaaaaaaaaaaa' }).verifyToken(zone);
    expect(noZone.zoneRead).toBe('denied');
    expect(noZone.summary).toMatch(/Zone:Zone:Read[^;]*missing/);
    const bad = await provider({ apiToken: BAD_TOKEN }).verifyToken(zone);
    expect(bad).toMatchObject({ ok: false, tokenActive: 'denied' });
    expect(bad.problems[0]?.code).toBe('cloudflare-token-invalid');
  });
});

describe('request budget', () => {
  it('delays requests when the budget is small, and every HTTP request (retries too) is counted', async () => {
    const budget = new RequestBudget({ max: 3, windowMs: 250 });
    const zones = [1, 2, 3].map((i) => fake.addZone(`budget${zoneSeq}-${i}.example.org`).name);
    const p = provider({ requestBudget: budget, maxRetries: 2 });
    fake.failNext(1, 500);
    for (const z of zones) await p.populate(z, [owner(25, `mail.${z}`)]);
    // 3 zone lookups + 3 record lists + 1 retry of the failed first request.
    expect(fake.log).toHaveLength(7);
    expect(p.requests).toBe(7);
    const stats = budget.stats();
    expect(stats.granted).toBe(7);
    expect(stats.delayed).toBeGreaterThan(0);
    // Sliding window: any 4 consecutive grants span at least one window.
    const g = budget.grantLog;
    for (let i = 0; i + 3 < g.length; i++) expect(g[i + 3]! - g[i]!).toBeGreaterThanOrEqual(250);
  });

  it('a budget a little stricter than the server limit means no request is refused', async () => {
    fake.setRateLimit({ max: 4, windowMs: 300 });
    const budget = new RequestBudget({ max: 4, windowMs: 400 });
    const p = provider({ requestBudget: budget });
    const owners = [25, 465, 587].map((port) => mailOwner(port));
    await p.apply(zone, owners.map((o) => create(rec(o, o), zone)));
    for (const o of owners) await p.populate(zone, [o]);
    for (const o of owners) await p.populate(zone, [o]);
    expect(fake.log.length).toBeGreaterThan(4);
    expect(fake.log.filter((l) => l.status === 429)).toEqual([]);
    expect(budget.stats().delayed).toBeGreaterThan(0);
  });
});

describe('secrets', () => {
  it('the token never appears in Problems or log output', async () => {
    const { logger, lines } = captureLogger();
    const pinoOut: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (pinoOut.push(String(chunk)), cb()) });
    const pinoLogger = pino({ level: 'debug' }, sink);
    const problems: Problem[] = [];
    const collect = async (fn: () => Promise<unknown>) => {
      try {
        const r = await fn();
        if (r && typeof r === 'object' && 'problem' in r && r.problem) problems.push(r.problem as Problem);
        if (r && typeof r === 'object' && 'problems' in r) problems.push(...(r as { problems: Problem[] }).problems);
      } catch (e) {
        problems.push((e as ProblemError).problem);
      }
    };
    for (const [token, log] of [[BAD_TOKEN, logger], [RO_TOKEN, logger], [TOKEN, pinoLogger], [RO_TOKEN, pinoLogger]] as const) {
      const p = provider({ apiToken: token, logger: log, maxRetries: 0 });
      await collect(() => p.populate(zone, [mailOwner(25)]));
      await collect(() => p.apply(zone, [create(rec(mailOwner(25), token), zone)]));
      fake.failNext(1, 500);
      await collect(() => p.apply(zone, [create(rec(mailOwner(465), token), zone)]));
      await collect(() => p.verifyToken(zone));
      await collect(() => p.populate('missing.example', [owner(25, 'mail.missing.example')]));
    }
    expect(problems.length).toBeGreaterThan(5);
    expect(problems.map((p) => p.code)).toEqual(expect.arrayContaining(['cloudflare-permission', 'cloudflare-unavailable', 'cloudflare-zone-not-found']));
    expect(lines.length + pinoOut.length).toBeGreaterThan(0);
    const everything = JSON.stringify(problems) + lines.join('\n') + pinoOut.join('');
    for (const t of [TOKEN, RO_TOKEN, BAD_TOKEN]) expect(everything).not.toContain(t);
  });
});
