import { alertOnChecks } from '../alerts/evaluate.js';
import { deliverDue, queueReminders } from '../alerts/notify.js';
import type { AppContext } from '../context.js';
import { readAccounts } from '../cpanel/accounts.js';
import { checkDomains } from '../dane/check.js';
import { HostGate } from '../dane/host-gate.js';
import { broken, type DomainCheck } from '../dane/verdict.js';
import { afterPublish, afterPublishDelay, firstCheck, nextCheck, type PublishedChange } from '../schedule/policy.js';
import { Schedule, type DueItem } from '../schedule/schedule.js';
import type { StateDb } from '../state/db.js';

/** The schedule kind of DANE checks (the DNSSEC watcher uses its own kind in the same table). */
export const CHECK_KIND = 'check';

export function schedule(ctx: AppContext): Schedule {
  return new Schedule(ctx.state().db);
}

export interface ScheduledRun {
  /** Domains that were due and got checked. */
  checked: DomainCheck[];
  raised: number;
  resolved: number;
  delivered: number;
  failedDeliveries: number;
  gate: HostGate;
  nextAt: number | null;
}

/** Bring the schedule in line with the server's domains: new ones get their daily slot, gone ones leave. */
export function syncSchedule(ctx: AppContext, now = ctx.now()): Schedule {
  const s = schedule(ctx);
  const domains = readAccounts(ctx.root).domains.map((d) => d.domain);
  s.sync(CHECK_KIND, domains, (d) => (ctx.config.checks.dailyFullCheck ? firstCheck(d, now) : { at: now + 365 * 86_400_000, reason: 'not scheduled' }));
  return s;
}

/**
 * What the timer runs after its reconcile: check every domain that is due (daily slot, after a
 * publish, broken with back-off), within the per-host limits; turn the results into alerts; send
 * what is queued. `onlyDue: false` checks everything now (the "full check" button, benchmarks).
 */
export async function runScheduledChecks(ctx: AppContext, opts: { now?: number; all?: boolean; resolver?: string; deliver?: boolean } = {}): Promise<ScheduledRun> {
  const now = opts.now ?? ctx.now();
  const s = syncSchedule(ctx, now);
  const due: DueItem[] = opts.all ? s.list(CHECK_KIND) : s.due(CHECK_KIND, now);
  const c = ctx.config.checks;
  const gate = new HostGate({ concurrent: c.connectionsPerHost, perSecond: c.connectionsPerSecondPerHost });
  let checked: DomainCheck[] = [];
  let raised = 0;
  let resolved = 0;
  // Each step catches its own failure so the run always reaches the outbox (issue 21): alerts
  // queued before (or by another step) are delivered even when checking or judging failed.
  await step(ctx, 'the scheduled checks failed; the domains stay due', async () => {
    if (due.length === 0) return;
    checked = await checkDomains(ctx, due.map((d) => d.key), { concurrency: c.concurrency, hostGate: gate, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
    const failuresBefore = new Map(due.map((d) => [d.key, d.failures]));
    for (const r of checked) {
      // A broken domain (one senders cannot deliver to) is checked again sooner, with back-off.
      const ok = !broken(r.verdict);
      const failures = ok ? 0 : (failuresBefore.get(r.domain) ?? 0) + 1;
      const next = nextCheck(r.domain, now, ok, failures, c);
      s.done(CHECK_KIND, r.domain, { now, ok, nextAt: next.at, reason: next.reason });
    }
    ctx.state().setMeta('lastScheduledCheck', new Date(now).toISOString());
  });
  await step(ctx, 'judging the check results for alerts failed', () => {
    if (checked.length === 0) return;
    const r = alertOnChecks(ctx, checked, now);
    raised = r.raised.length;
    resolved = r.resolved.length;
  });
  // The timer delivers in a phase of its own (deliver: false), after the DNSSEC watch.
  if (opts.deliver === false) return { checked, raised, resolved, delivered: 0, failedDeliveries: 0, gate, nextAt: s.next(CHECK_KIND)?.dueAt ?? null };
  await step(ctx, 'queueing alert reminders failed', () => queueReminders(ctx, now));
  const d = await deliverDue(ctx, { now });
  return { checked, raised, resolved, delivered: d.delivered, failedDeliveries: d.failed, gate, nextAt: s.next(CHECK_KIND)?.dueAt ?? null };
}

/** One step of a scheduled run: a failure is logged and the run goes on to the next step. */
export async function step(ctx: AppContext, failure: string, work: () => unknown): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    ctx.logger.error({ err: (err as Error).message }, failure);
    return false;
  }
}

/** Meta key prefix of "records of this domain changed at …, re-check due at …". */
const PUBLISHED_PREFIX = 'published:';

/** When a publish last changed a domain's records and when its re-check is due (epoch ms). */
export interface PublishedMark {
  at: number;
  checkAt: number;
}

/**
 * A publish changed these domains' records: remember when (every result taken before it is out of
 * date) and, with checks.afterPublish, check them again once senders can see the change.
 */
export function scheduleAfterPublish(ctx: AppContext, domains: Iterable<string>, changes: readonly PublishedChange[], negativeTtl: number | null, now = ctx.now()): PublishedMark {
  const delay = afterPublishDelay(changes, negativeTtl, ctx.config.checks.afterPublishDelaySeconds);
  const at = afterPublish(now, delay);
  const mark: PublishedMark = { at: now, checkAt: at.at };
  const s = ctx.config.checks.afterPublish ? schedule(ctx) : null;
  for (const d of domains) {
    ctx.state().setMeta(`${PUBLISHED_PREFIX}${d}`, JSON.stringify(mark));
    s?.plan(CHECK_KIND, d, at.at, at.reason);
  }
  return mark;
}

/**
 * Every domain's last publish mark (domains never published are absent). Takes the database, not
 * the context, so read-only callers (audit, account status) pass `ctx.readState()` and never create it.
 */
export function publishedMarks(state: StateDb | null): Map<string, PublishedMark> {
  const out = new Map<string, PublishedMark>();
  if (!state) return out;
  for (const [d, raw] of state.metaWithPrefix(PUBLISHED_PREFIX)) {
    try {
      const m = JSON.parse(raw) as PublishedMark;
      if (Number.isFinite(m.at) && Number.isFinite(m.checkAt)) out.set(d, m);
    } catch {
      // A mark we cannot read only costs the "checking at" hint.
    }
  }
  return out;
}

/** The domains whose records changed after their last check (`lastChecked` ISO or null), with their mark. */
export function changedSinceCheck(mark: PublishedMark | undefined, lastChecked: string | null): PublishedMark | null {
  if (!mark) return null;
  return lastChecked === null || Date.parse(lastChecked) < mark.at ? mark : null;
}

/**
 * The re-checks that are due now and were asked for by a publish (the web app's publish job runs
 * them itself when the delay is 0, so the pages show fresh results without anyone clicking).
 */
export function dueAfterPublish(ctx: AppContext, domains: Iterable<string>, now = ctx.now()): string[] {
  const marks = publishedMarks(ctx.state());
  return [...new Set(domains)].filter((d) => {
    const m = marks.get(d);
    return m !== undefined && m.checkAt <= now;
  });
}

/** "Next full check at …": the next daily slot, and the next check of any kind. */
export function nextChecks(ctx: AppContext): { nextDaily: number | null; next: number | null; broken: number } {
  const s = schedule(ctx);
  const all = s.list(CHECK_KIND);
  return {
    nextDaily: s.next(CHECK_KIND, { reason: 'daily' })?.dueAt ?? null,
    next: all[0]?.dueAt ?? null,
    broken: all.filter((i) => i.lastOk === false).length,
  };
}
