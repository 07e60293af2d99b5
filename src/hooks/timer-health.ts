import type { AppContext } from '../context.js';
import { processAlive } from '../util/lock.js';
import { alertStore, recordEvents } from '../alerts/notify.js';
import { conditionEvents, timerFailedCondition, type TimerRunOutcome as RunOutcome } from '../alerts/transitions.js';

/**
 * The periodic reconcile's health, measured at its end (issue 21): `lastReconcile` is written
 * when a run finishes, with its outcome; a marker written at its start and cleared at its end
 * lets the next run, and the daemon's watchdog, notice a run that crashed or was killed (a heap
 * limit, an OOM kill, a systemd timeout) and never reported anything.
 */
const RUNNING = 'reconcileRunning';
const OUTCOME = 'lastReconcileOutcome';
/** A run older than this is not running any more, whatever its pid says (pids are reused). */
const MAX_RUN_MS = 30 * 60_000;

interface Marker {
  startedAt: string;
  pid: number;
}

function marker(ctx: AppContext): Marker | null {
  const raw = ctx.state().getMeta(RUNNING);
  if (!raw) return null;
  try {
    const m = JSON.parse(raw) as Marker;
    return typeof m.pid === 'number' && typeof m.startedAt === 'string' ? m : null;
  } catch {
    return null;
  }
}

export function lastOutcome(ctx: AppContext): RunOutcome | null {
  const raw = ctx.state().getMeta(OUTCOME);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as RunOutcome;
  } catch {
    return null;
  }
}

/** A run whose marker is still there although it is no longer running: it died. */
function died(m: Marker | null, now: number): boolean {
  if (!m) return false;
  return !processAlive(m.pid) || now - Date.parse(m.startedAt) > MAX_RUN_MS;
}

/** The last run finished without a failure, and no run has died since (the success metric). */
export function lastRunSucceeded(ctx: AppContext, now = ctx.now()): boolean {
  return lastOutcome(ctx)?.ok === true && !died(marker(ctx), now);
}

/** A run starts: a predecessor that never finished is recorded as crashed first. */
export function startRun(ctx: AppContext): void {
  const now = ctx.now();
  const previous = marker(ctx);
  if (previous && died(previous, now)) {
    const outcome: RunOutcome = { ok: false, how: 'crashed', startedAt: previous.startedAt, finishedAt: null, failures: [`the run started at ${previous.startedAt} stopped without finishing (it crashed or was killed)`] };
    ctx.state().setMeta(OUTCOME, JSON.stringify(outcome));
    ctx.logger.error({ startedAt: previous.startedAt, pid: previous.pid }, 'the previous periodic reconcile stopped without finishing');
  }
  ctx.state().setMeta(RUNNING, JSON.stringify({ startedAt: new Date(now).toISOString(), pid: process.pid } satisfies Marker));
  alertOnTimerHealth(ctx, now);
}

/** A run ends (normally or by an exception it could still catch): its outcome, then the alert. */
export function finishRun(ctx: AppContext, ok: boolean, failures: string[]): void {
  const now = ctx.now();
  const started = marker(ctx)?.startedAt ?? new Date(now).toISOString();
  const state = ctx.state();
  state.setMeta('lastReconcile', new Date(now).toISOString());
  state.setMeta(OUTCOME, JSON.stringify({ ok, how: 'finished', startedAt: started, finishedAt: new Date(now).toISOString(), failures: failures.slice(0, 20).map((f) => f.slice(0, 500)) } satisfies RunOutcome));
  state.setMeta(RUNNING, '');
  alertOnTimerHealth(ctx, now);
}

/**
 * `timer-failed`: raised while the last run failed or died, resolved by a run that finished
 * well. The next run and the daemon's watchdog (every minute) both call this; the daemon is
 * how a run that died is noticed before the next one starts.
 */
export function alertOnTimerHealth(ctx: AppContext, now = ctx.now()) {
  const m = marker(ctx);
  const dead = died(m, now) ? m : null;
  const active = timerFailedCondition(lastOutcome(ctx), dead ? { startedAt: dead.startedAt } : null);
  return recordEvents(ctx, conditionEvents('timer-failed', active, alertStore(ctx).open(), () => 'The periodic reconcile finished without a failure again.'), now);
}
