import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCloudflare, type FakeCloudflare } from '../fakes/cloudflare/server.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';

/**
 * Issue 3 through the whole pipeline with the real SDK against the fake Cloudflare API: the
 * server hostname's zone lives at Cloudflare and customer domains use it as MX.
 */
let cf: { fake: FakeCloudflare; url: string; token: string };
let pki: TestPki;
let root: string;
const ZONE = 'cfhost.test';
const HOST = `server.${ZONE}`;
const FOREIGN = 'ab'.repeat(32);

beforeAll(async () => {
  cf = await startFakeCloudflare();
  cf.fake.addZone(ZONE, { dnssec: 'active' });
  cf.fake.addRecord(ZONE, { name: `_25._tcp.${HOST}`, type: 'TLSA', ttl: 300, data: { usage: 3, selector: 1, matching_type: 1, certificate: FOREIGN } });
  cf.fake.addRecord(ZONE, { name: HOST, type: 'A', content: '192.0.2.10' });
  pki = makePki();
  const first = pki.leaf(HOST);
  root = makeFakeRoot({
    hostname: HOST,
    domains: { 'shop.test': 'shop' },
    local: ['shop.test'],
    zones: { 'shop.test': cpanelZone('shop.test', [`shop.test. IN MX 10 ${HOST}.`]) },
    eximCrt: readFileSync(first.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { ttl: 60 }, zones: { [ZONE]: { provider: 'cloudflare' } }, cloudflare: { apiToken: cf.token, baseURL: cf.url } }) },
  });
});
afterAll(() => cf.fake.stop());

function context(offsetMs = 0): AppContext {
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  ctx.now = () => Date.now() + offsetMs;
  return ctx;
}

async function apply(ctx: AppContext) {
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers);
  const results = await applyPlan(ctx, providers, plan, 'test');
  for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
  return { plan, results };
}

const tlsaAt = () => cf.fake.recordsOf(ZONE, 'TLSA').map((r) => `${r.name} ${r.content.toLowerCase()}`).sort();

describe('Cloudflare through plan/apply and the rollover ledger', () => {
  it('creates, is idempotent, keeps the old key for 2xTTL after a renewal, then retires it; never touches the foreign record', async () => {
    const firstSpki = opensslTlsaData(join(root, 'var/cpanel/ssl/exim/exim.crt'), 1, 1);
    const inter = opensslTlsaData(pki.interCert, 1, 1);
    const owners = [25, 465, 587].map((p) => `_${p}._tcp.${HOST}`);

    await apply(context());
    expect(tlsaAt()).toEqual([...owners.flatMap((o) => [`${o} 3 1 1 ${firstSpki}`, `${o} 2 1 1 ${inter}`]), `_25._tcp.${HOST} 3 1 1 ${FOREIGN}`].sort());
    expect(cf.fake.recordsOf(ZONE, 'TLSA').filter((r) => r.comment?.includes('tlsa-manager'))).toHaveLength(6);

    const writes = cf.fake.writeCount();
    const again = await apply(context());
    expect(again.results).toEqual([]);
    expect(cf.fake.writeCount()).toBe(writes);
    expect(again.plan.zones[0]!.foreign.map((f) => f.data)).toEqual([FOREIGN]);

    // AutoSSL renews the service certificate with a new key from the same intermediate.
    const renewed = pki.leaf(HOST);
    writeFileSync(join(root, 'var/cpanel/ssl/exim/exim.crt'), readFileSync(renewed.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'));
    const newSpki = opensslTlsaData(renewed.cert, 1, 1);
    const renewal = await apply(context());
    expect(renewal.results[0]!.applied.map((c) => c.kind)).toEqual(['create', 'create', 'create']);
    expect(renewal.plan.zones[0]!.waiting.map((w) => w.reason)).toEqual(Array(3).fill('its replacement is not published yet'));
    const held = (await makePlan(context(), new Providers(context()))).zones[0]!;
    expect(held.changes).toEqual([]);
    expect(held.waiting.map((w) => [w.record.data, w.reason])).toEqual(Array(3).fill([firstSpki, 'its replacement has not been published for 2×TTL yet']));
    expect(tlsaAt().filter((l) => l.includes(firstSpki))).toHaveLength(3);

    // 2xTTL (120 s) later the old key's records go; the foreign one stays.
    const later = await apply(context(121_000));
    expect(later.results[0]!.applied.map((c) => [c.kind, c.record.data])).toEqual([['delete', firstSpki], ['delete', firstSpki], ['delete', firstSpki]]);
    expect(tlsaAt()).toEqual([...owners.flatMap((o) => [`${o} 3 1 1 ${newSpki}`, `${o} 2 1 1 ${inter}`]), `_25._tcp.${HOST} 3 1 1 ${FOREIGN}`].sort());
  });
});

describe('Cloudflare request budget over many zones', () => {
  it('looks zone ids up with one listing, reads each zone once, and re-runs with no writes', async () => {
    const local = await startFakeCloudflare();
    try {
      const zones = Array.from({ length: 12 }, (_, i) => `many${i}.test`);
      for (const z of zones) local.fake.addZone(z, { dnssec: 'active' });
      const service = pki.leaf('mx.host.test');
      const many = makeFakeRoot({
        hostname: 'server.host.test',
        domains: Object.fromEntries(zones.map((z) => [z, 'user'])),
        local: zones,
        // A local copy of each zone tells the MX; the settings say its records are published at Cloudflare.
        zones: Object.fromEntries(zones.map((z) => [z, cpanelZone(z, [`${z}. IN MX 10 mail.${z}.`, `mail.${z}. IN A 192.0.2.10`])])),
        eximCrt: readFileSync(service.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
        files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { ttl: 60 }, zones: Object.fromEntries(zones.map((z) => [z, { provider: 'cloudflare' }])), cloudflare: { apiToken: local.token, baseURL: local.url } }) },
      });
      const ctx = createContext({ root: many, logger: createLogger({ level: 'silent' }) });
      const providers = new Providers(ctx);
      const results = await applyPlan(ctx, providers, await makePlan(ctx, providers), 'test');
      expect(results.filter((r) => r.problem)).toEqual([]);
      const first = local.fake.counts();
      expect(first['GET /zones']).toBe(1);
      // One TLSA listing per zone (planned once, not re-read under the lock) and one batch write.
      expect(first['GET /zones/:zone_id/dns_records']).toBe(zones.length);
      expect(first['POST /zones/:zone_id/dns_records/batch']).toBe(zones.length);
      local.fake.resetLog();
      const ctx2 = createContext({ root: many, logger: createLogger({ level: 'silent' }) });
      const p2 = new Providers(ctx2);
      expect(await applyPlan(ctx2, p2, await makePlan(ctx2, p2), 'test')).toEqual([]);
      expect(local.fake.writeCount()).toBe(0);
      expect(local.fake.counts()).toEqual({ 'GET /zones': 1, 'GET /zones/:zone_id/dns_records': zones.length });
    } finally {
      await local.fake.stop();
    }
  });
});
