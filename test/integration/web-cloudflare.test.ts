import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
      expect(list.body).toContain(`<h3><span class="mono">shop</span> · Cloudflare · <span class="mono">${cf.url}</span></h3>`);
      expect(list.body).toMatch(/id="p-shop-apiToken" name="f\.apiToken" type="password" value="" placeholder="•••••••• \(saved; leave empty to keep\)"/);
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

describe('settings: named provider instances added, changed and removed from forms generated from the module (issue 25)', () => {
  const SECRET = 'cf-instance-s3cret-token-0123456789';
  const file = () => join(fx.root, 'etc/tlsa-manager/config.json');
  const saved = () => JSON.parse(readFileSync(file(), 'utf8')) as { providers?: Record<string, Record<string, unknown>>; zones?: Record<string, { provider: string }> };
  const post = (form: Record<string, string>) => http({ port }, 'POST', '/settings/providers', { headers: { cookie }, form: { _csrf: csrf, ...form } });

  it('offers an Add form per kind with its fields, adds an instance, and never shows its secret again', async () => {
    const page = await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } });
    expect(page.body).toContain('<summary>Add a Cloudflare server</summary>');
    expect(page.body).toMatch(/id="new-cloudflare-apiToken" name="f\.apiToken" type="password" value=""/);
    expect(page.body).toMatch(/id="new-cloudflare-baseURL" name="f\.baseURL" value=""/);
    const r = await post({ op: 'save', kind: 'cloudflare', instance: 'shop2', 'f.apiToken': SECRET, 'f.baseURL': cf.url });
    expect(r.status).toBe(303);
    expect(saved().providers?.shop2).toEqual({ kind: 'cloudflare', apiToken: SECRET, baseURL: cf.url });
    const after = await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } });
    expect(after.body).toContain('id="instance-shop2"');
    expect(after.body).not.toContain(SECRET);
    expect(ctx.state().activity({ limit: 5 }).map((a) => a.detail)).toContain('Changed: provider shop2 added (Cloudflare).');
  });

  it('refuses a bad field, a reserved or malformed name and an unknown kind with a clear message, changing nothing', async () => {
    const before = readFileSync(file(), 'utf8');
    const bad = await post({ op: 'save', instance: 'shop2', 'f.apiToken': 'other-token-value-123', 'f.baseURL': 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('providers.shop2.baseURL');
    expect(bad.body).not.toContain('other-token-value-123');
    const reserved = await post({ op: 'save', kind: 'cloudflare', instance: 'cpanel', 'f.apiToken': 'x' });
    expect(reserved.status).toBe(400);
    expect(reserved.body).toContain('&#34;cpanel&#34; is a built-in name');
    const malformed = await post({ op: 'save', kind: 'cloudflare', instance: 'Bad Name' });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toContain('must be 1 to 32 lowercase letters');
    const kind = await post({ op: 'save', kind: 'cpanel', instance: 'again' });
    expect(kind.status).toBe(400);
    expect(kind.body).toContain('choose the kind of DNS server');
    const noCsrf = await http({ port }, 'POST', '/settings/providers', { headers: { cookie }, form: { op: 'save', kind: 'cloudflare', instance: 'sneaky' } });
    expect(noCsrf.status).toBe(403);
    expect(readFileSync(file(), 'utf8')).toBe(before);
  });

  it('an empty secret keeps the saved one; its Remove box removes it; other fields change as entered', async () => {
    expect((await post({ op: 'save', instance: 'shop2', 'f.apiToken': '', 'f.baseURL': `${cf.url}/` })).status).toBe(303);
    expect(saved().providers?.shop2).toEqual({ kind: 'cloudflare', apiToken: SECRET, baseURL: `${cf.url}/` });
    expect((await post({ op: 'save', instance: 'shop2', 'f.apiToken': '', 'f.clear:apiToken': '1' })).status).toBe(303);
    expect(saved().providers?.shop2).toEqual({ kind: 'cloudflare', baseURL: `${cf.url}/` });
  });

  it('is not removed while a zone uses it; removed once no zone does', async () => {
    const cfg = saved();
    const { saveConfig } = await import('../../src/state/config.js');
    const withZone = { ...ctx.config, providers: cfg.providers as never, zones: { ...ctx.config.zones, 'cloud-demo.test': { provider: 'shop2' } } };
    saveConfig(file(), withZone);
    ctx.config = withZone;
    const refused = await post({ op: 'remove', instance: 'shop2' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('shop2 still serves the zone cloud-demo.test');
    expect(saved().providers?.shop2).toBeDefined();
    const { 'cloud-demo.test': _z, ...zones } = withZone.zones;
    ctx.config = { ...withZone, zones };
    saveConfig(file(), ctx.config);
    expect((await post({ op: 'remove', instance: 'shop2' })).status).toBe(303);
    expect(saved().providers?.shop2).toBeUndefined();
  });
});
