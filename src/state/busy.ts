/**
 * The one rule for SQLite's "busy" answer. SQLite itself waits up to BUSY_TIMEOUT_MS for a lock
 * (the busy timeout of every connection), but some steps answer SQLITE_BUSY at once without
 * waiting: switching a new database to WAL and creating the schema while another process does the
 * same, or a write transaction upgraded from a read one. Such work is idempotent here, so it is
 * tried again after a short random pause, for as long as the busy timeout counted from the first
 * busy answer: the same patience SQLite shows, whether the work is one statement or a whole hook.
 */
export const BUSY_TIMEOUT_MS = 10_000;

/** SQLite answered "busy" (SQLITE_BUSY or one of its extended codes, e.g. SQLITE_BUSY_SNAPSHOT). */
export function isBusy(err: unknown): boolean {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY');
}

/**
 * The pause in ms before the next try after `err` on try number `attempt` (from 1), or null when
 * it is not worth trying again: not busy, or busy for longer than the busy timeout since
 * `firstBusyAt`. Pauses double from about 10 ms to about 500 ms, with jitter (×0.5 to ×1.5) so
 * processes that collided fall out of step.
 */
export function busyPause(err: unknown, attempt: number, firstBusyAt: number, now: number = Date.now()): number | null {
  if (!isBusy(err) || now - firstBusyAt > BUSY_TIMEOUT_MS) return null;
  const base = Math.min(10 * 2 ** Math.max(0, attempt - 1), 500);
  return Math.round(base * (0.5 + Math.random()));
}

/** `fn` again while busyPause allows (blocking the thread during pauses: for synchronous callers). */
export function retryWhileBusySync<T>(fn: () => T): T {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  let firstBusyAt: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      firstBusyAt ??= Date.now();
      const ms = busyPause(err, attempt, firstBusyAt);
      if (ms === null) throw err;
      Atomics.wait(pause, 0, 0, ms);
    }
  }
}

/** `fn` again while busyPause allows. */
export async function retryWhileBusy<T>(fn: () => Promise<T>): Promise<T> {
  let firstBusyAt: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      firstBusyAt ??= Date.now();
      const ms = busyPause(err, attempt, firstBusyAt);
      if (ms === null) throw err;
      await new Promise((r) => setTimeout(r, ms));
    }
  }
}
