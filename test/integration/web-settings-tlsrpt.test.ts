import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/web/server.js';
import { makePlan } from '../../src/plan/run.js';
import { Providers } from '../../src/provider-instances.js';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * Issue 14 on the Settings page: tlsrpt.publish and tlsrpt.address are saved to the config file
 * through the same validation as the file itself, bad input is refused with a message naming it
 * and changes nothing, and the next plan publishes what was saved.
 */
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
const TOKEN = 'settings-tlsrpt-token';
const html = () => ({ cookie, accept: 'text/html' });
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');
const saved = () => JSON.parse(readFileSync(configFile(), 'utf8'));
const base = () => ({ _csrf: csrf, ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', tlsrptForm: '1' });
const post = (form: Record<string, string | string[]>) => http({ port }, 'POST', '/settings', { headers: { cookie }, form });

/** The TLS-RPT policies the next plan creates, as [owner, TXT text]. */
async function plannedPolicies(): Promise<[string, string][]> {
  const ctx = fx.context();
  const plan = await makePlan(ctx, new Providers(ctx));
  return plan.zones
    .flatMap((z) => z.changes)
    .filter((c) => c.kind === 'create' && 'text' in c.record)
    .map((c): [string, string] => [c.record.owner, (c.record as { text: string }).text])
    .sort();
}

beforeAll(async () => {
  fx = await demoFixture();
  const ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
  csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: html() })).body);
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe('TLS reporting on the settings page', () => {
  it('shows the choice (off by default) and the default address from /etc/hostname', async () => {
    const page = (await http({ port }, 'GET', '/settings', { headers: html() })).body;
    expect(page).toContain('<input type="radio" name="tlsrptPublish" value="off" checked>');
    expect(page).toContain('placeholder="tlsrpt@server.demo-host.test"');
    expect(page).toContain('only the default address is delivered to this server');
  });

  it('saves "only these domains" and an address to the config file; the next plan publishes exactly that', async () => {
    const save = await post({ ...base(), tlsrptPublish: 'list', tlsrptDomains: 'Charlie-Demo.test\r\n\r\n  alpha-demo.test  \r\ncharlie-demo.test\r\n', tlsrptAddress: ' reports@mx.example.net ' });
    expect(save.status).toBe(303);
    expect(save.headers.location).toContain('/settings?saved=1');
    expect(saved().tlsrpt).toEqual({ publish: ['charlie-demo.test', 'alpha-demo.test'], address: 'reports@mx.example.net', retentionDays: 400 });
    const page = (await http({ port }, 'GET', '/settings?saved=1', { headers: html() })).body;
    expect(page).toContain('<input type="radio" name="tlsrptPublish" value="list" checked>');
    expect(page).toContain('>charlie-demo.test\nalpha-demo.test</textarea>');
    expect(page).toContain('value="reports@mx.example.net"');
    expect(page).toMatch(/Pending changes on the <a href="[^"]*">Overview<\/a>/);
    expect(await plannedPolicies()).toEqual([
      ['_smtp._tls.alpha-demo.test', 'v=TLSRPTv1; rua=mailto:reports@mx.example.net'],
      ['_smtp._tls.charlie-demo.test', 'v=TLSRPTv1; rua=mailto:reports@mx.example.net'],
    ]);
  });

  it('an empty address means the default: it leaves the file, and the plan uses tlsrpt@<hostname>', async () => {
    expect((await post({ ...base(), tlsrptPublish: 'all', tlsrptDomains: 'ignored.test', tlsrptAddress: '' })).status).toBe(303);
    expect(saved().tlsrpt).toEqual({ publish: 'all', retentionDays: 400 });
    const policies = await plannedPolicies();
    expect(policies.length).toBeGreaterThan(2);
    for (const [, text] of policies) expect(text).toBe('v=TLSRPTv1; rua=mailto:tlsrpt@server.demo-host.test');
    // A form without the TLS-RPT part (an older page) leaves the saved choice alone.
    const { tlsrptForm: _f, ...older } = base();
    expect((await post({ ...older, tlsrptPublish: 'off' })).status).toBe(303);
    expect(saved().tlsrpt).toEqual({ publish: 'all', retentionDays: 400 });
  });

  it('refuses a bad address or domain list with a message naming it, and the config file stays byte for byte', async () => {
    const before = readFileSync(configFile());
    const cases: [Record<string, string>, string][] = [
      [{ tlsrptPublish: 'all', tlsrptAddress: 'tls rpt@mx.example.net' }, 'tlsrpt.address: has a local part TLSA Manager does not publish'],
      [{ tlsrptPublish: 'all', tlsrptAddress: 'tlsrpt@localhost' }, 'tlsrpt.address: has a domain without a dot'],
      [{ tlsrptPublish: 'all', tlsrptAddress: 'tlsrpt@mx.example.net;x' }, 'tlsrpt.address: has a domain that is not a DNS name'],
      [{ tlsrptPublish: 'list', tlsrptDomains: 'alpha-demo.test\nbad domain!.test' }, 'TLS reporting: &#34;bad domain!.test&#34; is not a domain name: contains whitespace or control characters.'],
      [{ tlsrptPublish: 'list', tlsrptDomains: 'alpha-demo.test\nx..test' }, 'TLS reporting: &#34;x..test&#34; is not a domain name: has an empty label (two dots in a row).'],
      [{ tlsrptPublish: 'list', tlsrptDomains: '\n \n' }, 'TLS reporting: &#34;Only these domains&#34; is chosen but no domain is listed.'],
      [{ tlsrptPublish: 'sometimes' }, 'TLS reporting: choose Off, All domains or Only these domains.'],
    ];
    for (const [form, message] of cases) {
      const r = await post({ ...base(), ...form });
      expect(r.status, message).toBe(400);
      expect(r.body).toContain('<strong>Not saved.</strong>');
      expect(r.body).toContain(message);
    }
    // What was typed comes back escaped.
    const hostile = await post({ ...base(), tlsrptPublish: 'list', tlsrptDomains: '<script>alert(1)</script>.test', tlsrptAddress: '"><img src=x>@a.test' });
    expect(hostile.status).toBe(400);
    expect(hostile.body).not.toContain('<script>alert(1)');
    expect(hostile.body).not.toContain('<img src=x>');
    expect(hostile.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;.test</textarea>');
    expect(readFileSync(configFile()).equals(before)).toBe(true);
  });

  it('refuses a save without the CSRF token and changes nothing', async () => {
    const before = readFileSync(configFile());
    const { _csrf: _c, ...form } = base();
    const r = await post({ ...form, tlsrptPublish: 'off' });
    expect(r.status).toBe(403);
    expect(readFileSync(configFile()).equals(before)).toBe(true);
    expect(saved().tlsrpt.publish).toBe('all');
  });
});
