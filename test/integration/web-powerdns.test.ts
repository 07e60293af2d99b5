import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';
import { startServer } from '../../src/web/server.js';
import type { AppContext } from '../../src/context.js';
import { parseConfig } from '../../src/state/config.js';
import { startPowerDns, type PowerDns } from '../helpers/powerdns.js';

/**
 * The settings page with a powerdns instance (issue 25 §4): added from the form the module's
 * fields generate, listed with its URL and never its key, and its Test button (the module's
 * verify) run against a real pdns_server: key valid and zone found, or which of them is not.
 */
let pdns: PowerDns;
let fx: DemoFixture;
let ctx: AppContext;
let srv: Awaited<ReturnType<typeof startServer>>;
let port: number;
let cookie: string;
let csrf: string;
const WRONG = 'pdns-WRONG-web-k3y-0123456789';

beforeAll(async () => {
  pdns = await startPowerDns();
  await pdns.createZone('pdns-demo.test');
  fx = await demoFixture();
  ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, 'pdns-web-test'));
  csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } })).body);
}, 60_000);

afterAll(async () => {
  await srv?.close();
  await pdns?.stop();
  fx?.cleanup();
});

const file = () => join(fx.root, 'etc/tlsa-manager/config.json');
const saved = () => JSON.parse(readFileSync(file(), 'utf8')) as { providers?: Record<string, Record<string, unknown>> };
const page = async () => (await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } })).body;
const pressTest = async (instance: string, testZone: string) => {
  const r = await http({ port }, 'POST', '/settings/test-provider', { headers: { cookie }, form: { _csrf: csrf, instance, testZone } });
  expect(r.status).toBe(200);
  return r.body;
};

describe('settings: a PowerDNS instance', () => {
  it('is added from its generated form, listed with its URL, its key never shown again, and its Test button says key valid and zone found', async () => {
    const form = await page();
    expect(form).toMatch(/id="new-powerdns-apiKey" name="f\.apiKey" type="password" value=""/);
    expect(form).toMatch(/id="new-powerdns-url" name="f\.url"/);
    const r = await http({ port }, 'POST', '/settings/providers', { headers: { cookie }, form: { _csrf: csrf, op: 'save', kind: 'powerdns', instance: 'pdns', 'f.url': pdns.url, 'f.apiKey': pdns.apiKey, 'f.serverId': '' } });
    expect(r.status, r.body).toBe(303);
    expect(saved().providers?.pdns).toEqual({ kind: 'powerdns', url: pdns.url, apiKey: pdns.apiKey, serverId: 'localhost' });
    ctx.config = parseConfig(saved(), 'config.json');
    const listed = await page();
    expect(listed).toContain(`<span class="mono">pdns</span> · PowerDNS (HTTP API) · <span class="mono">${pdns.url}</span>`);
    expect(listed).not.toContain(pdns.apiKey);

    const ok = await pressTest('pdns', 'pdns-demo.test');
    expect(ok).toContain('Provider pdns test:');
    expect(ok).toMatch(/class="notice ok" id="token-test"/);
    expect(ok).toContain('the API key works and zone pdns-demo.test is there');
    const missing = await pressTest('pdns', 'not-there.test');
    expect(missing).toMatch(/class="notice error" id="token-test"/);
    expect(missing).toContain('zone not-there.test is not there');
    expect(missing).not.toContain(pdns.apiKey);
  });

  it('a wrong key: the Test button says so without showing either key', async () => {
    const before = ctx.config;
    ctx.config = parseConfig({ ...saved(), providers: { ...saved().providers, bad: { kind: 'powerdns', url: pdns.url, apiKey: WRONG } } }, 'config.json');
    try {
      const body = await pressTest('bad', 'pdns-demo.test');
      expect(body).toMatch(/class="notice error" id="token-test"/);
      expect(body).toContain('did not accept the API key (HTTP 401)');
      expect(body).not.toContain(WRONG);
      expect(body).not.toContain(pdns.apiKey);
    } finally {
      ctx.config = before;
    }
  });
});
