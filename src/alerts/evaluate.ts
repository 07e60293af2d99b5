import type { AppContext } from '../context.js';
import type { DomainCheck } from '../dane/verdict.js';
import type { Problem } from '../problem.js';
import { alertStore, recordEvents } from './notify.js';
import { readAccounts } from '../cpanel/accounts.js';
import { authenticates } from '../dane/verdict.js';
import { DANE_RESULT_TYPES } from '../tlsrpt/report.js';
import { ALERT_WINDOW_MS, TlsrptStore, tlsrptStore } from '../tlsrpt/store.js';
import { conditionEvents, evaluateRun, expiryConditions, issuerConditions, publishCondition, timerCondition, tlsrptCondition, tlsrptRouteCondition, type DomainState } from './transitions.js';
import { REPAIR_COMMAND, type RouteStatus } from '../tlsrpt/route.js';

/**
 * The edges of alerting: read what happened from the state database and the run at hand, hand
 * it to the pure transition logic (./transitions.ts), store the events. Delivery is separate
 * (notify.ts deliverDue), so none of this waits on a channel.
 */

export function stateOf(c: DomainCheck): DomainState {
  return { verdict: c.verdict, ds: c.dnssec.ds };
}

/** After a check run: domain transitions, the server-wide incident, DANE-TA certificate expiry. */
export function alertOnChecks(ctx: AppContext, results: DomainCheck[], now = ctx.now()) {
  const store = alertStore(ctx);
  const notValidating = results.find((r) => r.verdict === 'resolver-not-validating');
  const outcome = evaluateRun({
    checked: results.map((r) => ({ domain: r.domain, state: stateOf(r) })),
    baselines: store.baselines(),
    open: store.openByKey(),
    resolverOk: !notValidating,
    ...(notValidating ? { resolverMessage: notValidating.message } : {}),
  });
  store.setBaselines(outcome.baselines, now);
  const expiry = conditionEvents('ta-cert-expiring', expiryConditions(taHosts(ctx), now), store.open(), (i) => `${i.subject} now presents a certificate valid for more than 7 days.`);
  const checked = recordEvents(ctx, [...outcome.events, ...expiry], now);
  // A validating check is what closes a TLS report alert (issue 21): every path that judges
  // checks (the timer, the web's Check) judges the reports again with them.
  const reports = alertOnTlsReports(ctx, now);
  return { raised: [...checked.raised, ...reports.raised], resolved: [...checked.resolved, ...reports.resolved] };
}

/** Per MX host, from the latest checks: the presented certificate's expiry and whether 2 x x records are published for it. */
export function taHosts(ctx: AppContext): { host: string; notAfter: number; taDependent: boolean }[] {
  const byHost = new Map<string, { host: string; notAfter: number; taDependent: boolean }>();
  for (const { result } of ctx.state().latestChecks().values()) {
    for (const mx of (result as DomainCheck).mx ?? []) {
      const notAfters = mx.ports.map((p) => (p.presentedNotAfter ? Date.parse(p.presentedNotAfter) : NaN)).filter((t) => !Number.isNaN(t));
      if (notAfters.length === 0) continue;
      const h = { host: mx.host, notAfter: Math.min(...notAfters), taDependent: mx.tlsa.some((t) => t.usage === 2) };
      const seen = byHost.get(mx.host);
      if (!seen || h.notAfter < seen.notAfter) byHost.set(mx.host, h);
    }
  }
  return [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host));
}

/** After a full plan (the timer's): issuers a renewal brought that no published 2 1 1 covered. */
export function alertOnPlanWarnings(ctx: AppContext, warnings: Problem[], now = ctx.now()) {
  const store = alertStore(ctx);
  const active = issuerConditions(warnings.filter((w) => w.code === 'issuer-not-covered'));
  return recordEvents(ctx, conditionEvents('issuer-not-covered', active, store.open(), (i) => `The issuer of ${i.subject}'s certificate is pinned by a published 2 1 1 record now.`), now);
}

/** After a TLS-RPT import: DANE failures in the senders' latest reports are incidents; a clean next report clears them. */
/**
 * TLS-RPT alerts from the reports of the last week (ALERT_WINDOW_MS), judged against this
 * server's customer domains and their latest checks (transitions.ts tlsrptCondition). Called
 * after each import and after each run of checks (a validating check is what closes them).
 */
export function alertOnTlsReports(ctx: AppContext, now = ctx.now()) {
  const db = ctx.state().db;
  if (!TlsrptStore.present(db)) return { raised: [], resolved: [] };
  const claims = tlsrptStore(ctx).failureClaims(DANE_RESULT_TYPES, now - ALERT_WINDOW_MS);
  const hosted = new Set(readAccounts(ctx.root).domains.map((d) => d.domain));
  const checks = new Map([...ctx.state().latestChecks()].map(([domain, c]) => [domain, { time: Date.parse(c.time), validates: authenticates(c.verdict) }]));
  return recordEvents(ctx, conditionEvents('tlsrpt-dane-failure', tlsrptCondition(claims, hosted, checks), alertStore(ctx).open(), () => 'A check of the domain validates, and no signed TLS report counts DANE failures after it.'), now);
}

/** After the timer's route check: the TLS-RPT route lost is one incident, found again it clears. Not checked: no change. */
export function alertOnTlsrptRoute(ctx: AppContext, route: RouteStatus, now = ctx.now()) {
  if (route.state === 'unknown' || route.address === null) return { raised: [], resolved: [] };
  const active = tlsrptRouteCondition({ state: route.state, address: route.address, detail: route.detail }, REPAIR_COMMAND);
  return recordEvents(ctx, conditionEvents('tlsrpt-route-lost', active, alertStore(ctx).open(), () => `Exim routes ${route.address} to TLSA Manager again.`), now);
}

const streakKey = (zone: string) => `publishStreak:${zone}`;

/**
 * Every publish attempt on a zone (CLI, hook, timer, web) ends here: the failure streak, the
 * failure total (metrics) and the "publish failed twice" alert.
 */
export function notePublishOutcome(ctx: AppContext, zone: string, problem: Problem | undefined, now = ctx.now()) {
  const state = ctx.state();
  const streak = problem ? Number(state.getMeta(streakKey(zone)) ?? 0) + 1 : 0;
  state.setMeta(streakKey(zone), String(streak));
  if (problem) state.setMeta('publishFailuresTotal', String(Number(state.getMeta('publishFailuresTotal') ?? 0) + 1));
  const store = alertStore(ctx);
  const open = store.open().filter((a) => a.kind === 'publish-failed' && a.subject === zone);
  const active = publishCondition(zone, streak, problem?.message ?? '');
  return recordEvents(ctx, conditionEvents('publish-failed', active, open, () => `Publishing to ${zone} works again.`), now);
}

/** Zones whose latest publish failed, with the streak (metrics, overview). */
export function failingZones(ctx: AppContext): { zone: string; streak: number }[] {
  const rows = ctx.state().db.prepare("SELECT key, value FROM meta WHERE key LIKE 'publishStreak:%' AND CAST(value AS INTEGER) > 0").all() as { key: string; value: string }[];
  return rows.map((r) => ({ zone: r.key.slice('publishStreak:'.length), streak: Number(r.value) }));
}

/** The daemon's watchdog: the timer cannot report its own absence. */
export function alertOnTimer(ctx: AppContext, since: number, now = ctx.now()) {
  const last = ctx.state().getMeta('lastReconcile');
  const lastAt = last ? Date.parse(last) : null;
  const active = timerCondition(lastAt, now, ctx.config.checks.timerIntervalMinutes * 60_000, since);
  return recordEvents(ctx, conditionEvents('timer-stalled', active, alertStore(ctx).open(), () => 'The periodic reconcile runs again.'), now);
}

export type DomainStates = Map<string, DomainState>;
