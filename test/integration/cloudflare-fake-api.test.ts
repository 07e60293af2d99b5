import Cloudflare from 'cloudflare';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudflareProvider } from '../../src/providers/cloudflare/client.js';
import { RequestBudget } from '../../src/providers/cloudflare/rate-limit.js';
import { FakeCloudflare, startFakeCloudflare } from '../fakes/cloudflare/server.js';

/**
 * The fake must behave like the real API as the reference describes it, or the provider tests
 * prove nothing. These drive it with the official SDK (and plain fetch where the SDK hides
 * details such as headers), plus the request budget on a virtual clock.
 */

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

let fake: FakeCloudflare;
let url: string;
let token: string;
let cf: Cloudflare;

beforeAll(async () => {
  ({ fake, url, token } = await startFakeCloudflare());
  cf = new Cloudflare({ apiToken: token, baseURL: url, maxRetries: 0, logLevel: 'off' });
  fake.addZone('example.com');
  fake.addZone('example.net');
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  fake.resetLog();
  fake.clearFaults();
});

const tlsa = (cert: string, extra: Record<string, unknown> = {}) => ({ type: 'TLSA' as const, ttl: 3600, data: { usage: 3, selector: 1, matching_type: 1, certificate: cert }, ...extra });

describe('fake Cloudflare API', () => {
  it('answers with the v4 envelope, JSON content type and result_info on lists', async () => {
    const res = await fetch(`${url}/zones?name=example.com`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ success: true, errors: [], messages: [], result_info: { page: 1, per_page: 20, count: 1, total_count: 1, total_pages: 1 } });
    expect((body.result as Array<{ name: string }>).map((z) => z.name)).toEqual(['example.com']);

    const nf = await fetch(`${url}/nowhere`, { headers: { Authorization: `Bearer ${token}` } });
    expect(nf.status).toBe(404);
    expect(nf.headers.get('content-type')).toBe('application/json');
  });

  it('rejects unknown tokens with 403 code 10000, and verify with 401', async () => {
    const bad = new Cloudflare({ apiToken: 'nope-nope-nope', baseURL: url, maxRetries: 0, logLevel: 'off' });
    const e1 = await bad.zones.list({ name: 'example.com' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(Cloudflare.PermissionDeniedError);
    expect((e1 as InstanceType<typeof Cloudflare.PermissionDeniedError>).errors).toEqual([{ code: 10000, message: 'Authentication error' }]);
    const e2 = await bad.user.tokens.verify().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(Cloudflare.AuthenticationError);
    expect((await cf.user.tokens.verify()).status).toBe('active');
  });

  it('stores TLSA from data, presents upper-case content, keeps comments, validates TTL', async () => {
    const zoneId = fake.zoneNamed('example.com').id;
    const r = await cf.dns.records.create({ zone_id: zoneId, name: '_25._tcp.mail.example.com', ...tlsa(hex('a'), { comment: 'note' }) });
    expect(r.content).toBe(`3 1 1 ${hex('a').toUpperCase()}`);
    expect(r.comment).toBe('note');
    expect(r.name).toBe('_25._tcp.mail.example.com');

    // Relative names are made absolute, like the real API does.
    const rel = await cf.dns.records.create({ zone_id: zoneId, name: '_465._tcp.mail', ...tlsa(hex('rel')) });
    expect(rel.name).toBe('_465._tcp.mail.example.com');

    for (const ttl of [0, 59, 86401]) {
      const e = await cf.dns.records.create({ zone_id: zoneId, name: '_25._tcp.mail.example.com', ...tlsa(hex('t'), { ttl }) }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(Cloudflare.BadRequestError);
    }
    const noData = await fetch(`${url}/zones/${zoneId}/dns_records`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'TLSA', name: '_25._tcp.x.example.com', ttl: 300, content: `3 1 1 ${hex('c')}` }) });
    expect(noData.status).toBe(400);
  });

  it('duplicates give 400/81058, deleting a missing record gives 81044', async () => {
    const zoneId = fake.zoneNamed('example.com').id;
    await cf.dns.records.create({ zone_id: zoneId, name: '_25._tcp.dup.example.com', ...tlsa(hex('d')) });
    // Same content in the other hex case is still identical.
    const dup = await cf.dns.records.create({ zone_id: zoneId, name: '_25._tcp.dup.example.com', ...tlsa(hex('d').toUpperCase()) }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(Cloudflare.BadRequestError);
    expect((dup as InstanceType<typeof Cloudflare.BadRequestError>).errors).toEqual([{ code: 81058, message: 'An identical record already exists.' }]);
    const missing = await cf.dns.records.delete('0123456789abcdef', { zone_id: zoneId }).catch((e: unknown) => e);
    expect((missing as InstanceType<typeof Cloudflare.APIError>).errors[0]?.code).toBe(81044);
  });

  it('filters by type and name.exact (and plain name); a page past the end is empty, so SDK iteration stops', async () => {
    fake.addZone('paging.example');
    const zoneId = fake.zoneNamed('paging.example').id;
    for (let i = 0; i < 7; i++) fake.addRecord('paging.example', { name: '_25._tcp.mx.paging.example', data: { usage: 3, selector: 1, matching_type: 1, certificate: hex(`p${i}`) } });
    fake.addRecord('paging.example', { name: '_25._tcp.other.paging.example', data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('o') } });
    fake.addRecord('paging.example', { name: 'mx.paging.example', type: 'A', content: '192.0.2.7' });
    fake.resetLog();

    const seen: string[] = [];
    for await (const r of cf.dns.records.list({ zone_id: zoneId, type: 'TLSA', name: { exact: '_25._tcp.mx.paging.example' }, per_page: 3 })) seen.push(r.id);
    expect(seen).toHaveLength(7);
    // Pages 1..3 hold 3+3+1; the SDK only stops at the empty page 4.
    expect(fake.log.map((l) => new URLSearchParams(l.query).get('page'))).toEqual([null, '2', '3', '4']);

    const plain = await fetch(`${url}/zones/${zoneId}/dns_records?name=_25._tcp.other.paging.example`, { headers: { Authorization: `Bearer ${token}` } });
    expect(((await plain.json()) as { result: unknown[] }).result).toHaveLength(1);
    const aOnly = await cf.dns.records.list({ zone_id: zoneId, type: 'A' });
    expect(aOnly.result.map((r) => r.content)).toEqual(['192.0.2.7']);
  });

  it('batch runs deletes before posts, as one transaction', async () => {
    fake.addZone('batch.example');
    const zoneId = fake.zoneNamed('batch.example').id;
    const a = fake.addRecord('batch.example', { name: '_25._tcp.mx.batch.example', data: { usage: 3, selector: 1, matching_type: 1, certificate: hex('a') } });
    // Deleting and re-posting the same content works only because deletes run first.
    const ok = await cf.dns.records.batch({ zone_id: zoneId, deletes: [{ id: a.id }], posts: [{ name: '_25._tcp.mx.batch.example', ...tlsa(hex('a')) }] });
    expect(ok.deletes?.map((r) => r.id)).toEqual([a.id]);
    expect(ok.posts).toHaveLength(1);
    const after = fake.recordsOf('batch.example');
    expect(after).toHaveLength(1);
    expect(after[0]!.id).not.toBe(a.id);

    // A bad post (TTL 5) makes the whole batch fail: the delete before it is not applied either.
    const e = await cf.dns.records
      .batch({ zone_id: zoneId, deletes: [{ id: after[0]!.id }], posts: [{ name: '_25._tcp.mx.batch.example', ...tlsa(hex('b')) }, { name: '_25._tcp.mx.batch.example', ...tlsa(hex('c'), { ttl: 5 }) }] })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Cloudflare.BadRequestError);
    expect(fake.recordsOf('batch.example')).toEqual(after);
  });

  it('injects 429 with Retry-After and 500, counts them, and supports a rate-limit mode', async () => {
    fake.failNext(1, 429, '7');
    const r1 = await fetch(`${url}/zones`, { headers: { Authorization: `Bearer ${token}` } });
    expect(r1.status).toBe(429);
    expect(r1.headers.get('retry-after')).toBe('7');
    fake.failNext(2, 500);
    expect((await fetch(`${url}/zones`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(500);
    expect((await fetch(`${url}/zones`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(500);
    expect((await fetch(`${url}/zones`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(fake.counts()).toEqual({ 'GET /zones': 4 });
    expect(fake.log.map((l) => l.injected)).toEqual([true, true, true, false]);

    fake.resetLog();
    fake.setRateLimit({ max: 2, windowMs: 60_000 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${url}/zones`, { headers: { Authorization: `Bearer ${token}` } })).status);
    fake.setRateLimit(null);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('reports DNSSEC state', async () => {
    fake.setDnssec('example.net', 'disabled');
    const d = await cf.dns.dnssec.get({ zone_id: fake.zoneNamed('example.net').id });
    expect(d.status).toBe('disabled');
  });

  it('serves 1,000 zones with exact name lookup (benchmark scale)', async () => {
    const big = new FakeCloudflare();
    const bigUrl = await big.start();
    try {
      big.addToken(token);
      for (let i = 0; i < 1000; i++) big.addZone(`customer${i}.example`);
      const client = new Cloudflare({ apiToken: token, baseURL: bigUrl, maxRetries: 0, logLevel: 'off' });
      const page = await client.zones.list({ name: 'customer737.example' });
      expect(page.result.map((z) => z.name)).toEqual(['customer737.example']);
      const all = await client.zones.list({ per_page: 50, page: 20 });
      expect(all.result).toHaveLength(50);
      expect((all.result_info as { total_count?: number }).total_count).toBe(1000);
    } finally {
      await big.stop();
    }
  });
});

describe('provider limits', () => {
  it('429 beyond the SDK retries gives a clear Problem', async () => {
    fake.addZone('limited.example');
    const p = new CloudflareProvider({ apiToken: token, baseURL: url, maxRetries: 1, requestBudget: { max: 100, windowMs: 1000 } });
    fake.failNext(5, 429, '0');
    const res = await p.apply('limited.example', [
      { kind: 'create', zone: 'limited.example', record: { owner: '_25._tcp.mx.limited.example', ttl: 300, usage: 3, selector: 1, matchingType: 1, data: hex('l') }, reason: 't' },
    ]);
    expect(res.problem?.code).toBe('cloudflare-rate-limited');
    expect(res.problem?.fix).toContain('1,200 requests per 5 minutes');
    expect(fake.log.map((l) => l.status)).toEqual([429, 429]);
    expect(fake.recordsOf('limited.example')).toEqual([]);
  });
});

describe('RequestBudget on a virtual clock', () => {
  function virtual() {
    let t = 0;
    const sleeps: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      sleeps,
      advance: (ms: number) => (t += ms),
    };
  }

  it('grants at most max per sliding window, in arrival order, delaying rather than failing', async () => {
    const clock = virtual();
    const b = new RequestBudget({ max: 2, windowMs: 1000, now: clock.now, sleep: clock.sleep });
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => b.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(b.grantLog).toEqual([0, 0, 1000, 1000, 2000]);
    expect(b.stats()).toMatchObject({ granted: 5, delayed: 3 });
  });

  it('slots free up as the window slides, not all at once', async () => {
    const clock = virtual();
    const b = new RequestBudget({ max: 3, windowMs: 1000, now: clock.now, sleep: clock.sleep });
    await b.acquire(); // t=0
    clock.advance(400);
    await b.acquire(); // t=400
    await b.acquire(); // t=400
    await b.acquire(); // waits for the t=0 grant to leave the window → t=1000
    await b.acquire(); // waits for t=400 → 1400
    expect(b.grantLog).toEqual([0, 400, 400, 1000, 1400]);
  });

  it('a server-requested pause holds every request', async () => {
    const clock = virtual();
    const b = new RequestBudget({ max: 100, windowMs: 1000, now: clock.now, sleep: clock.sleep });
    await b.acquire();
    b.pauseFor(5000);
    await b.acquire();
    expect(b.grantLog).toEqual([0, 5000]);
  });

  it('rejects nonsense limits', () => {
    expect(() => new RequestBudget({ max: 0, windowMs: 1000 })).toThrow(RangeError);
    expect(() => new RequestBudget({ max: 5, windowMs: 0 })).toThrow(RangeError);
  });
});
