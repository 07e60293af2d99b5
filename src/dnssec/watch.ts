/**
 * The chain watcher: the last known DNSSEC state per zone, every change logged old → new, and
 * zones that are neither secure nor unsigned checked again with back-off (minutes, then hours)
 * through the shared schedule (kind "dnssec"). `recheckDnssec` is what the timer, or the alerts
 * scheduler, calls.
 */
import { migrate } from '../state/schema.js';
import type Database from 'better-sqlite3';
import type { AppContext } from '../context.js';
import { Schedule } from '../schedule/schedule.js';
import { DNSSEC_STATES, type DnssecState } from './state.js';
import { dnssecStatus, type DnssecStatus, type StatusOptions } from './status.js';

export const DNSSEC_KIND = 'dnssec';
const FIRST_RETRY_MS = 5 * 60_000;
const MAX_RETRY_MS = 6 * 3_600_000;


export interface StoredDnssec {
  status: DnssecStatus;
  /** When the zone entered its current state. */
  since: string;
}

export interface StateChange {
  zone: string;
  from: DnssecState | null;
  to: DnssecState;
  /** signed-no-ds → secure and the like; anything → bogus is an incident. */
  kind: 'good-news' | 'incident' | 'change' | 'first';
}

export class DnssecStore {
  constructor(
    private readonly db: Database.Database,
    opts: { readOnly?: boolean } = {},
  ) {
    if (!opts.readOnly) migrate(db);
  }

  get(zone: string): StoredDnssec | null {
    const r = this.db.prepare('SELECT status, since FROM dnssec_state WHERE zone = ?').get(zone) as { status: string; since: string } | undefined;
    return r ? { status: JSON.parse(r.status) as DnssecStatus, since: r.since } : null;
  }

  /** The zones with a stored status (names only: the timer asks this on every run). */
  zones(): Set<string> {
    return new Set((this.db.prepare('SELECT zone FROM dnssec_state').pluck().all() as string[]));
  }

  all(): Map<string, StoredDnssec> {
    const rows = this.db.prepare('SELECT zone, status, since FROM dnssec_state').all() as { zone: string; status: string; since: string }[];
    return new Map(rows.map((r) => [r.zone, { status: JSON.parse(r.status) as DnssecStatus, since: r.since }]));
  }

  /** Store the new status; returns the state it replaced (null for a zone not seen before). */
  put(s: DnssecStatus): DnssecState | null {
    const old = this.db.prepare('SELECT state, since FROM dnssec_state WHERE zone = ?').get(s.zone) as { state: DnssecState; since: string } | undefined;
    const since = old && old.state === s.state ? old.since : s.time;
    this.db
      .prepare('INSERT INTO dnssec_state (zone, state, reason, signing, status, time, since) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(zone) DO UPDATE SET state = excluded.state, reason = excluded.reason, signing = excluded.signing, status = excluded.status, time = excluded.time, since = excluded.since')
      .run(s.zone, s.state, s.reason, s.signing, JSON.stringify(s), s.time, since);
    return old?.state ?? null;
  }
}

export function dnssecStore(ctx: AppContext): DnssecStore {
  return new DnssecStore(ctx.state().db);
}

/** The last status of every zone, for lists, audit and the domain page. */
export function latestDnssec(ctx: AppContext): Map<string, DnssecStatus> {
  // Read-only: audit and the web lists must not create the database or its table.
  const db = ctx.readState()?.db;
  const stored = db?.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'dnssec_state'").get() ? new DnssecStore(db, { readOnly: true }).all() : new Map<string, StoredDnssec>();
  return new Map([...stored].map(([z, s]) => [z, s.status]));
}

/** Pure: how a change reads. */
export function classifyChange(from: DnssecState | null, to: DnssecState): StateChange['kind'] {
  if (to === 'bogus' && from !== 'bogus') return 'incident';
  if (from === null) return 'first';
  if (to === 'secure') return 'good-news';
  return 'change';
}

/** Pure: secure and unsigned are settled; everything else is looked at again, sooner at first. */
export function nextDnssecCheck(state: DnssecState, failures: number, now: number): { at: number; reason: string } | null {
  if (state === 'secure' || state === 'unsigned' || state === 'parent-unsigned') return null;
  const wait = Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1), MAX_RETRY_MS);
  return { at: now + wait, reason: `${state}, retry ${failures}` };
}

/** Store results, log each state change (old → new) in the activity log, and plan the next look. */
export function recordStatuses(ctx: AppContext, rows: DnssecStatus[], actor: string, now = ctx.now()): StateChange[] {
  const state = ctx.state();
  const store = dnssecStore(ctx);
  const schedule = new Schedule(state.db);
  const changes: StateChange[] = [];
  for (const s of rows) {
    const from = store.put(s);
    if (from !== s.state) {
      const kind = classifyChange(from, s.state);
      changes.push({ zone: s.zone, from, to: s.state, kind });
      const label = (st: DnssecState | null) => (st ? DNSSEC_STATES[st].label : 'not checked');
      state.logActivity({
        actor, kind: 'dnssec', zone: s.zone, subject: s.zone,
        detail: `DNSSEC ${label(from)} → ${label(s.state)}${s.reason ? ` (${s.reason})` : ''}${kind === 'incident' ? ': INCIDENT, resolvers now fail every lookup in the zone' : kind === 'good-news' ? ': the chain validates' : ''}. ${s.message}`,
        ok: s.state !== 'bogus',
      });
    }
    // A new state starts its back-off from the shortest wait.
    if (from !== s.state) schedule.remove(DNSSEC_KIND, s.zone);
    const failures = (schedule.get(DNSSEC_KIND, s.zone)?.failures ?? 0) + 1;
    const next = nextDnssecCheck(s.state, failures, now);
    if (next) schedule.done(DNSSEC_KIND, s.zone, { now, ok: false, nextAt: next.at, reason: next.reason });
    else schedule.remove(DNSSEC_KIND, s.zone);
  }
  return changes;
}

/** Look at these zones again soon (after enabling, after handing over a DS). */
export function watchZones(ctx: AppContext, zones: string[], now = ctx.now()): void {
  const schedule = new Schedule(ctx.state().db);
  for (const z of zones) schedule.plan(DNSSEC_KIND, z, now + FIRST_RETRY_MS, 'watching after a change', 'replace');
}

/**
 * The re-check: every zone whose DNSSEC check is due (or `zones`), checked, stored, changes
 * logged. Callable from the timer or from the alerts scheduler.
 */
export async function recheckDnssec(ctx: AppContext, opts: StatusOptions & { now?: number; zones?: string[]; actor?: string } = {}): Promise<{ checked: DnssecStatus[]; changes: StateChange[] }> {
  const now = opts.now ?? ctx.now();
  if (!opts.zones) {
    // --after-ds-gone intents first: signing stops only once the DS has been gone long enough.
    const { processDisableIntents } = await import('./disable.js');
    await processDisableIntents(ctx, { now, ...(opts.resolver ? { resolver: opts.resolver } : {}) });
  }
  const zones = opts.zones ?? new Schedule(ctx.state().db).due(DNSSEC_KIND, now).map((d) => d.key);
  if (zones.length === 0) return { checked: [], changes: [] };
  const checked = await dnssecStatus(ctx, zones, opts);
  return { checked, changes: recordStatuses(ctx, checked, opts.actor ?? 'timer', now) };
}
