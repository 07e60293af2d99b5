import { describeInstance } from '../../provider-instances.js';
import { REPAIR_COMMAND } from '../../tlsrpt/route.js';
import { Router } from 'express';
import { VERDICTS } from '../../dane/verdict.js';
import { ACTIVITY_KINDS } from '../../state/db.js';
import { problem, ProblemError } from '../../problem.js';
import { formatRecord } from '../../tlsa/types.js';
import { domainActions, domainDetail } from '../detail.js';
import { nameserverType } from '../../dnssec/signer.js';
import { listRows, PAGE_SIZES, parseListQuery, queryParams, SORT_KEYS, TLSA_STATES, DNSSEC_FILTER, STS_LIST_STATES } from '../list-query.js';
import { mtaStsPanel, STS_LABELS, stsCounts } from '../mtasts-view.js';
import { MTA_STS_MODES } from '../../mtasts/store.js';
import { enforceDecisionFor } from '../../mtasts/scheduled.js';
import { domainParam, formString, pageParam } from '../params.js';
import { CATEGORIES, type SnapshotData } from '../snapshot.js';
import { emptyCounts } from '../../dane/category.js';
import * as helpers from '../view-helpers.js';
import { dataFor, h, render, type RouteDeps } from './common.js';
import { isRoot, mentionsScope } from '../access.js';
import type { ActivityEntry } from '../../state/db.js';
import { alertsOverview } from '../../alerts/overview.js';
import { rejectedMails, tlsrptStore } from '../../tlsrpt/import.js';
import { buildTimeline, TIMELINE_DAYS } from '../../tlsrpt/timeline.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The read-only pages: overview, domain list, domain detail, activity log. */
export function pagesRouter(deps: RouteDeps): Router {
  const { ctx, services, jobs } = deps;
  const r = Router();

  r.get(
    '/',
    h(async (_req, res) => {
      const d = await dataFor(deps, res);
      const root = isRoot(res);
      const counts = emptyCounts();
      for (const row of d.rows) counts[row.category]++;
      const state = ctx.state();
      render(res, 'overview', 'Overview', 'overview', {
        d,
        chart: helpers.barChart(counts),
        stsCounts: stsCounts(d.rows),
        STS_LIST_STATES,
        STS_LABELS,
        CATEGORIES,
        counts,
        renewing: renewingSoon(d, ctx.now()),
        activity: root ? state.activity({ limit: 8 }) : scopedActivity(state.activity({ limit: 500 }), d).slice(0, 8),
        // Server-wide facts (the resolver, the timer, refused mail, the Exim route) are root's.
        selfTest: root ? parseJson(state.getMeta('resolverSelfTest')) : null,
        lastReconcile: root ? state.getMeta('lastReconcile') : null,
        pendingChanges: d.plan.zones.reduce((n, z) => n + z.changes.length, 0),
        alerts: scopedAlerts(alertsOverview(ctx), d, root),
        // The TLS-RPT route is repaired by root from a shell, not from the page (README, TLS-RPT "Watched").
        repairRouteCommand: root ? REPAIR_COMMAND : null,
        // Reports can name any domain: only this server's are listed (and linked).
        tlsrptFailing: tlsrptStore(ctx).totalsByDomain(ctx.now() - 7 * DAY_MS).filter((t) => t.failed > 0 && d.rows.some((r) => r.domain === t.domain)),
        tlsrptRejected: root ? rejectedMails(ctx) : [],
      });
    }),
  );

  r.get(
    '/domains',
    h(async (req, res) => {
      const d = await dataFor(deps, res);
      const q = parseListQuery(req.query as Record<string, unknown>);
      const page = listRows(d.rows, q);
      render(res, 'domains', 'Domains', 'domains', { noneSelected: formString(req.query.notice) === 'none-selected', d, q, page, queryParams, SORT_KEYS, PAGE_SIZES, TLSA_STATES, DNSSEC_FILTER, STS_LIST_STATES, STS_LABELS, CATEGORIES, VERDICTS });
    }),
  );

  r.get(
    '/domains/:domain',
    h(async (req, res) => {
      const domain = domainParam(req.params.domain);
      const d = await dataFor(deps, res);
      const detail = await domainDetail(d, domain, ctx.config, services);
      if (!detail) throw new ProblemError(problem('not-found', `${domain} is not a domain on this server.`, { fix: 'Pick a domain from the list; press Rescan if it was added just now.' }));
      const jobId = formString(req.query.job);
      const now = ctx.now();
      const since = now - (TIMELINE_DAYS + 1) * DAY_MS;
      const zone = detail.row.zone;
      const events = zone ? ctx.state().zoneActivity(zone, ['create', 'delete'], new Date(since).toISOString()).map((a) => ({ time: Date.parse(a.time), kind: a.kind, detail: a.subject ?? a.detail })) : [];
      const tlsrpt = buildTimeline(tlsrptStore(ctx).list({ domain, since }), events, now);
      const stsMoved = formString(req.query.sts);
      // Auto-enforce's countdown and evidence, read from the stored checks and reports (a domain in testing only).
      const stsTesting = d.mtaSts.get(domain)?.mode === 'testing' ? d.mtaSts.get(domain)! : null;
      render(res, 'domain', domain, 'domains', { detail, job: jobId ? jobs.get(jobId) ?? null : null, formatRecord, VERDICTS, tlsrpt, actions: domainActions(detail, nameserverType(ctx)), providerDescription: detail.row.provider ? describeInstance(ctx.config, detail.row.provider) : null, sts: mtaStsPanel(d, domain, ctx.config, stsTesting ? enforceDecisionFor(ctx, stsTesting, now) : null), stsMoved: (MTA_STS_MODES as readonly string[]).includes(stsMoved) ? stsMoved : null, stsMaxAgeEnforce: ctx.config.mtaSts.maxAgeEnforce, STS_LABELS });
    }),
  );

  r.get(
    '/activity',
    h(async (req, res) => {
      const kind = formString(req.query.kind);
      const search = formString(req.query.q).slice(0, 200);
      const page = pageParam(req.query.page);
      const per = 100;
      const filter = { ...(kind ? { kind } : {}), ...(search ? { search } : {}) };
      const d = isRoot(res) ? deps.snapshot.current() : await dataFor(deps, res);
      // A reseller's entries are those about its domains and zones, picked from the recent log.
      const list = isRoot(res) ? ctx.state().activity({ limit: per + 1, offset: (page - 1) * per, ...filter }) : scopedActivity(ctx.state().activity({ limit: SCOPED_ACTIVITY_WINDOW, ...filter }), d!).slice((page - 1) * per, page * per + 1);
      render(res, 'activity', 'Activity', 'activity', { domains: new Set(d?.rows.map((row) => row.domain) ?? []), list: list.slice(0, per), more: list.length > per, page, kind, search, kinds: ACTIVITY_KINDS });
    }),
  );

  return r;
}

function parseJson(s: string | null): Record<string, unknown> | null {
  if (!s) return null;
  try {
    return JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Served certificates that expire within 30 days (or already have), soonest first. */
function renewingSoon(d: SnapshotData, now: number) {
  const limit = now + 30 * 86_400_000;
  return d.plan.scan.endpoints
    .flatMap((e) => {
      const cert = e.served;
      return cert && Date.parse(cert.notAfter) < limit ? [{ host: e.host, notAfter: cert.notAfter, source: cert.source, domains: e.domains.length }] : [];
    })
    .sort((a, b) => (a.notAfter < b.notAfter ? -1 : 1))
    .slice(0, 20);
}

/** How far back a reseller's activity page looks (the log is shared; its entries are picked out). */
const SCOPED_ACTIVITY_WINDOW = 5000;

function scopedActivity(list: ActivityEntry[], d: SnapshotData): ActivityEntry[] {
  return list.filter((a) => mentionsScope(d, a.zone, a.subject));
}

/** A reseller sees the alerts about its domains only. */
function scopedAlerts(o: ReturnType<typeof alertsOverview>, d: SnapshotData, root: boolean): ReturnType<typeof alertsOverview> {
  if (root) return o;
  const mine = (a: { subject: string }) => mentionsScope(d, null, a.subject);
  return { ...o, open: o.open.filter(mine), history: o.history.filter(mine) };
}
