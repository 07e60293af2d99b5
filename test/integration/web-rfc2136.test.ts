import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';
import { startServer } from '../../src/web/server.js';
import type { AppContext } from '../../src/context.js';
import { parseConfig } from '../../src/state/config.js';
import { newKey, startBindUpdate, type UpdateServer } from '../lab/update-servers.js';

/**
 * The settings page with an rfc2136 instance (issue 25 §4): added from the form the module's
 * fields generate (nested tsig.* fields, the zone list one per line), listed with its server and
 * never its secret, and its Test button (the module's verify) run against a real BIND that takes
 * updates with the key: key accepted and zone updatable, or which of them is not.
 */
let bind: UpdateServer;
let fx: DemoFixture;
let ctx: AppContext;
let srv: Awaited<ReturnType<typeof startServer>>;
let port: number;
let cookie: string;
let csrf: string;

beforeAll(async () => {
  bind = await startBindUpdate({ key: newKey('tlsa-manager', 'hmac-sha512'), zones: [{ name: 'dyn-demo.test', records: [] }, { name: 'fixed-demo.test', records: [], updatable: false }] });
  fx = await demoFixture();
  ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, 'rfc2136-web-test'));
  csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: { cookie, accept: 'text/html' } })).body);
}, 60_000);

afterAll(async () => {
  await srv?.close();
  await bind?.stop();
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

describe('settings: an RFC 2136 instance', () => {
  it('is added from its generated form, listed with its server, its secret never shown again, and its Test button says key and zone are fine', async () => {
    const form = await page();
    expect(form).toMatch(/name="f\.tsig\.secret" type="password" value=""/);
    expect(form).toMatch(/name="f\.server"/);
    const r = await http({ port }, 'POST', '/settings/providers', {
      headers: { cookie },
      form: { _csrf: csrf, op: 'save', kind: 'rfc2136', instance: 'hidden', 'f.server': bind.server, 'f.tsig.name': 'tlsa-manager.', 'f.tsig.algorithm': 'hmac-sha512', 'f.tsig.secret': bind.key.secret, 'f.zones': 'dyn-demo.test\nfixed-demo.test', 'f.timeoutSeconds': '' },
    });
    expect(r.status, r.body).toBe(303);
    expect(saved().providers?.hidden).toEqual({ kind: 'rfc2136', server: bind.server, tsig: { name: 'tlsa-manager', algorithm: 'hmac-sha512', secret: bind.key.secret }, zones: ['dyn-demo.test', 'fixed-demo.test'], timeoutSeconds: 5 });
    ctx.config = parseConfig(saved(), 'config.json');
    const listed = await page();
    expect(listed).toContain(`<span class="mono">hidden</span> · RFC 2136 dynamic update (TSIG) · <span class="mono">${bind.server}</span>`);
    expect(listed).not.toContain(bind.key.secret);

    const ok = await pressTest('hidden', 'dyn-demo.test');
    expect(ok).toMatch(/class="notice ok" id="token-test"/);
    expect(ok).toContain('accepts the TSIG key');
    expect(ok).not.toContain(bind.key.secret);
    const refused = await pressTest('hidden', 'fixed-demo.test');
    expect(refused).toMatch(/class="notice error" id="token-test"/);
    expect(refused).toContain('refused an update for zone fixed-demo.test');
    expect(refused).not.toContain(bind.key.secret);
  });

  it('a wrong secret: the Test button says the key is not accepted, showing neither secret', async () => {
    const before = ctx.config;
    const wrong = newKey().secret;
    ctx.config = parseConfig({ ...saved(), providers: { ...saved().providers, bad: { kind: 'rfc2136', server: bind.server, tsig: { name: 'tlsa-manager', algorithm: 'hmac-sha512', secret: wrong } } } }, 'config.json');
    try {
      const body = await pressTest('bad', 'dyn-demo.test');
      expect(body).toMatch(/class="notice error" id="token-test"/);
      expect(body).toContain('does not accept the TSIG key');
      expect(body).not.toContain(wrong);
      expect(body).not.toContain(bind.key.secret);
    } finally {
      ctx.config = before;
    }
  });
});
