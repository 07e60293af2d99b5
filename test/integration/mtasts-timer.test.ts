import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { startFakeDns, zoneHandler, type FakeDnsServer } from '../fakes/dns-server.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { mtaStsChecks } from '../../src/mtasts/checks-store.js';
import { mtaStsStore } from '../../src/mtasts/store.js';
import { MTA_STS_CHECK_KIND } from '../../src/mtasts/scheduled.js';
import { Schedule } from '../../src/schedule/schedule.js';
import { tlsrptStore } from '../../src/tlsrpt/store.js';
import { alertStore } from '../../src/alerts/notify.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The timer's MTA-STS phase (issue 27 §5): each opted-in domain TLSA Manager serves a policy for
 * is checked as a sender sees it and the result recorded; one domain whose check throws fails
 * alone; a domain checked today is not checked again before its next daily slot.
 */
let dns: FakeDnsServer;
beforeAll(async () => {
  // A resolver that knows nothing: every domain is "no _mta-sts record, policy unreachable".
  dns = await startFakeDns(zoneHandler([]));
});
afterAll(async () => {
  await dns.close();
});

function server(publish: unknown): { ctx: (offsetMs?: number) => AppContext } {
  const root = makeFakeRoot({
    // The bad name is in /etc/userdomains too (the scan skips it): a stored row for a domain the server does not list is forgotten (retire.ts goneOf).
    domains: { 'a.test': 'a', 'b.test': 'b', 'c.test': 'c', [`${'x'.repeat(70)}.test`]: 'c' },
    local: ['a.test', 'b.test', 'c.test'],
    zones: { 'a.test': cpanelZone('a.test', []), 'b.test': cpanelZone('b.test', []), 'c.test': cpanelZone('c.test', []) },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, mtaSts: { publish } }) },
  });
  const start = Date.parse('2026-12-01T00:00:00Z');
  return {
    ctx: (offsetMs = 0) => {
      const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
      c.now = () => start + offsetMs;
      return c;
    },
  };
}

/** Add to the mtaSts settings in the root's config file (the next context reads it). */
function writeConfig(ctx: AppContext, mtaSts: Record<string, unknown>): void {
  const file = join(ctx.root.path('/'), 'etc/tlsa-manager/config.json');
  const c = JSON.parse(readFileSync(file, 'utf8')) as { mtaSts: Record<string, unknown> };
  writeFileSync(file, JSON.stringify({ ...c, mtaSts: { ...c.mtaSts, ...mtaSts } }), { mode: 0o600 });
}

describe('the timer records MTA-STS checks', () => {
  it('checks the opted-in served domains, records each result, one failing alone, daily afterwards', async () => {
    const s = server('all');
    const ctx = s.ctx();
    const now = new Date(ctx.now()).toISOString();
    // a.test, c.test and a bad name are known to the store; b.test never got a policy (not checked).
    for (const d of ['a.test', 'c.test', `${'x'.repeat(70)}.test`]) mtaStsStore(ctx).ensure(d, 'testing', now);
    const r = await reconcile(ctx, { force: true });
    const all = mtaStsChecks(ctx).latestAll();
    expect([...all.keys()]).toEqual(['a.test', 'c.test']);
    expect(all.get('a.test')).toMatchObject({ time: now, state: 'none', served: false, problems: ['mta-sts-txt-missing', 'mta-sts-policy-unreachable'] });
    // The bad name's check threw: it is a failure of this run, the others are recorded.
    expect(r.failed).toBe(true);
    expect(r.summary).toMatch(/mtasts: x{70}\.test: .*longer than 63/);

    // Ten minutes later nothing is due (a domain with problems is retried after 30 minutes, doubling).
    await reconcile(s.ctx(10 * 60_000), { force: true });
    expect(mtaStsChecks(ctx).since('a.test', '1970-01-01T00:00:00Z').length).toBe(1);
    await reconcile(s.ctx(31 * 60_000), { force: true });
    expect(mtaStsChecks(ctx).since('a.test', '1970-01-01T00:00:00Z').length).toBe(2);

    // Out of mtaSts.publish: no longer checked.
    const off = server(['c.test']);
    const octx = off.ctx();
    for (const d of ['a.test', 'c.test']) mtaStsStore(octx).ensure(d, 'testing', now);
    await reconcile(octx, { force: true });
    expect([...mtaStsChecks(octx).latestAll().keys()]).toEqual(['c.test']);
  }, 60_000);

  it('auto-enforce through the timer: clean evidence moves testing to enforce (activity, info alert); a problem under enforce is critical at once', async () => {
    const DAY = 86_400_000;
    const s = server('all');
    const t0 = s.ctx().now();
    const since = new Date(t0 - 15 * DAY).toISOString();
    const c0 = s.ctx();
    writeConfig(c0, { autoEnforce: { enabled: true, afterDays: 14 } });
    mtaStsStore(c0).ensure('a.test', 'testing', since);
    // 15 daily clean checks (the last 2 h ago) and one signed sts report without failures.
    const status = () => ({ domain: 'a.test', state: 'testing' as const, id: 'abc', policy: { mode: 'testing' as const, mx: ['mail.a.test'], maxAge: 86400 }, served: true, mx: [], problems: [] });
    for (let d = 15; d >= 1; d--) mtaStsChecks(c0).record(status(), t0 - d * DAY + 22 * 3_600_000);
    const report = (id: string, authenticated: boolean, failed: number) => ({ reportId: id, organization: 'Google Inc.', contact: null, start: t0 - 3 * DAY, end: t0 - 2 * DAY, signer: authenticated ? 'google.com' : '', authenticated, policiesCut: 0, policies: [{ policyType: 'sts', policyDomain: 'a.test', mxHosts: ['mail.a.test'], successful: 50, failed, results: [], samples: [] }] });
    // An unauthenticated report with failures is no evidence either way.
    tlsrptStore(c0).add(report('r0', false, 40), t0 - DAY);
    // Not due now: the scheduled check would (against this fake DNS) find problems.
    new Schedule(c0.state().db).plan(MTA_STS_CHECK_KIND, 'a.test', t0 + DAY, 'daily', 'replace');

    // Without a signed report: no move.
    await reconcile(s.ctx(), { force: true });
    expect(mtaStsStore(c0).get('a.test')!.mode).toBe('testing');
    tlsrptStore(c0).add(report('r1', true, 0), t0 - DAY);
    const r = await reconcile(s.ctx(), { force: true });
    expect(mtaStsStore(c0).get('a.test')).toMatchObject({ mode: 'enforce', modeSince: new Date(t0).toISOString() });
    const enforced = alertStore(c0).open().filter((a) => a.kind === 'mta-sts-enforced');
    expect(enforced).toEqual([expect.objectContaining({ severity: 'info', subject: 'a.test' })]);
    expect(r.alertsRaised).toBeGreaterThanOrEqual(1);
    expect(c0.state().activity({ limit: 50 }).some((e) => e.actor === 'auto-enforce' && e.subject === 'a.test' && /testing → enforce/.test(e.detail))).toBe(true);
    // The next publish is due at once (it serves the enforce policy).
    expect(Number(c0.state().getMeta('reconcileDueAt'))).toBe(t0);

    // Under enforce, the next check finds problems (here: no _mta-sts record): critical at once.
    new Schedule(c0.state().db).plan(MTA_STS_CHECK_KIND, 'a.test', t0, 'now', 'replace');
    await reconcile(s.ctx(60_000), { force: true });
    const broken = alertStore(c0).open().filter((a) => a.kind === 'mta-sts-broken');
    expect(broken).toEqual([expect.objectContaining({ severity: 'critical', subject: 'a.test' })]);
    expect(broken[0]!.detail).toContain('mta-sts-txt-missing');
    expect(broken[0]!.detail).toContain('does not help at once');
    // Info alerts get no reminders; the critical one does.
    await reconcile(s.ctx(2 * DAY), { force: true });
    expect(alertStore(c0).open().find((a) => a.kind === 'mta-sts-enforced')!.lastNotifiedAt).toBe(enforced[0]!.lastNotifiedAt);
  }, 60_000);
});
