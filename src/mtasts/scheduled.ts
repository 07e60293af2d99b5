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
import { mtaStsStore } from './store.js';

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

/** The domains the timer checks: opted in by the settings and known to the store (a policy was served or is being served). */
export function checkedDomains(ctx: AppContext): string[] {
  const publish = ctx.config.mtaSts.publish;
  return [...mtaStsStore(ctx).all().keys()].filter((d) => optedIn(d, publish));
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
      const [status] = await statusOf(ctx, [item.key], stored, ca);
      const check = recordCheck(ctx, status!, now);
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

/** Results older than the history retention go (as the activity log's). */
export function pruneMtaStsChecks(ctx: AppContext, now = ctx.now()): number {
  return mtaStsChecks(ctx).prune(new Date(now - ctx.config.history.retentionDays * 86_400_000).toISOString());
}
