import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { afterPublish, afterPublishDelay, DAY_MS, dailyOffset, firstCheck, nextCheck, nextDailySlot } from '../../src/schedule/policy.js';
import { Schedule } from '../../src/schedule/schedule.js';

const MIN = 60_000;
const H = 60 * MIN;
const T0 = Date.UTC(2026, 10, 29, 0, 0, 0);
const policy = { dailyFullCheck: true, brokenRecheckMinutes: 30, brokenRecheckMaxHours: 6 };

describe('check policy (pure)', () => {
  it('spreads 1,000 domains over the whole day: every hour gets some, none gets a crowd', () => {
    const perHour = new Array<number>(24).fill(0);
    for (let i = 0; i < 1000; i++) perHour[Math.floor(dailyOffset(`d${i}.example`) / H)]!++;
    expect(Math.min(...perHour)).toBeGreaterThan(20); // 41.7 expected per hour
    expect(Math.max(...perHour)).toBeLessThan(65);
  });

  it('a domain keeps its time of day: the next slot is later today or the same time tomorrow', () => {
    const off = dailyOffset('a.example');
    expect(nextDailySlot('a.example', T0)).toBe(T0 + off);
    expect(nextDailySlot('a.example', T0 + off)).toBe(T0 + off + DAY_MS);
    expect(firstCheck('a.example', T0 + off + 1)).toEqual({ at: T0 + off + DAY_MS, reason: 'daily' });
  });

  it('broken domains come back sooner with back-off 30 min, 1 h, 2 h, 4 h, 6 h max, never after their daily slot', () => {
    const key = 'broken.example';
    const now = T0 + dailyOffset(key) + 1; // just after its slot: the daily slot is a day away
    const waits = [1, 2, 3, 4, 5, 6].map((f) => nextCheck(key, now, false, f, policy)).map((n) => (n.at - now) / MIN);
    expect(waits).toEqual([30, 60, 120, 240, 360, 360]);
    expect(nextCheck(key, now, false, 1, policy).reason).toBe('broken, retry 1');
    const late = T0 + dailyOffset(key) - 10 * MIN; // 10 minutes before its daily slot
    expect(nextCheck(key, late, false, 3, policy)).toEqual({ at: T0 + dailyOffset(key), reason: 'daily' });
    expect(nextCheck(key, now, true, 0, policy)).toEqual({ at: T0 + dailyOffset(key) + DAY_MS, reason: 'daily' });
  });

  it('after a publish: when senders can see it (replaced records: their TTL; new ones: the SOA minimum) plus a minute', () => {
    // Replacing a record of TTL 3600 in a zone whose negative TTL is 300: the old record may be cached an hour.
    expect(afterPublishDelay([{ kind: 'delete', ttl: 3600 }, { kind: 'create', ttl: 3600 }], 300)).toBe(3600 + 60);
    // Only new records where none were: a cached "no such record" lives for the SOA minimum.
    expect(afterPublishDelay([{ kind: 'create', ttl: 3600 }, { kind: 'create', ttl: 3600 }], 300)).toBe(300 + 60);
    // The longest replaced TTL wins.
    expect(afterPublishDelay([{ kind: 'delete', ttl: 600 }, { kind: 'delete', ttl: 7200 }, { kind: 'create', ttl: 60 }], 300)).toBe(7200 + 60);
    // A zone not read here: the new record's own TTL stands in for the negative TTL.
    expect(afterPublishDelay([{ kind: 'create', ttl: 1800 }], null)).toBe(1800 + 60);
    // checks.afterPublishDelaySeconds wins, 0 included (the demo).
    expect(afterPublishDelay([{ kind: 'delete', ttl: 3600 }], 300, 0)).toBe(0);
    expect(afterPublishDelay([{ kind: 'delete', ttl: 3600 }], 300, 120)).toBe(120);
    expect(afterPublish(T0, 3660)).toEqual({ at: T0 + H + MIN, reason: 'after publish' });
  });
});

describe('Schedule (state database table)', () => {
  const open = () => new Schedule(new Database(':memory:'));

  it('due items earliest first; an earlier request wins unless replaced; other kinds are separate', () => {
    const s = open();
    s.plan('check', 'a', T0 + 3 * H, 'daily');
    s.plan('check', 'b', T0 + H, 'daily');
    s.plan('dnssec', 'a', T0, 'chain');
    s.plan('check', 'a', T0 + 2 * H, 'after publish'); // earlier: wins
    s.plan('check', 'a', T0 + 5 * H, 'later'); // later: ignored
    expect(s.due('check', T0 + 2 * H).map((i) => [i.key, i.reason])).toEqual([['b', 'daily'], ['a', 'after publish']]);
    expect(s.due('check', T0)).toEqual([]);
    expect(s.due('dnssec', T0).map((i) => i.key)).toEqual(['a']);
    s.plan('check', 'a', T0 + 5 * H, 'later', 'replace');
    expect(s.get('check', 'a')).toMatchObject({ dueAt: T0 + 5 * H, reason: 'later' });
    expect(s.next('check')).toMatchObject({ key: 'b' });
  });

  it('done() counts consecutive failures and resets them on success', () => {
    const s = open();
    s.done('check', 'x', { now: T0, ok: false, nextAt: T0 + 30 * MIN, reason: 'broken, retry 1' });
    s.done('check', 'x', { now: T0 + 30 * MIN, ok: false, nextAt: T0 + 90 * MIN, reason: 'broken, retry 2' });
    expect(s.get('check', 'x')).toMatchObject({ failures: 2, lastOk: false, lastRunAt: T0 + 30 * MIN, dueAt: T0 + 90 * MIN });
    s.done('check', 'x', { now: T0 + 90 * MIN, ok: true, nextAt: T0 + DAY_MS, reason: 'daily' });
    expect(s.get('check', 'x')).toMatchObject({ failures: 0, lastOk: true });
  });

  it('sync adds new keys at their first time and drops keys that are gone, keeping times of the rest', () => {
    const s = open();
    s.sync('check', ['a', 'b'], (k) => ({ at: T0 + (k === 'a' ? H : 2 * H), reason: 'daily' }));
    s.plan('check', 'a', T0 + 10 * MIN, 'after publish');
    expect(s.sync('check', ['a', 'c'], () => ({ at: T0 + 3 * H, reason: 'daily' }))).toEqual({ added: 1, removed: 1 });
    expect(s.list('check').map((i) => [i.key, i.dueAt])).toEqual([['a', T0 + 10 * MIN], ['c', T0 + 3 * H]]);
  });
});
