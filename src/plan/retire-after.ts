/**
 * The one rule for how long a new TLSA record must have been published before the record it
 * replaces may go: two TTLs (RFC 7671 §8.1, "publish first, wait two TTLs, then retire"), so every
 * resolver that cached the old RRset has fetched the new one. Read by the planner (plan.ts) and
 * by the timer's wake-up time (hooks/reconcile.ts).
 */
export function retireAfterMs(ttlSeconds: number, marginMs = 0): number {
  return 2 * ttlSeconds * 1000 + marginMs;
}

/** The timer wakes this long after a retirement falls due, so the record is due when it runs. */
export const WAKE_MARGIN_MS = 1000;
