import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore, queueReminders, recordEvents } from '../../src/alerts/notify.js';
import { conditionEvents, type Incident } from '../../src/alerts/transitions.js';
import type { RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, signedIn, type DemoFixture } from './web-fixture.js';

// Issue 24: an admin acknowledges an alert; its reminders stop until it resolves or gets worse,
// and who/when stays on the alert (overview, history).

let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
const html = () => ({ cookie, accept: 'text/html' });
const H = 3_600_000;

beforeAll(async () => {
  fx = await demoFixture();
  ({ srv, port, cookie } = await signedIn(fx.context(), 'ack-test-token'));
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

const incident = (severity: 'warning' | 'critical'): Incident => ({ key: 'publish:alpha-demo.test', kind: 'publish-failed', severity, subject: 'alpha-demo.test', title: 'Publishing to alpha-demo.test failed', detail: 'The provider refused the change.' });

describe('acknowledging an alert', () => {
  it('the overview has an Acknowledge button; acknowledging keeps who and when and stops the reminders until it gets worse', async () => {
    const ctx = fx.context();
    const t0 = ctx.now();
    recordEvents(ctx, conditionEvents('publish-failed', [incident('warning')], alertStore(ctx).open(), () => 'works again'), t0);
    const alert = alertStore(ctx).open().find((a) => a.key === 'publish:alpha-demo.test')!;
    let overview = (await http({ port }, 'GET', '/', { headers: html() })).body;
    expect(overview).toContain(`action="/alerts/${alert.id}/ack"`);
    const csrf = csrfFrom(overview);
    // Without the CSRF token nothing changes.
    expect((await http({ port }, 'POST', `/alerts/${alert.id}/ack`, { headers: html(), form: {} })).status).toBe(403);
    expect(alertStore(ctx).get(alert.id)!.ackedAt).toBeNull();
    const r = await http({ port }, 'POST', `/alerts/${alert.id}/ack`, { headers: html(), form: { _csrf: csrf } });
    expect(r.status).toBe(303);
    const acked = alertStore(ctx).get(alert.id)!;
    expect(acked.ackedBy).toMatch(/^web:/);
    expect(acked.ackedAt).not.toBeNull();
    overview = (await http({ port }, 'GET', '/', { headers: html() })).body;
    expect(overview).toMatch(/Acknowledged by [^,]+, \d{4}-\d\d-\d\d \d\d:\d\d UTC; no reminders until it resolves or gets worse/);
    expect(overview).not.toContain(`action="/alerts/${alert.id}/ack"`);
    expect(ctx.state().activity({ limit: 5 }).some((a) => a.kind === 'alert' && /acknowledged: Publishing to alpha-demo\.test failed/.test(a.detail))).toBe(true);
    // A day later: no reminder for the acknowledged alert.
    const renotify = ctx.config.alerts.renotifyHours * H;
    expect(queueReminders(ctx, t0 + renotify + H)).toBe(0);
    // The same condition at the same severity changes nothing; at a higher one the acknowledgement ends and it is sent again.
    expect(recordEvents(ctx, conditionEvents('publish-failed', [incident('warning')], alertStore(ctx).open(), () => 'x'), t0 + 2 * H).raised).toEqual([]);
    const worse = recordEvents(ctx, conditionEvents('publish-failed', [incident('critical')], alertStore(ctx).open(), () => 'x'), t0 + 3 * H);
    expect(worse.raised.map((a) => [a.id, a.severity, a.ackedAt])).toEqual([[alert.id, 'critical', null]]);
    expect(queueReminders(ctx, t0 + 3 * H + renotify + H)).toBe(1);
  });

  it('each severity has its own badge: an info alert (auto-enforce moved a domain) is not shown as a warning', async () => {
    const ctx = fx.context();
    const info: Incident = { key: 'mta-sts-enforced:bravo-demo.test', kind: 'mta-sts-enforced', severity: 'info', subject: 'bravo-demo.test', title: 'MTA-STS moved bravo-demo.test to enforce', detail: 'Every check was clean.' };
    recordEvents(ctx, conditionEvents('mta-sts-enforced', [info], alertStore(ctx).open(), () => 'done'), ctx.now());
    const overview = (await http({ port }, 'GET', '/', { headers: html() })).body;
    const row = overview.split('<tr').find((r) => r.includes('MTA-STS moved bravo-demo.test to enforce'))!;
    expect(row).toContain('<span class="badge info">info</span>');
    const critical = overview.split('<tr').find((r) => r.includes('Publishing to alpha-demo.test failed'))!;
    expect(critical).toContain('<span class="badge error">critical</span>');
  });
});
