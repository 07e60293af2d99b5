import { migrate } from '../state/schema.js';
import type Database from 'better-sqlite3';
import type { Verdict } from '../dane/verdict.js';
import type { AlertKind, DomainState, Incident, Severity } from './transitions.js';

/** An incident as stored: open until `resolvedAt`. */
export interface Alert extends Incident {
  id: number;
  openedAt: number;
  resolvedAt: number | null;
  resolvedDetail: string | null;
  lastNotifiedAt: number | null;
  /** The domain's verdict when the incident cleared. */
  resolvedVerdict?: Verdict;
  /** Who acknowledged it and when (reminders stop until it resolves or gets worse); null: nobody. */
  ackedBy: string | null;
  ackedAt: number | null;
}

export type DeliveryEvent = 'raised' | 'reminder' | 'resolved' | 'test' | 'summary';

export interface Delivery {
  id: number;
  alertId: number | null;
  channel: string;
  event: DeliveryEvent;
  /** The message as rendered when it was queued (JSON of AlertMessage). */
  payload: string;
  createdAt: number;
  attempts: number;
  nextAttemptAt: number;
  deliveredAt: number | null;
  lastError: string | null;
}


interface AlertRow {
  id: number;
  key: string;
  kind: string;
  severity: string;
  subject: string;
  title: string;
  detail: string;
  data: string;
  opened_at: number;
  resolved_at: number | null;
  resolved_detail: string | null;
  last_notified_at: number | null;
  acked_by: string | null;
  acked_at: number | null;
}

interface DeliveryRow {
  id: number;
  alert_id: number | null;
  channel: string;
  event: string;
  payload: string;
  created_at: number;
  attempts: number;
  next_attempt_at: number;
  delivered_at: number | null;
  last_error: string | null;
}

function toAlert(r: AlertRow): Alert {
  const data = JSON.parse(r.data) as Pick<Alert, 'domain' | 'host' | 'verdictFrom' | 'verdictTo' | 'baseline' | 'resolvedVerdict'>;
  return {
    id: r.id,
    key: r.key,
    kind: r.kind as AlertKind,
    severity: r.severity as Severity,
    subject: r.subject,
    title: r.title,
    detail: r.detail,
    ...data,
    openedAt: r.opened_at,
    resolvedAt: r.resolved_at,
    resolvedDetail: r.resolved_detail,
    lastNotifiedAt: r.last_notified_at,
    ackedBy: r.acked_by ?? null,
    ackedAt: r.acked_at ?? null,
  };
}

/** Severity order: an incident raised again at a higher one has got worse. */
const SEVERITY_RANK: Record<string, number> = { info: 0, warning: 1, critical: 2 };

function toDelivery(r: DeliveryRow): Delivery {
  return { id: r.id, alertId: r.alert_id, channel: r.channel, event: r.event as DeliveryEvent, payload: r.payload, createdAt: r.created_at, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, deliveredAt: r.delivered_at, lastError: r.last_error };
}

/** Alerts, the per-domain baselines the transition logic compares against, and the delivery outbox. */
export class AlertStore {
  constructor(private readonly db: Database.Database) {
    migrate(db);
  }

  /**
   * An admin has seen the open alert: reminders stop until it resolves or gets worse (raised again
   * at a higher severity). Kept on the alert, so the history says who and when. False when the
   * alert is not open (resolved meanwhile) or unknown.
   */
  acknowledge(id: number, who: string, now: number): boolean {
    return this.db.prepare('UPDATE alerts SET acked_by = ?, acked_at = ? WHERE id = ? AND resolved_at IS NULL').run(who, now, id).changes === 1;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  open(): Alert[] {
    return (this.db.prepare('SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY opened_at DESC, id DESC').all() as AlertRow[]).map(toAlert);
  }

  openByKey(): Map<string, Alert> {
    return new Map(this.open().map((a) => [a.key, a]));
  }

  /** Newest first, open and resolved (the overview's history). */
  history(limit = 50): Alert[] {
    return (this.db.prepare('SELECT * FROM alerts ORDER BY opened_at DESC, id DESC LIMIT ?').all(limit) as AlertRow[]).map(toAlert);
  }

  get(id: number): Alert | null {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as AlertRow | undefined;
    return r ? toAlert(r) : null;
  }

  /**
   * Opens an incident; returns null when one with this key is already open (dedupe), unless it comes
   * back at a higher severity: then the open one takes it, loses its acknowledgement and is returned.
   */
  raise(i: Incident, now: number): Alert | null {
    const data = JSON.stringify({ domain: i.domain, host: i.host, verdictFrom: i.verdictFrom, verdictTo: i.verdictTo, baseline: i.baseline });
    const r = this.db
      .prepare('INSERT INTO alerts (key, kind, severity, subject, title, detail, data, opened_at, last_notified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
      .run(i.key, i.kind, i.severity, i.subject, i.title, i.detail, data, now, now);
    if (r.changes === 0) {
      // Already open: worse than when acknowledged means the acknowledgement no longer holds.
      const open = this.db.prepare('SELECT * FROM alerts WHERE key = ? AND resolved_at IS NULL').get(i.key) as AlertRow | undefined;
      if (open && (SEVERITY_RANK[i.severity] ?? 0) > (SEVERITY_RANK[open.severity] ?? 0)) {
        this.db.prepare('UPDATE alerts SET severity = ?, title = ?, detail = ?, acked_by = NULL, acked_at = NULL, last_notified_at = ? WHERE id = ?').run(i.severity, i.title, i.detail, now, open.id);
        return this.get(open.id);
      }
    }
    return r.changes === 1 ? this.get(Number(r.lastInsertRowid)) : null;
  }

  /** Closes the open incident with this key; returns it, or null when none was open. */
  resolve(key: string, detail: string, now: number, verdictTo?: Verdict): Alert | null {
    const row = this.db.prepare('SELECT * FROM alerts WHERE key = ? AND resolved_at IS NULL').get(key) as AlertRow | undefined;
    if (!row) return null;
    const data = { ...(JSON.parse(row.data) as object), ...(verdictTo ? { resolvedVerdict: verdictTo } : {}) };
    this.db.prepare('UPDATE alerts SET resolved_at = ?, resolved_detail = ?, data = ? WHERE id = ?').run(now, detail, JSON.stringify(data), row.id);
    return this.get(row.id);
  }

  markNotified(id: number, now: number): void {
    this.db.prepare('UPDATE alerts SET last_notified_at = ? WHERE id = ?').run(now, id);
  }

  baselines(): Map<string, DomainState> {
    const rows = this.db.prepare('SELECT domain, verdict, ds FROM alert_baselines').all() as { domain: string; verdict: string; ds: number | null }[];
    return new Map(rows.map((r) => [r.domain, { verdict: r.verdict as Verdict, ds: r.ds === null ? null : r.ds === 1 }]));
  }

  setBaselines(states: Map<string, DomainState>, now: number): void {
    const up = this.db.prepare('INSERT INTO alert_baselines (domain, verdict, ds, time) VALUES (?, ?, ?, ?) ON CONFLICT(domain) DO UPDATE SET verdict = excluded.verdict, ds = excluded.ds, time = excluded.time');
    for (const [d, s] of states) up.run(d, s.verdict, s.ds === null ? null : s.ds ? 1 : 0, now);
  }

  enqueue(d: { alertId: number | null; channel: string; event: DeliveryEvent; payload: string }, now: number): number {
    const r = this.db.prepare('INSERT INTO alert_deliveries (alert_id, channel, event, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)').run(d.alertId, d.channel, d.event, d.payload, now, now);
    return Number(r.lastInsertRowid);
  }

  dueDeliveries(now: number, limit = 200): Delivery[] {
    return (this.db.prepare('SELECT * FROM alert_deliveries WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?').all(now, limit) as DeliveryRow[]).map(toDelivery);
  }

  delivery(id: number): Delivery | null {
    const r = this.db.prepare('SELECT * FROM alert_deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return r ? toDelivery(r) : null;
  }

  deliveries(opts: { alertId?: number; limit?: number } = {}): Delivery[] {
    const rows = opts.alertId === undefined
      ? this.db.prepare('SELECT * FROM alert_deliveries ORDER BY id DESC LIMIT ?').all(opts.limit ?? 100)
      : this.db.prepare('SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY id').all(opts.alertId);
    return (rows as DeliveryRow[]).map(toDelivery);
  }

  /**
   * Take a due message for sending: moves its next attempt to `leaseUntil` only if nobody else
   * did since it was read (the timer and the daemon both deliver). False: another process has it.
   * A process that dies while sending leaves the lease to run out, and the message is sent again.
   */
  claim(d: Delivery, leaseUntil: number): boolean {
    return this.db.prepare('UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ? AND next_attempt_at = ? AND delivered_at IS NULL').run(leaseUntil, d.id, d.nextAttemptAt).changes === 1;
  }

  /** Messages of this channel delivered since `since` (alert messages, or only `event`'s). */
  sentSince(channel: string, since: number, event?: DeliveryEvent): number {
    const r = event
      ? this.db.prepare('SELECT COUNT(*) AS n FROM alert_deliveries WHERE channel = ? AND delivered_at >= ? AND attempts > 0 AND event = ?').get(channel, since, event)
      : this.db.prepare("SELECT COUNT(*) AS n FROM alert_deliveries WHERE channel = ? AND delivered_at >= ? AND attempts > 0 AND event NOT IN ('test', 'summary')").get(channel, since);
    return (r as { n: number }).n;
  }

  /** Messages not sent on purpose (the daily cap): closed without an attempt, with the reason. */
  hold(ids: number[], now: number, reason: string): void {
    const up = this.db.prepare('UPDATE alert_deliveries SET delivered_at = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL');
    this.db.transaction(() => {
      for (const id of ids) up.run(now, reason, id);
    })();
  }

  delivered(id: number, now: number): void {
    this.db.prepare('UPDATE alert_deliveries SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?').run(now, id);
  }

  failed(id: number, error: string, nextAttemptAt: number): void {
    this.db.prepare('UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?').run(error.slice(0, 500), nextAttemptAt, id);
  }

  /** Per channel: the oldest undelivered message that has failed at least once (the overview's warning). */
  failingChannels(): { channel: string; pending: number; attempts: number; lastError: string; since: number; nextAttemptAt: number }[] {
    const rows = this.db
      .prepare(`SELECT channel, COUNT(*) AS pending, MAX(attempts) AS attempts, MIN(created_at) AS since, MIN(next_attempt_at) AS next_at, (SELECT last_error FROM alert_deliveries d2 WHERE d2.channel = d.channel AND d2.delivered_at IS NULL AND d2.attempts > 0 AND d2.event != 'test' ORDER BY id DESC LIMIT 1) AS last_error FROM alert_deliveries d WHERE delivered_at IS NULL AND attempts > 0 AND event != 'test' GROUP BY channel ORDER BY channel`)

      .all() as { channel: string; pending: number; attempts: number; since: number; next_at: number; last_error: string | null }[];
    return rows.map((r) => ({ channel: r.channel, pending: r.pending, attempts: r.attempts, lastError: r.last_error ?? '', since: r.since, nextAttemptAt: r.next_at }));
  }

  /** Open alerts per kind (metrics). */
  /** Open alerts per "kind\u0000severity". */
  openCounts(): Map<string, number> {
    const rows = this.db.prepare('SELECT kind, severity, COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL GROUP BY kind, severity').all() as { kind: string; severity: string; n: number }[];
    return new Map(rows.map((r) => [`${r.kind}\u0000${r.severity}`, r.n]));
  }
}
