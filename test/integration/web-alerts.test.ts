import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverDue, recordEvents } from '../../src/alerts/notify.js';
import { alertOnTlsrptRoute } from '../../src/alerts/evaluate.js';
import { saveConfig } from '../../src/state/config.js';
import type { RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

const TOKEN = 'alerts-web-login-token';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const SECRET = 'webhook-secret-abcdefghijklmnop';
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let receiver: Server;
let receiverUrl = '';
const received: { body: string; verified: boolean }[] = [];
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');
const html = () => ({ cookie, accept: 'text/html' });

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const mac = execFileSync('openssl', ['dgst', '-sha256', '-hmac', SECRET, '-r'], { input: body }).toString().split(/\s+/)[0];
      received.push({ body, verified: req.headers['x-tlsa-manager-signature'] === `sha256=${mac}` });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  fx = await demoFixture();
  const cfg = JSON.parse(readFileSync(configFile(), 'utf8'));
  // The mail channel's sendmail is `false`: a channel that always fails.
  saveConfig(configFile(), { ...cfg, metrics: { token: METRICS_TOKEN }, alerts: { ...cfg.alerts, email: ['ops@example.net'], sendmail: ['false'], webhook: { url: receiverUrl, secret: SECRET } } });
  const ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
});

afterAll(async () => {
  await srv?.close();
  await new Promise<void>((r) => receiver.close(() => r()));
  fx?.cleanup();
});

describe('alerts and metrics in the web app', () => {
  it('/metrics needs its own bearer token (not the login token), and serves what promtool accepts', async () => {
    expect((await http({ port }, 'GET', '/metrics')).status).toBe(401);
    expect((await http({ port }, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await http({ port }, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
    // a session cookie does not open /metrics either
    expect((await http({ port }, 'GET', '/metrics', { headers: { cookie } })).status).toBe(401);
    const ok = await http({ port }, 'GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: ok.body, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
    expect(ok.body).toMatch(/^tlsa_manager_domains\{verdict="unchecked",server="[^"]+"\} \d+$/m);
    // the metrics token is no login token
    expect((await http({ port }, 'GET', `/login?token=${METRICS_TOKEN}`)).headers['set-cookie']).toBeUndefined();
  });

  it('the overview lists open alerts (escaped), their history, a failing channel and the next check', async () => {
    const ctx = fx.context();
    const hostile = 'evil <img src=x onerror=alert(1)> CA';
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'issuer:mail.alpha-demo.test', kind: 'issuer-not-covered', severity: 'warning', subject: 'mail.alpha-demo.test', host: 'mail.alpha-demo.test', title: 'New issuer not covered for mail.alpha-demo.test', detail: `mail.alpha-demo.test now presents a certificate from ${hostile}.` } }]);
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'publish:old.test', kind: 'publish-failed', severity: 'critical', subject: 'old.test', title: 'Publishing to old.test failed 2 times', detail: 'x' } }]);
    recordEvents(ctx, [{ type: 'resolve', key: 'publish:old.test', detail: 'Publishing to old.test works again.' }]);
    const d = await deliverDue(ctx);
    expect(d.failed).toBeGreaterThan(0); // the e-mail channel (sendmail = false)
    const page = (await http({ port }, 'GET', '/', { headers: html() })).body;
    expect(page).toContain('New issuer not covered for mail.alpha-demo.test');
    expect(page).toContain('evil &lt;img src=x onerror=alert(1)&gt; CA');
    expect(page).not.toContain('<img src=x');
    expect(page).toMatch(/The email channel is failing:<\/strong> 3 message\(s\) not delivered/);
    expect(page).toContain('Publishing to old.test works again.');
    expect(page).toContain('Next scheduled check');
    expect(received.filter((r) => r.verified).length).toBe(3);
  });

  it('"send a test alert": CSRF required; the webhook gets a signed test event; a failing channel says why', async () => {
    const csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: html() })).body);
    const before = received.length;
    expect((await http({ port }, 'POST', '/settings/test-alert', { headers: { cookie }, form: { channel: 'webhook' } })).status).toBe(403);
    expect(received.length).toBe(before);
    const sent = await http({ port }, 'POST', '/settings/test-alert', { headers: html(), form: { _csrf: csrf, channel: 'webhook' } });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatch(/Test alert \(webhook\):<\/strong> sent\./);
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.verified).toBe(true);
    expect(JSON.parse(received.at(-1)!.body)).toMatchObject({ event: 'test', kind: 'test' });
    const failed = await http({ port }, 'POST', '/settings/test-alert', { headers: html(), form: { _csrf: csrf, channel: 'email' } });
    expect(failed.body).toMatch(/Test alert \(email\):<\/strong> failed: false exited with 1/);
    expect((await http({ port }, 'POST', '/settings/test-alert', { headers: html(), form: { _csrf: csrf, channel: 'pager' } })).status).toBe(400);
    for (const r of [sent, failed]) {
      expect(r.body).not.toContain(SECRET);
      expect(r.body).not.toContain(METRICS_TOKEN);
    }
  });

  it('saves alert settings; secrets are write-only (kept when empty, never shown, config 0600)', async () => {
    const csrf = csrfFrom((await http({ port }, 'GET', '/settings', { headers: html() })).body);
    const base = { _csrf: csrf, ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', alertsForm: '1', cpanelNotifications: '1', dailyFullCheck: '1' };
    const save = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, alertEmail: 'CONTACTEMAIL, noc@example.net', webhookUrl: receiverUrl, webhookSecret: '' } });
    expect(save.status).toBe(303);
    const cfg = JSON.parse(readFileSync(configFile(), 'utf8'));
    expect(cfg.alerts).toMatchObject({ email: ['CONTACTEMAIL', 'noc@example.net'], cpanelNotifications: true, webhook: { url: receiverUrl, secret: SECRET } });
    expect(cfg.checks).toMatchObject({ dailyFullCheck: true, afterPublish: false });
    expect(cfg.metrics.token).toBe(METRICS_TOKEN);
    expect(statSync(configFile()).mode & 0o777).toBe(0o600);
    for (const path of ['/settings', '/activity', '/']) {
      const body = (await http({ port }, 'GET', path, { headers: html() })).body;
      expect(body).not.toContain(SECRET);
      expect(body).not.toContain(METRICS_TOKEN);
    }
    const bad = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, alertEmail: 'not an address', webhookUrl: receiverUrl } });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('must be an e-mail address');
    const noSecret = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, alertEmail: '', webhookUrl: 'https://new.example.net/h', removeWebhook: '' } });
    expect(noSecret.status).toBe(303); // the saved secret is kept for the new URL
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).alerts.webhook).toEqual({ url: 'https://new.example.net/h', secret: SECRET });
  });

  it('sets the importance of our cPanel notifications in Contact Manager (CSRF, validated) and says which one is used', async () => {
    const importance = () => {
      const f = join(fx.root, 'var/cpanel/icontact_event_importance.json');
      return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, Record<string, number>>).TLSAManager : undefined;
    };
    const page = await http({ port }, 'GET', '/settings', { headers: html() });
    expect(page.body).toMatch(/id="cpanel-importance-note">Our notifications are sent as application <span class="mono">TLSAManager<\/span> with importance <strong>High<\/strong>/);
    expect(page.body).toContain('<option value="high" selected>High</option>');
    const csrf = csrfFrom(page.body);
    const base = { ports: '25, 465, 587', records: ['3 1 1', '2 1 1'], ttl: '3600', resolver: '127.0.0.1:9', alertsForm: '1', cpanelNotifications: '1', alertEmail: '', webhookUrl: '' };
    const before = importance();
    // Without the CSRF token: refused, nothing set.
    expect((await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, cpanelImportance: 'medium' } })).status).toBe(403);
    // Not one of the three: refused with the reason, nothing saved or set.
    const bad = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, _csrf: csrf, cpanelImportance: 'urgent' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('the importance must be High, Medium or Low');
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).alerts.cpanelImportance ?? 'high').toBe('high');
    expect(importance()).toEqual(before);
    // Medium: saved and set in WHM at once (whmapi1 set_application_contact_importance).
    const ok = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...base, _csrf: csrf, cpanelImportance: 'medium' } });
    expect(ok.status).toBe(303);
    expect(JSON.parse(readFileSync(configFile(), 'utf8')).alerts.cpanelImportance).toBe('medium');
    expect(importance()).toEqual({ '*': 2 });
    const after = await http({ port }, 'GET', '/settings', { headers: html() });
    expect(after.body).toContain('with importance <strong>Medium</strong>');
    expect(after.body).toContain('application TLSAManager, importance Medium');
  });

  it('a lost TLS-RPT route shows the exact root command that repairs it on the overview (nothing to fill in), gone once the route is back', async () => {
    const ctx = fx.context();
    alertOnTlsrptRoute(ctx, { state: 'lost', address: 'tlsrpt@server.example', detail: 'exim -bt tlsrpt@server.example routes it by virtual_user to local_delivery' });
    const body = (await http({ port }, 'GET', '/', { headers: html() })).body;
    expect(body).toContain('id="tlsrpt-route-lost"');
    expect(body).toContain('<code class="mono">/usr/local/bin/tlsa-manager tlsrpt repair-route</code>');
    expect(body).toContain('TLS reports to tlsrpt@server.example no longer reach TLSA Manager');
    alertOnTlsrptRoute(ctx, { state: 'ok', address: 'tlsrpt@server.example', detail: 'routed' });
    expect((await http({ port }, 'GET', '/', { headers: html() })).body).not.toContain('id="tlsrpt-route-lost"');
  });
});
