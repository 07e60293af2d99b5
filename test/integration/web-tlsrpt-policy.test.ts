import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_PATH, defaultConfig, saveConfig } from '../../src/state/config.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * Issue 14 §1 on the domain page: the `_smtp._tls` policy TLSA Manager will publish, then in sync
 * after apply; someone else's policy is shown as foreign (its text escaped) with the note and fix,
 * and the activity log names the TXT record published.
 */
let fx: DemoFixture;
const TOKEN = 'tlsrpt-policy-token';
const HOSTILE = 'v=TLSRPTv1; rua=mailto:<script>alert(1)</script>@x.example';

async function page(path: string): Promise<string> {
  const ctx = fx.context();
  const { srv, port, cookie } = await signedIn(ctx, TOKEN);
  try {
    const r = await http({ port }, 'GET', path, { headers: { cookie, accept: 'text/html' } });
    expect(r.status).toBe(200);
    return r.body;
  } finally {
    await srv.close();
  }
}

beforeAll(async () => {
  fx = await demoFixture();
  saveConfig(join(fx.root, CONFIG_PATH), { ...defaultConfig(), resolver: '127.0.0.1:9', cpanel: { ...defaultConfig().cpanel, useWhmApi: false, reloadCommand: ['true'], authoritative: false }, tlsrpt: { publish: 'all', retentionDays: 400 } });
  appendFileSync(join(fx.root, 'var/named/bravo-demo.test.db'), `_smtp._tls\t300\tIN\tTXT\t"${HOSTILE}"\n`);
});
afterAll(() => fx?.cleanup());

describe('the TLS reporting policy on the domain page', () => {
  it('shows the policy to be created, then in sync after apply; the activity log names it', async () => {
    const before = await page('/domains/charlie-demo.test');
    expect(before).toContain('TLS reporting policy');
    expect(before).toMatch(/_smtp\._tls\.charlie-demo\.test<\/td><td class="mono wrap">TXT "v=TLSRPTv1; rua=mailto:tlsrpt@server\.demo-host\.test"<\/td><td><span class="diff create">\+ create<\/span>/);
    const ctx = fx.context();
    const providers = new Providers(ctx);
    const results = await applyPlan(ctx, providers, await makePlan(ctx, providers), 'test');
    expect(results.filter((r) => r.problem)).toEqual([]);
    const after = await page('/domains/charlie-demo.test');
    expect(after).toMatch(/TXT "v=TLSRPTv1; rua=mailto:tlsrpt@server\.demo-host\.test"<\/td><td><span class="diff same">in sync<\/span>/);
    expect(after).not.toContain('+ create</span> <span class="muted small">TLS-RPT');
    const log = ctx.state().activity({ limit: 500 }).filter((a) => a.subject === '_smtp._tls.charlie-demo.test');
    expect(log.map((a) => [a.kind, a.detail])).toEqual([['create', 'TXT "v=TLSRPTv1; rua=mailto:tlsrpt@server.demo-host.test" (TLS-RPT policy: senders mail reports to tlsrpt@server.demo-host.test)']]);
  });

  it("shows someone else's policy as foreign, escaped, with the note and its fix", async () => {
    const body = await page('/domains/bravo-demo.test');
    expect(body).not.toContain('<script>alert(1)</script>');
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).toMatch(/<span class="diff foreign">foreign<\/span>/);
    expect(body).toContain('apply --takeover _smtp._tls.bravo-demo.test');
  });
});
