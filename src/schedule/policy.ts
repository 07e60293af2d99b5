import { createHash } from 'node:crypto';

/**
 * When a domain's DANE check runs next. Pure: times in, times out.
 * - every domain once a day, each at its own time of day (a hash of its name), so a big server
 *   spreads its checks over the whole day instead of probing every MX host at once;
 * - after a publish, once senders can see the change (the replaced records' TTL, or the SOA
 *   minimum for new ones, plus a margin: the outside proof);
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

/** What resolvers had cached before a publish, for `afterPublishDelay`. */
export interface PublishedChange {
  kind: 'create' | 'delete';
  /** The record's TTL (a deleted record may sit in caches this long). */
  ttl: number;
}

/** Time for the zone to reach its secondaries and for clocks to differ, added to every delay. */
export const AFTER_PUBLISH_MARGIN_SECONDS = 60;

/**
 * Seconds after a publish until senders see it: the longest TTL of a record replaced (caches keep
 * it that long), or for records created where none was the zone's negative-caching TTL (RFC 2308:
 * the SOA minimum, a cached "no such record" lives that long), plus the margin. `negativeTtl`
 * null (a zone not read here): the records' own TTL stands in for it. `configured` (the setting
 * checks.afterPublishDelaySeconds) wins when set; 0 means "check at once" (the demo, the lab).
 */
export function afterPublishDelay(changes: readonly PublishedChange[], negativeTtl: number | null, configured?: number): number {
  if (configured !== undefined) return configured;
  let cached = 0;
  for (const c of changes) cached = Math.max(cached, c.kind === 'delete' ? c.ttl : (negativeTtl ?? c.ttl));
  return cached + AFTER_PUBLISH_MARGIN_SECONDS;
}

/** After a publish touched the domain: when senders can see the change (`afterPublishDelay`). */
export function afterPublish(now: number, delaySeconds: number): { at: number; reason: string } {
  return { at: now + delaySeconds * 1000, reason: 'after publish' };
}
