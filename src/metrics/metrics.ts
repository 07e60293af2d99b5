import { categoryOf, emptyCounts } from '../dane/category.js';
import { Counter, Gauge, Registry } from 'prom-client';
import { failingZones, taHosts } from '../alerts/evaluate.js';
import { alertStore, serverName } from '../alerts/notify.js';
import { ALERT_KINDS, INFO_KINDS } from '../alerts/transitions.js';
import { lastRunSucceeded } from '../hooks/timer-health.js';
import { CHECK_KIND, schedule } from '../checks/scheduled.js';
import type { AppContext } from '../context.js';
import { readAccounts } from '../cpanel/accounts.js';
import { VERDICTS, type DomainCheck, type Verdict } from '../dane/verdict.js';
import { writeFileAtomic } from '../util/durable-write.js';
import { MTA_STS_MODES, MtaStsStore } from '../mtasts/store.js';

/**
 * The server's state as a Prometheus exposition, read from the state database only (no DNS, no
 * scan): cheap enough for every scrape and for the timer's textfile. Names are an interface
 * (contrib/prometheus/alerts.yml and contrib/grafana/dashboard.json use them): README "Metrics".
 */
export const DNSSEC_STATES = ['secure', 'bogus', 'signed-no-ds', 'unsigned', 'unknown'] as const;
export type DnssecState = (typeof DNSSEC_STATES)[number];

export function dnssecState(c: Pick<DomainCheck, 'verdict' | 'dnssec'>): DnssecState {
  if (c.verdict === 'bogus') return 'bogus';
  if (c.dnssec.signed === true) return c.dnssec.ds === false ? 'signed-no-ds' : 'secure';
  if (c.dnssec.signed === false) return 'unsigned';
  return 'unknown';
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export async function metricsText(ctx: AppContext): Promise<string> {
  const now = ctx.now();
  const state = ctx.state();
  const registry = new Registry();
  registry.setDefaultLabels({ server: serverName(ctx) });
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name: `tlsa_manager_${name}`, help, labelNames, registers: [registry] });

  const checks = state.latestChecks();
  const domains = readAccounts(ctx.root).domains.map((d) => d.domain);
  const byVerdict = new Map<string, number>([...Object.keys(VERDICTS), 'unchecked'].map((v) => [v, 0]));
  const byDnssec = new Map<string, number>(DNSSEC_STATES.map((s) => [s, 0]));
  const byCategory = emptyCounts();
  let lastCheck = 0;
  for (const d of domains) {
    const c = checks.get(d);
    if (!c) {
      byVerdict.set('unchecked', byVerdict.get('unchecked')! + 1);
      byCategory.unchecked++;
      continue;
    }
    const r = c.result as DomainCheck;
    byCategory[categoryOf({ verdict: c.verdict, problems: Array.isArray(r?.problems) ? r.problems : [] })]++;
    byVerdict.set(c.verdict, (byVerdict.get(c.verdict) ?? 0) + 1);
    const s = dnssecState({ verdict: c.verdict as Verdict, dnssec: r.dnssec ?? { signed: null, ds: null } });
    byDnssec.set(s, byDnssec.get(s)! + 1);
    lastCheck = Math.max(lastCheck, Date.parse(c.time));
  }
  const domainsG = g('domains', 'Customer domains by their latest DANE verdict ("unchecked": never checked).', ['verdict']);
  for (const [v, n] of byVerdict) domainsG.set({ verdict: v }, n);
  // The overview's words (src/dane/category.ts); "not-ours" needs a scan, so it is never counted here (0).
  const categoryG = g('domains_category', 'Customer domains by the overview\'s category of their latest check (valid, valid-warnings, expiring, expired, broken, unprotected, unchecked).', ['category']);
  for (const [k, n] of Object.entries(byCategory)) if (k !== 'not-ours') categoryG.set({ category: k }, n);
  const dnssecG = g('domains_dnssec', 'Customer domains by DNSSEC state from their latest check.', ['state']);
  for (const [s, n] of byDnssec) dnssecG.set({ state: s }, n);

  // MTA-STS from what src/mtasts/store.ts keeps per domain: its mode, or "off" when it has no row.
  // "broken" is a live finding of `mta-sts status` (DNS + HTTPS), not stored, so it is not a state here.
  const sts = new MtaStsStore(state.db, { readOnly: true }).all();
  const bySts = new Map<string, number>(['off', ...MTA_STS_MODES].map((m) => [m, 0]));
  for (const d of domains) {
    const m = sts.get(d)?.mode ?? 'off';
    bySts.set(m, bySts.get(m)! + 1);
  }
  const stsG = g('mta_sts_domains', 'Customer domains by their stored MTA-STS mode (off: none kept; testing; enforce).', ['state']);
  for (const [m, n] of bySts) stsG.set({ state: m }, n);

  const managed = state.db.prepare('SELECT COUNT(*) AS n FROM ledger WHERE created_by_us = 1').get() as { n: number };
  g('tlsa_records_managed', 'TLSA records published by TLSA Manager (the ledger).').set(managed.n);

  const lastReconcile = Date.parse(state.getMeta('lastReconcile') ?? '') || 0;
  g('last_reconcile_timestamp_seconds', 'When the periodic reconcile last ran (Unix time; 0: never).').set(seconds(lastReconcile));
  // 1 when the last run finished without a failure; 0 when it failed, or crashed (noticed by the next run or the daemon).
  g('last_reconcile_success', 'Whether the last periodic reconcile finished without a failure (1) or failed or crashed (0; 0 also before the first run).').set(lastRunSucceeded(ctx) ? 1 : 0);
  g('last_check_timestamp_seconds', 'When a domain was last checked from the outside (Unix time; 0: never).').set(seconds(lastCheck));
  g('seconds_since_last_reconcile', 'Seconds from the last reconcile to when this exposition was made.').set(lastReconcile ? seconds(now - lastReconcile) : -1);
  g('seconds_since_last_check', 'Seconds from the last check to when this exposition was made.').set(lastCheck ? seconds(now - lastCheck) : -1);
  g('exposition_timestamp_seconds', 'When this exposition was made (a textfile that stops changing means the timer stopped).').set(seconds(now));

  const failuresTotal = new Counter({ name: 'tlsa_manager_publish_failures_total', help: 'Publish attempts that failed, since installation.', registers: [registry] });
  failuresTotal.inc(Number(state.getMeta('publishFailuresTotal') ?? 0));
  g('zones_publish_failing', 'Zones whose latest publish attempt failed.').set(failingZones(ctx).length);

  const store = alertStore(ctx);
  const open = store.openCounts();
  const alertsG = g('alerts_open', 'Open alerts by kind and severity.', ['kind', 'severity']);
  for (const kind of ALERT_KINDS) for (const severity of INFO_KINDS.has(kind) ? (['info'] as const) : (['critical', 'warning'] as const)) alertsG.set({ kind, severity }, open.get(`${kind}\u0000${severity}`) ?? 0);
  const channelsG = g('alert_deliveries_failing', 'Alert messages a channel has failed to deliver and still retries.', ['channel']);
  for (const c of store.failingChannels()) channelsG.set({ channel: c.channel }, c.pending);

  const expiry = g('certificate_expiry_timestamp_seconds', 'Expiry of the certificate each MX host presented at its latest check (Unix time).', ['host']);
  for (const h of taHosts(ctx)) expiry.set({ host: h.host }, seconds(h.notAfter));

  const next = schedule(ctx).next(CHECK_KIND);
  g('next_check_timestamp_seconds', 'When the next scheduled check is due (Unix time; 0: nothing scheduled).').set(next ? seconds(next.dueAt) : 0);

  return registry.metrics();
}

/** For node_exporter's textfile collector: written whole and renamed, so a scrape never sees half. */
export async function writeMetricsFile(ctx: AppContext, file: string): Promise<void> {
  writeFileAtomic(file, await metricsText(ctx), 0o644);
}
