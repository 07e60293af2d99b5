import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCloudflare, type FakeCloudflare } from '../fakes/cloudflare/server.js';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';
import { startServer } from '../../src/web/server.js';
import type { AppContext } from '../../src/context.js';

/** The settings page's "Test" button, with the real SDK against the fake Cloudflare API. */
const FULL = 'cf-full-token-0123456789abcdef';
const READ_ONLY = 'cf-readonly-token-0123456789abcdef';
let cf: { fake: FakeCloudflare; url: string };
let fx: DemoFixture;
let ctx: AppContext;
let srv: Awaited<ReturnType<typeof startServer>>;
let port: number;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  cf = await startFakeCloudflare({ token: FULL });
  cf.fake.addToken(READ_ONLY, { dnsEdit: false });
  cf.fake.addZone('cloud-demo.test', { dnssec: 'active' });
  fx = await demoFixture();
  ctx = fx.context();
  ctx.config = { ...ctx.config, cloudflare: { apiToken: FULL, baseURL: cf.url } };
  ({ srv, port, cookie } = await signedIn(ctx, 'cf-web-test'));
  csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } })).body);
});

afterAll(async () => {
  await srv?.close();
  await cf?.fake.stop();
  fx?.cleanup();
});

async function pressTest(): Promise<string> {
  const r = await http({ port }, 'POST', '/settings/test-cloudflare', { headers: { cookie }, form: { _csrf: csrf, testZone: 'cloud-demo.test' } });
  expect(r.status).toBe(200);
  return r.body;
}

describe('settings: test the Cloudflare token', () => {
  it('reports every permission working for a full token, without showing the token', async () => {
    const page = await pressTest();
    expect(page).toContain('Zone:Zone:Read (find zones): works; DNS read on cloud-demo.test: works; Zone:DNS:Edit on cloud-demo.test: works.');
    expect(page).toMatch(/class="notice ok" id="token-test"/);
    expect(page).not.toContain(FULL);
    // The edit permission is probed with an empty batch: nothing in the zone changes.
    expect(cf.fake.recordsOf('cloud-demo.test')).toEqual([]);
  });

  it('names the missing permission for a read-only token, without showing the token', async () => {
    ctx.config = { ...ctx.config, cloudflare: { apiToken: READ_ONLY, baseURL: cf.url } };
    const page = await pressTest();
    expect(page).toContain('Zone:DNS:Edit on cloud-demo.test: missing');
    expect(page).toMatch(/class="notice error" id="token-test"/);
    expect(page).not.toContain(READ_ONLY);
    expect(page).not.toContain(READ_ONLY.slice(0, 16));
  });
});

describe('settings: a named provider instance (issue 25)', () => {
  it('is listed with its kind, server and whether its secret is saved, and its Test button runs the module\'s verify without showing the secret', async () => {
    const before = ctx.config;
    ctx.config = { ...ctx.config, providers: { shop: { kind: 'cloudflare', apiToken: READ_ONLY, baseURL: cf.url } } };
    try {
      const list = await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } });
      expect(list.body).toContain('id="provider-instances"');
      expect(list.body).toContain(`<td class="mono">shop</td><td>Cloudflare</td><td class="mono">${cf.url}</td><td>apiToken: saved</td>`);
      expect(list.body).not.toContain(READ_ONLY);
      const r = await http({ port }, 'POST', '/settings/test-provider', { headers: { cookie }, form: { _csrf: csrf, instance: 'shop', testZone: 'cloud-demo.test' } });
      expect(r.status).toBe(200);
      expect(r.body).toContain('Provider shop test:');
      expect(r.body).toMatch(/class="notice error" id="token-test"/);
      expect(r.body).toContain('Zone:DNS:Edit on cloud-demo.test');
      expect(r.body).not.toContain(READ_ONLY);
      const unknown = await http({ port }, 'POST', '/settings/test-provider', { headers: { cookie }, form: { _csrf: csrf, instance: 'nosuch' } });
      expect(unknown.status).toBe(400);
      const noCsrf = await http({ port }, 'POST', '/settings/test-provider', { headers: { cookie }, form: { instance: 'shop' } });
      expect(noCsrf.status).toBe(403);
    } finally {
      ctx.config = before;
    }
  });
});
