/**
 * The timer's MTA-STS checks: each opted-in domain TLSA Manager serves a policy for is checked as
 * a sender sees it (`mtaStsStatus`) once a day at its own time of day, sooner again while it has
 * problems (the DANE checks' back-off, src/schedule/policy.ts), and every result is kept
 * (checks-store.ts): the evidence auto-enforce weighs and the history the pages show. One domain
 * failing fails alone; a run that runs out of its time budget leaves the rest due for the next.
 */
import type { AppContext } from '../context.js';
import { nextCheck } from '../schedule/policy.js';
import { Schedule } from '../schedule/schedule.js';
import { mapLimit } from '../util/concurrency.js';
import { mtaStsChecks, type StsCheck } from './checks-store.js';
import { optedIn } from './desired.js';
import { labCa } from './serve.js';
import { statusOf, type StsStatus } from './status.js';
import { mtaStsStore, type MtaStsDomainState } from './store.js';
import { enforceDecision, type EnforceDecision } from './enforce.js';
import { alertStore, recordEvents } from '../alerts/notify.js';
import { conditionEvents, mtaStsBrokenCondition, mtaStsEnforcedIncident, type AlertEvent } from '../alerts/transitions.js';
import { TlsrptStore, tlsrptStore } from '../tlsrpt/store.js';

/** The schedule kind of MTA-STS checks (DANE checks use 'check'). */
export const MTA_STS_CHECK_KIND = 'mta-sts';
/** Domains checked side by side (each check is a DNS lookup, one HTTPS fetch and an SMTP probe per MX). */
const CONCURRENCY = 4;

export interface MtaStsCheckRun {
  /** The results recorded in this run, in domain order. */
  checked: StsCheck[];
  /** Domains whose check threw (recorded as nothing; they stay due). */
  failed: { domain: string; reason: string }[];
  /** Domains left due because the budget ran out. */
  left: number;
}

/**
 * A stored domain the timer checks and judges: opted in by the settings and not retiring. An
 * opted-in domain retiring is one no longer on the server (retire.ts goneOf: nothing of ours is
 * served for it, so a check would only find a policy gone and call it broken), or one opted in
 * again whose policy the next serve restores.
 */
function isActive(s: MtaStsDomainState, publish: AppContext['config']['mtaSts']['publish']): boolean {
  return optedIn(s.domain, publish) && s.retiring === null;
}

/** The domains the timer checks: active and known to the store (a policy was served or is being served). */
export function checkedDomains(ctx: AppContext): string[] {
  const publish = ctx.config.mtaSts.publish;
  return [...mtaStsStore(ctx).all().values()].filter((s) => isActive(s, publish)).map((s) => s.domain);
}

/** Record one status as a check result (the timer's and `mta-sts status`'s results alike). */
export function recordCheck(ctx: AppContext, status: StsStatus, now = ctx.now()): StsCheck {
  return mtaStsChecks(ctx).record(status, now);
}

/**
 * Check the due domains (`all`: every checked domain now), record each result and plan the next
 * check. `budgetMs` bounds the wall time: no domain is started after it (the phase's own bound).
 */
export async function runMtaStsChecks(ctx: AppContext, opts: { now?: number; all?: boolean; budgetMs?: number } = {}): Promise<MtaStsCheckRun> {
  const now = opts.now ?? ctx.now();
  const s = new Schedule(ctx.state().db);
  s.sync(MTA_STS_CHECK_KIND, checkedDomains(ctx), () => ({ at: now, reason: 'first check' }));
  const due = opts.all ? s.list(MTA_STS_CHECK_KIND) : s.due(MTA_STS_CHECK_KIND, now);
  const out: MtaStsCheckRun = { checked: [], failed: [], left: 0 };
  if (due.length === 0) return out;
  const started = performance.now();
  const budget = opts.budgetMs ?? Number.POSITIVE_INFINITY;
  const stored = mtaStsStore(ctx).all();
  const ca = labCa(ctx);
  const policy = { ...ctx.config.checks, dailyFullCheck: true };
  await mapLimit(due, CONCURRENCY, async (item) => {
    if (performance.now() - started > budget) {
      out.left++;
      return;
    }
    try {
      const check = await checkAndRecord(ctx, item.key, stored, ca, now);
      out.checked.push(check);
      const ok = check.problems.length === 0;
      const next = nextCheck(item.key, now, ok, ok ? 0 : item.failures + 1, policy);
      s.done(MTA_STS_CHECK_KIND, item.key, { now, ok, nextAt: next.at, reason: next.reason });
    } catch (err) {
      const reason = (err as Error).message.slice(0, 300);
      out.failed.push({ domain: item.key, reason });
      ctx.logger.error({ domain: item.key, err: reason }, 'the MTA-STS check of a domain failed; it is checked again in the next run');
    }
  });
  out.checked.sort((a, b) => a.domain.localeCompare(b.domain));
  return out;
}

/** One domain checked as a sender sees it and recorded (the timer's, the web's and `mta-sts status`'s path alike). */
async function checkAndRecord(ctx: AppContext, domain: string, stored: Map<string, MtaStsDomainState>, ca: string | undefined, now: number, status: StsStatusOf = statusOf): Promise<StsCheck> {
  const [result] = await status(ctx, [domain], stored, ca);
  return recordCheck(ctx, result!, now);
}

/** How a domain's status is taken (statusOf; tests give a sender's view without a network). */
export type StsStatusOf = (ctx: AppContext, domains: string[], stored: Map<string, MtaStsDomainState>, ca?: string) => Promise<StsStatus[]>;

export interface MtaStsCheckNow {
  /** The given domains MTA-STS covers (the timer's checkedDomains), in order. */
  covered: string[];
  checked: StsCheck[];
  failed: { domain: string; reason: string }[];
}

/**
 * "Check now" / "Check all" on the pages: of the given domains, those the timer checks are
 * checked now and recorded like the timer's results (the panel, the list and auto-enforce read
 * them), one failing alone; then the timer's judgement runs (a broken enforce policy is an alert
 * at once, a clean check clears it). The domains' next scheduled check is left as it was.
 */
export async function checkMtaStsNow(ctx: AppContext, domains: string[], opts: { status?: StsStatusOf; onProgress?: (done: number, total: number) => void } = {}): Promise<MtaStsCheckNow> {
  const checkedHere = new Set(checkedDomains(ctx));
  const covered = [...new Set(domains)].filter((d) => checkedHere.has(d)).sort();
  const out: MtaStsCheckNow = { covered, checked: [], failed: [] };
  if (covered.length === 0) return out;
  const stored = mtaStsStore(ctx).all();
  const ca = labCa(ctx);
  let done = 0;
  await mapLimit(covered, CONCURRENCY, async (key) => {
    try {
      out.checked.push(await checkAndRecord(ctx, key, stored, ca, ctx.now(), opts.status));
    } catch (err) {
      const reason = (err as Error).message.slice(0, 300);
      out.failed.push({ domain: key, reason });
      ctx.logger.error({ domain: key, err: reason }, 'the MTA-STS check of a domain failed');
    }
    opts.onProgress?.(++done, covered.length);
  });
  out.checked.sort((a, b) => a.domain.localeCompare(b.domain));
  if (out.checked.length > 0) judgeMtaSts(ctx);
  return out;
}

/** The auto-enforce decision for a domain from what is stored (its checks and sts reports since it entered its mode). */
export function enforceDecisionFor(ctx: AppContext, state: MtaStsDomainState, now = ctx.now()): EnforceDecision {
  const db = ctx.state().db;
  const reports = TlsrptStore.present(db) ? tlsrptStore(ctx).list({ domain: state.domain, since: Date.parse(state.modeSince) }).filter((r) => r.policyType === 'sts') : [];
  return enforceDecision({ mode: state.mode, modeSince: state.modeSince, checks: mtaStsChecks(ctx).verdictsSince(state.domain, state.modeSince), reports, settings: ctx.config.mtaSts.autoEnforce, now });
}

/**
 * After the checks: each opted-in domain in testing that the evidence allows moves to enforce
 * (activity log, info alert mta-sts-enforced; the next publish serves the enforce policy, then
 * its id); each domain under enforce whose latest check has a problem is a critical alert
 * mta-sts-broken at once, cleared by a clean check.
 */
export function judgeMtaSts(ctx: AppContext, now = ctx.now()): { moved: string[]; raised: number; resolved: number } {
  const store = mtaStsStore(ctx);
  const checks = mtaStsChecks(ctx);
  const publish = ctx.config.mtaSts.publish;
  const moved: string[] = [];
  const events: AlertEvent[] = [];
  for (const state of store.all().values()) {
    if (!isActive(state, publish) || state.mode !== 'testing' || !ctx.config.mtaSts.autoEnforce.enabled) continue;
    const d = enforceDecisionFor(ctx, state, now);
    if (!d.move) continue;
    store.setMode(state.domain, 'enforce', new Date(now).toISOString());
    ctx.state().logActivity({ actor: 'auto-enforce', kind: 'mta-sts', zone: null, subject: state.domain, detail: `mode testing → enforce: ${d.why}`, ok: true, time: new Date(now).toISOString() });
    events.push({ type: 'raise', incident: mtaStsEnforcedIncident(state.domain, d.why) });
    moved.push(state.domain);
  }
  // The publish that serves the enforce policy must not wait for the hourly full run.
  if (moved.length > 0) ctx.state().setMeta('reconcileDueAt', String(now));
  const stored = store.all();
  const enforced = [...stored.values()].filter((s) => s.mode === 'enforce' && isActive(s, publish));
  const latest = new Map(enforced.map((s) => [s.domain, checks.latest(s.domain)]));
  const active = mtaStsBrokenCondition(enforced.flatMap((s) => {
    const c = latest.get(s.domain);
    // Only a check taken under enforce counts (a testing policy's problems were known before the move).
    if (!c || Date.parse(c.time) < Date.parse(s.modeSince)) return [];
    return [{ domain: s.domain, maxAge: ctx.config.mtaSts.maxAgeEnforce, problems: c.status.problems }];
  }));
  const open = alertStore(ctx).open();
  events.push(...conditionEvents('mta-sts-broken', active, open, (i) => `A check of ${i.subject} under its enforce MTA-STS policy is clean again.`));
  // The news clears once the enforce policy is seen served and clean (or the domain left enforce).
  for (const a of open.filter((x) => x.kind === 'mta-sts-enforced')) {
    const s = stored.get(a.subject);
    const c = latest.get(a.subject) ?? null;
    if (!s || s.mode !== 'enforce') events.push({ type: 'resolve', key: a.key, detail: `${a.subject} is no longer in enforce.` });
    else if (c && c.state === 'enforce' && c.problems.length === 0 && Date.parse(c.time) >= a.openedAt) events.push({ type: 'resolve', key: a.key, detail: `The enforce policy of ${a.subject} is served and a check finds it clean.` });
  }
  const r = recordEvents(ctx, events, now);
  return { moved, raised: r.raised.length, resolved: r.resolved.length };
}

/** Results older than the history retention go (as the activity log's). */
export function pruneMtaStsChecks(ctx: AppContext, now = ctx.now()): number {
  return mtaStsChecks(ctx).prune(new Date(now - ctx.config.history.retentionDays * 86_400_000).toISOString());
}
