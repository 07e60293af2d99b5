import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/web/server.js';
import { alertStore } from '../../src/alerts/notify.js';
import { alertOnTlsReports } from '../../src/alerts/evaluate.js';
import { importSpool, tlsrptTotals } from '../../src/tlsrpt/import.js';
import { ensureSpool, spoolWrite } from '../../src/tlsrpt/spool.js';
import type { AppContext } from '../../src/context.js';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';
import { demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let ctx: AppContext;
let domain: string;
const TOKEN = 'tlsrpt-web-token';
const DAY = 24 * 60 * 60 * 1000;
const HOSTILE = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>';

function day(offset: number, end = false): string {
  return `${new Date(Date.now() + offset * DAY).toISOString().slice(0, 10)}T${end ? '23:59:59' : '00:00:00'}Z`;
}

async function mailIn(report: ReturnType<typeof rfcReport>): Promise<void> {
  const dir = ensureSpool(ctx.root);
  spoolWrite(dir, '.eml', tlsrptMail(report, { from: 'r@x.example', domain, submitter: 'x.example', reportId: report['report-id'], type: 'gzip' }), Date.now());
  await importSpool(ctx, 'cli');
}

beforeAll(async () => {
  fx = await demoFixture();
  ctx = fx.context();
  domain = fx.manifest.cases['expired-cert']![0]!;
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe('TLS reports on the web pages, in audit and in alerts', () => {
  it('a DANE failure reported by a sender raises an alert; the domain page draws the timeline with every sender text escaped', async () => {
    await mailIn(rfcReport({ org: 'Google Inc.', reportId: 'g-1', domain, start: day(-3), end: day(-3, true), ok: 120, failures: [] }));
    await mailIn(rfcReport({ org: HOSTILE, reportId: 'h-1', domain, start: day(-1), end: day(-1, true), ok: 10, failures: [{ type: 'tlsa-invalid', count: 4 }, { type: 'starttls-not-supported', count: 1 }] }));
    const open = alertStore(ctx).open().filter((a) => a.kind === 'tlsrpt-dane-failure');
    expect(open.map((a) => [a.subject, a.severity, a.title])).toEqual([[domain, 'critical', `Senders report 4 DANE failure(s) for ${domain} (unauthenticated reports)`]]);

    const r = await http({ port }, 'GET', `/domains/${domain}`, { headers: { cookie, accept: 'text/html' } });
    expect(r.status, r.body.slice(0, 3000)).toBe(200);
    const panel = r.body.slice(r.body.indexOf('id="tlsrpt"'), r.body.indexOf('</section>', r.body.indexOf('id="tlsrpt"')));
    expect(panel).toContain('<svg class="chart tlsrpt-timeline"');
    expect(panel).toContain('<strong>130</strong> successful and <strong class="sev-error">5</strong> failed');
    // Two lanes, the failing sender first; a red cell for its day, a green one for Google's.
    expect((panel.match(/<g class="lane">/g) ?? []).length).toBe(2);
    expect(panel).toContain('fill="#c62828"><title>');
    expect(panel).toContain('fill="#2e7d32"><title>');
    expect(panel).toContain('tlsa-invalid ×4, starttls-not-supported ×1');
    // Reports are claims: an unsigned sender's lane says it is not authenticated.
    expect(panel).toContain('<td class="sev-warning">no</td>');
    expect(panel).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.body).not.toContain('<script>alert');
    expect(r.body).not.toContain('<img src=x');

    const o = await http({ port }, 'GET', '/', { headers: { cookie, accept: 'text/html' } });
    expect(o.body).toContain('TLS reports: failures in the last 7 days');
    expect(o.body).toMatch(new RegExp(`>${domain.replace(/\./g, '\\.')}</a></td><td class="sev-error">5</td><td>130</td>`));

    expect(tlsrptTotals(ctx).get(domain)).toEqual({ successful: 130, failed: 5 });
  });

  it("the sender's next clean report does not clear the alert (issue 21: anyone can send one); a validating check does", async () => {
    await mailIn(rfcReport({ org: HOSTILE, reportId: 'h-2', domain, start: day(0), end: day(0, true), ok: 14, failures: [] }));
    expect(alertStore(ctx).open().filter((a) => a.kind === 'tlsrpt-dane-failure')).toHaveLength(1);
    ctx.state().saveCheck(domain, 'valid', { domain }, new Date().toISOString());
    alertOnTlsReports(ctx);
    expect(alertStore(ctx).open().filter((a) => a.kind === 'tlsrpt-dane-failure')).toEqual([]);
  });

  it('a refused report mail is listed on the overview with its reason, its text escaped and control characters shown', async () => {
    const dir = ensureSpool(ctx.root);
    spoolWrite(dir, '.eml', tlsrptMail('{"not json', { from: 'r@x.example', domain, submitter: 'x.example', reportId: `bad${HOSTILE}\u001b[2J`, type: 'json' }), Date.now());
    await importSpool(ctx, 'cli');
    const r = await http({ port }, 'GET', '/', { headers: { cookie, accept: 'text/html' } });
    expect(r.status).toBe(200);
    const panel = r.body.slice(r.body.indexOf('id="tlsrpt-rejected"'), r.body.indexOf('</table>', r.body.indexOf('id="tlsrpt-rejected"')));
    expect(panel).toContain('tlsrpt-malformed');
    expect(panel).toContain('not JSON');
    expect(r.body).not.toContain('<script>alert');
    expect(r.body).not.toContain('\u001b');
  });
});
