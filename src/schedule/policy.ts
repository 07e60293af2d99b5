import { createHash } from 'node:crypto';

/**
 * When a domain's DANE check runs next. Pure: times in, times out.
 * - every domain once a day, each at its own time of day (a hash of its name), so a big server
 *   spreads its checks over the whole day instead of probing every MX host at once;
 * - after a publish, ~2×TTL later (caches have then seen the change: the outside proof);
 * - a broken domain sooner, backing off: base, 2×base, 4×base … up to a maximum, never later
 *   than its daily slot.
 */
export const DAY_MS = 24 * 60 * 60 * 1000;

export interface CheckPolicy {
  dailyFullCheck: boolean;
  brokenRecheckMinutes: number;
  brokenRecheckMaxHours: number;
}

/** The domain's fixed offset into the day (ms after 00:00 UTC). */
export function dailyOffset(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) % DAY_MS;
}

/** The first daily slot of `key` strictly after `now`. */
export function nextDailySlot(key: string, now: number): number {
  const dayStart = now - (now % DAY_MS);
  const slot = dayStart + dailyOffset(key);
  return slot > now ? slot : slot + DAY_MS;
}

/** When a domain not seen before is first checked: at its slot today or tomorrow. */
export function firstCheck(key: string, now: number): { at: number; reason: string } {
  return { at: nextDailySlot(key, now), reason: 'daily' };
}

/** After a check: `failures` is the count of consecutive failed checks including this one. */
export function nextCheck(key: string, now: number, ok: boolean, failures: number, p: CheckPolicy): { at: number; reason: string } {
  const daily = p.dailyFullCheck ? nextDailySlot(key, now) : Number.POSITIVE_INFINITY;
  if (ok) return p.dailyFullCheck ? { at: daily, reason: 'daily' } : { at: now + 365 * DAY_MS, reason: 'not scheduled' };
  const base = p.brokenRecheckMinutes * 60_000;
  const backoff = Math.min(base * 2 ** Math.max(0, failures - 1), p.brokenRecheckMaxHours * 3_600_000);
  const retry = now + backoff;
  return retry < daily ? { at: retry, reason: `broken, retry ${failures}` } : { at: daily, reason: 'daily' };
}

/** After a publish touched the domain: 2×TTL later (plus a minute for the zone to reach secondaries). */
export function afterPublish(now: number, ttlSeconds: number): { at: number; reason: string } {
  return { at: now + 2 * ttlSeconds * 1000 + 60_000, reason: 'after publish' };
}
