import { afterMtaStsApply, serveThenPlan } from '../mtasts/run.js';
import { judgeMtaSts, pruneMtaStsChecks, runMtaStsChecks } from '../mtasts/scheduled.js';
import { retireAfterMs, WAKE_MARGIN_MS } from '../plan/retire-after.js';
import { createHash } from 'node:crypto';
import { statSync, type Stats } from 'node:fs';
import type { AppContext } from '../context.js';
import { Providers, serverManagedZones } from '../provider-instances.js';
import { applyPlan, makePlan } from '../plan/run.js';
import { describeSettled, recoverInterrupted } from '../plan/recover.js';
import { alertOnPlanWarnings, alertOnTlsrptRoute } from '../alerts/evaluate.js';
import { checkRoute } from '../tlsrpt/route.js';
import { deliverDue, queueReminders } from '../alerts/notify.js';
import { notifyOwners } from '../access/owner-notify.js';
import { runScheduledChecks, type ScheduledRun } from '../checks/scheduled.js';
import { dnssecStore, recheckDnssec } from '../dnssec/watch.js';
import type { StatusOptions } from '../dnssec/status.js';
import { importSpool } from '../tlsrpt/import.js';
import { finishRun, startRun } from './timer-health.js';

export interface ReconcileResult {
  /** Nothing changed since the last run and nothing fell due: no plan was made. */
  skipped: boolean;
  applied: number;
  failed: boolean;
  /** Domains the schedule had due and that were checked in this run. */
  rechecked: number;
  alertsRaised: number;
  alertsResolved: number;
  summary: string;
}

/** A full run at least this often, whatever the fingerprint says (a zone edited by hand, a missed event). */
const FULL_RUN_EVERY_MS = 60 * 60 * 1000;

/**
 * Everything whose change can change the desired records: certificate files Exim reads (one stat
 * each), the service certificate, the account and routing files, the zone directory, the config.
 */
export function inputsFingerprint(ctx: AppContext): string {
  const h = createHash('sha256');
  const add = (p: string) => {
    const st = ctx.root.stat(p);
    h.update(`${p}\0${st ? `${st.mtimeMs}:${st.size}:${st.ino}` : '-'}\n`);
  };
  for (const p of ['/etc/exim.crt', '/etc/exim.key', '/etc/myexim.crt', '/etc/userdomains', '/etc/localdomains', '/etc/remotedomains', '/etc/hostname', '/var/cpanel/mainip', '/etc/ips', '/var/named', '/var/cpanel/ssl/domain_tls']) add(p);
  for (const name of ctx.root.list('/var/cpanel/ssl/domain_tls').sort()) {
    if (name.startsWith('.')) continue;
    add(`/var/cpanel/ssl/domain_tls/${name}/combined`);
  }
  // The config this run actually read (--config may point outside the root).
  const cfg = statOrNull(ctx.configPath);
  h.update(`config\0${cfg ? `${cfg.mtimeMs}:${cfg.size}` : '-'}`);
  return h.digest('hex');
}

function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}

/**
 * Each phase of a timer run has its own time bound, so none starves the others (issue 21): a
 * phase that overruns is left behind (logged, the run counts as failed) and the run goes on to
 * the next; alert delivery always comes. Generous: a healthy run takes seconds.
 */
export const PHASE_LIMITS_MS = { recover: 2 * 60_000, publish: 5 * 60_000, import: 3 * 60_000, checks: 5 * 60_000, mtasts: 5 * 60_000, dnssec: 3 * 60_000, owners: 2 * 60_000, alerts: 2 * 60_000 } as const;
export type Phase = keyof typeof PHASE_LIMITS_MS;

interface RunState {
  limits: Record<Phase, number>;
  /** "phase: what went wrong", for the run's outcome. */
  failures: string[];
}

export async function reconcile(ctx: AppContext, opts: { force?: boolean; phaseLimitsMs?: Partial<Record<Phase, number>> } = {}): Promise<ReconcileResult> {
  const state = ctx.state();
  const run: RunState = { limits: { ...PHASE_LIMITS_MS, ...opts.phaseLimitsMs }, failures: [] };
  startRun(ctx);
  let result: ReconcileResult = { skipped: false, applied: 0, failed: true, rechecked: 0, alertsRaised: 0, alertsResolved: 0, summary: '' };
  try {
    const providers = new Providers(ctx);
    const recovered = await phase(ctx, run, 'recover', [], () => recoverInterrupted(ctx, providers, 'timer'));
    const now = ctx.now();
    const fingerprint = inputsFingerprint(ctx);
    const due = Number(state.getMeta('reconcileDueAt') ?? 0);
    const lastFull = Number(state.getMeta('lastFullReconcile') ?? 0);
    const idle = !opts.force && recovered.length === 0 && fingerprint === state.getMeta('reconcileFingerprint') && now < due && now - lastFull < FULL_RUN_EVERY_MS;
    const published = idle ? null : await phase(ctx, run, 'publish', null, () => publish(ctx, providers, now));
    await phase(ctx, run, 'import', undefined, async () => {
      await importSpool(ctx, 'timer');
      pruneHistory(ctx, now);
      // The route reports arrive by (issue 23): lost unseen when WHM rewrites exim.conf.local.
      alertOnTlsrptRoute(ctx, await checkRoute(ctx), now);
    });
    const checks = await scheduledChecks(ctx, run);
    if (published) {
      checks.alertsRaised += published.issuerAlerts.raised.length;
      checks.alertsResolved += published.issuerAlerts.resolved.length;
    }
    const failed = run.failures.length > 0 || published?.failed === true;
    result = idle
      ? { skipped: true, applied: 0, failed, ...checks, summary: ['nothing changed since the last run', ...run.failures].join('\n') }
      : { skipped: false, applied: published?.applied ?? 0, failed, ...checks, summary: [...describeSettled(recovered), ...(published ? [`${published.applied} change(s) applied in ${published.zones} zone(s)`, ...published.problems] : []), ...run.failures].join('\n') };
    return result;
  } catch (err) {
    run.failures.push(`run: ${(err as Error).message}`);
    throw err;
  } finally {
    finishRun(ctx, run.failures.length === 0 && !result.failed, run.failures);
  }
}

/** Plan and apply (the DNS work): what the run changed, for the summary and the wake-up time. */
async function publish(ctx: AppContext, providers: Providers, now: number) {
  const state = ctx.state();
  // MTA-STS policies are served (written, fetched back) before the plan that announces their ids.
  const { plan } = await serveThenPlan(ctx, providers, await makePlan(ctx, providers, {}), {}, 'timer');
  const results = await applyPlan(ctx, providers, plan, 'timer', { lockWaitMs: 60_000 });
  // MTA-STS turned off: the steps that wait for the record to be gone (or announced).
  const stsProblems = await afterMtaStsApply(ctx, plan, results, 'timer');
  const applied = results.reduce((n, r) => n + r.applied.length, 0);
  const failed = results.some((r) => r.problem);
  // Wake up again when the first held record may be retired: at its `until`, or 2×TTL from now
  // for one whose replacement this very run published.
  const twoTtl = now + retireAfterMs(ctx.config.policy.ttl, WAKE_MARGIN_MS);
  const untils = plan.zones.flatMap((z) => z.waiting.map((w) => (w.until ? Date.parse(w.until) : twoTtl)));
  // Records deferred for room at a full owner can go in as soon as this run's retirements are done.
  const roomMade = plan.zones.some((z) => z.deferred.length > 0 && z.changes.some((c) => c.kind === 'delete'));
  const nextDue = roomMade ? now : Math.min(now + FULL_RUN_EVERY_MS, ...untils);
  // A refused zone does not mend itself (someone must edit the file): it waits for the hourly
  // run or a changed input instead of a full run at every tick.
  const retryNow = results.some((r) => r.problem && r.problem.code !== 'zone-refused');
  state.setMeta('reconcileDueAt', String(retryNow ? now : nextDue));
  state.setMeta('lastFullReconcile', String(now));
  // Taken after the run, so our own zone writes do not count as a change. Something changed by
  // others while we ran is caught by the hourly full run at the latest.
  state.setMeta('reconcileFingerprint', inputsFingerprint(ctx));
  state.logActivity({ actor: 'timer', kind: 'reconcile', zone: null, subject: null, detail: `${applied} change(s) in ${results.length} zone(s)${failed ? '; some failed' : ''}`, ok: !failed });
  const issuerAlerts = alertOnPlanWarnings(ctx, plan.zones.flatMap((z) => z.warnings), now);
  return { applied, failed, zones: results.length, issuerAlerts, problems: [...results.filter((r) => r.problem).map((r) => `${r.zone}: ${r.problem!.message}`), ...stsProblems.map((p) => p.message)] };
}

/**
 * One phase of the run, within its time bound: a failure or an overrun is logged, noted for the
 * run's outcome, and the run goes on with `fallback`. An overrun phase is not cancelled (its
 * I/O has its own timeouts); the run just stops waiting for it.
 */
async function phase<T>(ctx: AppContext, run: RunState, name: Phase, fallback: T, work: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = run.limits[name];
  try {
    const overrun = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`took longer than ${Math.round(limit / 1000)} s; left for the next run`)), limit);
    });
    return await Promise.race([Promise.resolve().then(work), overrun]);
  } catch (err) {
    const message = (err as Error).message;
    run.failures.push(`${name}: ${message}`);
    ctx.logger.error({ phase: name, err: message }, 'a phase of the periodic reconcile failed; the run goes on');
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}

/** The activity log beyond its retention and superseded check results. */
function pruneHistory(ctx: AppContext, now: number): void {
  const pruned = ctx.state().pruneHistory(new Date(now - ctx.config.history.retentionDays * 86_400_000).toISOString());
  if (pruned.activity + pruned.checks > 0) ctx.logger.info(pruned, 'pruned the activity log beyond its retention and superseded check results');
}

/**
 * Side work outside the timer's phases (the first DNSSEC look when called on its own): a failure
 * is logged and the work tried again on the next run.
 */
async function beside<T>(ctx: AppContext, failure: string, fallback: T, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    ctx.logger.error({ err: (err as Error).message }, failure);
    return fallback;
  }
}

/**
 * The schedule's due checks and alerts from them, the DNSSEC watch, then reminders and the
 * outbox, each a phase of its own. Checks need a resolver: the configured one, or the root's
 * /etc/resolv.conf (what a real server has; a test root without either sends no DNS at all).
 */
async function scheduledChecks(ctx: AppContext, run: RunState): Promise<{ rechecked: number; alertsRaised: number; alertsResolved: number }> {
  let checked: ScheduledRun | null = null;
  if (ctx.config.resolver || ctx.root.stat('/etc/resolv.conf')) {
    checked = await phase(ctx, run, 'checks', null, () => runScheduledChecks(ctx, { deliver: false }));
    // MTA-STS as a sender sees it, for the opted-in domains that are due (issue 27 §5): every
    // result is recorded; no domain is started after 90% of the phase's bound (the rest stay due).
    await phase(ctx, run, 'mtasts', undefined, async () => {
      const sts = await runMtaStsChecks(ctx, { budgetMs: run.limits.mtasts * 0.9 });
      run.failures.push(...sts.failed.map((f) => `mtasts: ${f.domain}: ${f.reason}`));
      // Auto-enforce on evidence, and the critical alert for a problem under enforce (issue 27 §5).
      const judged = judgeMtaSts(ctx);
      if (checked) {
        checked.raised += judged.raised;
        checked.resolved += judged.resolved;
      }
      pruneMtaStsChecks(ctx);
    });
    // The DNSSEC chain watcher's due zones (issue 12), same resolver rule.
    await phase(ctx, run, 'dnssec', undefined, async () => {
      await recheckDnssec(ctx);
      await dnssecFirstLook(ctx);
    });
  }
  // The account owners' notices (issue 28 item 5), before the outbox is sent so they go out in
  // this run; an account that fails is one line in the run's failures, the others are told.
  await phase(ctx, run, 'owners', undefined, async () => {
    const owners = await notifyOwners(ctx);
    run.failures.push(...owners.failures.map((f) => `owners: ${f}`));
  });
  await phase(ctx, run, 'alerts', undefined, async () => {
    queueReminders(ctx);
    await deliverDue(ctx);
  });
  return { rechecked: checked?.checked.length ?? 0, alertsRaised: checked?.raised ?? 0, alertsResolved: checked?.resolved ?? 0 };
}

/**
 * The chain watcher's first look at managed zones it has never seen (a new install, a new
 * account): the watcher only re-checks zones it knows, so without this a zone's DNSSEC panel and
 * DS hand-off stayed empty until someone ran `dnssec status`. Never in the way of the DNS work.
 */
export function dnssecFirstLook(ctx: AppContext, opts: StatusOptions = {}): Promise<string[]> {
  return beside(ctx, 'the first DNSSEC look at new zones failed; it is tried again on the next run', [], async () => {
    const seen = dnssecStore(ctx).zones();
    const zones = serverManagedZones(ctx).filter((z) => !seen.has(z));
    if (zones.length > 0) await recheckDnssec(ctx, { ...opts, zones });
    return zones;
  });
}
