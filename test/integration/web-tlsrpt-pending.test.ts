import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_PATH, defaultConfig, saveConfig } from '../../src/state/config.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * The overview's "Pending changes" counts every planned change, TLS-RPT policies included; its link
 * lists the domains with changes pending. A policy-only change must show there under its mail
 * domain (it used to be counted on the overview and attributed to no domain: an empty list).
 */
let fx: DemoFixture;
const TOKEN = 'tlsrpt-pending-token';
const config = (publish: 'off' | 'all') => ({ ...defaultConfig(), resolver: '127.0.0.1:9', cpanel: { ...defaultConfig().cpanel, useWhmApi: false, reloadCommand: ['true'], authoritative: false as const }, tlsrpt: { publish, retentionDays: 400 } });

beforeAll(async () => {
  fx = await demoFixture();
  saveConfig(join(fx.root, CONFIG_PATH), config('off'));
  const ctx = fx.context();
  const providers = new Providers(ctx);
  const results = await applyPlan(ctx, providers, await makePlan(ctx, providers), 'test');
  expect(results.filter((r) => r.problem)).toEqual([]);
  saveConfig(join(fx.root, CONFIG_PATH), config('all'));
});
afterAll(() => fx?.cleanup());

describe('pending TLS-RPT policy changes', () => {
  it('are listed under their mail domain behind the overview link', async () => {
    const ctx = fx.context();
    const { srv, port, cookie } = await signedIn(ctx, TOKEN);
    try {
      const get = async (path: string) => {
        const r = await http({ port }, 'GET', path, { headers: { cookie, accept: 'text/html' } });
        expect(r.status).toBe(200);
        return r.body;
      };
      const overview = await get('/');
      const count = Number(/(\d+) record change\(s\)/.exec(overview)?.[1]);
      expect(count).toBeGreaterThan(0);
      const plan = await makePlan(ctx, new Providers(ctx));
      const changes = plan.zones.flatMap((z) => z.changes);
      // Only policies are pending: TLSA was applied above.
      expect(changes.length).toBe(count);
      expect(changes.every((c) => c.record.owner.startsWith('_smtp._tls.'))).toBe(true);
      const list = await get('/domains?tlsa=pending&pageSize=200');
      for (const c of changes) expect(list).toContain(`>${c.record.owner.slice('_smtp._tls.'.length)}<`);
    } finally {
      await srv.close();
    }
  });
});
