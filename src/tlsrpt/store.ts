import type Database from 'better-sqlite3';
import { perStateDb } from '../state/per-state.js';
import { migrate } from '../state/schema.js';
import type { TlsrptFailure, TlsrptPolicy, TlsrptReport } from './report.js';
import type { ReportClaim } from '../alerts/transitions.js';

/** The TLS-RPT tables (their layout and why: state/schema.ts) in the state database. */

/** A report as the importer hands it to the store: sender facts and the aggregated policies. */
export interface StoredReport extends Omit<TlsrptReport, 'policies'> {
  /** The DKIM d= domain of a verified signature, else the From domain ('' when neither). */
  signer: string;
  authenticated: boolean;
  /** Policies beyond the per-report limit, only counted. */
  policiesCut: number;
  policies: AggregatedPolicy[];
}

export interface AggregatedPolicy extends Omit<TlsrptPolicy, 'failures'> {
  /** Failed sessions per result type (every failure detail counted). */
  results: { resultType: string; count: number }[];
  /** A few failure details as sent (at most the sample limit per report and result type). */
  samples: TlsrptFailure[];
}

/** One policy of one report, as listed (a report covering two domains is two rows). */
export interface TlsrptRow extends Omit<TlsrptPolicy, 'failures'>, Pick<TlsrptReport, 'reportId' | 'organization' | 'start' | 'end'> {
  receivedAt: number;
  signer: string;
  authenticated: boolean;
  /** Failed sessions per result type, most first. */
  results: { resultType: string; count: number }[];
  /** Failure details kept as samples (`samples: true` in list(); otherwise empty). */
  failures: TlsrptFailure[];
}

const DAY_MS = 86_400_000;
/** Reports of this last stretch count for alerts: a sender that stopped reporting does not hold an incident open. */
export const ALERT_WINDOW_MS = 7 * DAY_MS;

/** The TLS-RPT tables live in the state database (created on first use). */
export const tlsrptStore = perStateDb((db) => new TlsrptStore(db));

export class TlsrptStore {
  constructor(private readonly db: Database.Database, opts: { readOnly?: boolean } = {}) {
    if (!opts.readOnly) migrate(db);
  }

  /** Whether the tables exist (a read-only reader must not create them). */
  static present(db: Database.Database): boolean {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tlsrpt_report'").get() !== undefined;
  }

  /** The insert statements, prepared once (the importer adds thousands of reports in a row). */
  private inserts?: { report: Database.Statement; policy: Database.Statement; result: Database.Statement; sample: Database.Statement };

  /**
   * Stores the report; false when the same organisation already sent a report with this
   * report-id under the same signer, signed alike (a resend). A forged unsigned copy of a
   * sender's report-id (From: the sender's domain, no valid DKIM) is another key: it cannot
   * make the real, signed report a "duplicate". Inside the caller's transaction it adds none.
   */
  add(r: StoredReport, receivedAt: number): boolean {
    const ins = (this.inserts ??= {
      report: this.db.prepare('INSERT INTO tlsrpt_report (report_id, organization, signer, authenticated, contact, start_time, end_time, received_at, policies_cut) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(organization, report_id, signer, authenticated) DO NOTHING'),
      policy: this.db.prepare('INSERT INTO tlsrpt_policy (report, domain, organization, day, end_time, policy_type, mx_hosts, successful, failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      result: this.db.prepare('INSERT INTO tlsrpt_result (policy, result_type, count) VALUES (?, ?, ?) ON CONFLICT(policy, result_type) DO UPDATE SET count = count + excluded.count'),
      sample: this.db.prepare('INSERT INTO tlsrpt_sample (policy, result_type, sending_ip, receiving_mx, receiving_ip, count, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    });
    const write = () => {
      const res = ins.report.run(r.reportId, r.organization, r.signer, r.authenticated ? 1 : 0, r.contact, r.start, r.end, receivedAt, r.policiesCut);
      if (res.changes === 0) return false;
      const report = Number(res.lastInsertRowid);
      const day = dayOf(r.start);
      for (const p of r.policies) {
        const policy = Number(ins.policy.run(report, p.policyDomain, r.organization, day, r.end, p.policyType, JSON.stringify(p.mxHosts), p.successful, p.failed).lastInsertRowid);
        for (const x of p.results) ins.result.run(policy, x.resultType, x.count);
        for (const f of p.samples) ins.sample.run(policy, f.resultType, f.sendingIp, f.receivingMx, f.receivingIp, f.count, f.reasonCode);
      }
      return true;
    };
    return this.db.inTransaction ? write() : this.db.transaction(write).immediate();
  }

  /** Reports this organisation already sent about `domain` for the day `start` falls in (the flood limit). */
  reportsOfDay(organization: string, domain: string, start: number): number {
    const row = this.db.prepare('SELECT COUNT(DISTINCT report) AS n FROM tlsrpt_policy WHERE organization = ? AND domain = ? AND day = ?').get(organization, domain, dayOf(start)) as { n: number };
    return row.n;
  }

  /**
   * Newest first by the end of the reported period. Three indexed queries whatever the number of
   * rows (policies, their result counts, and the samples only when asked for).
   */
  list(opts: { domain?: string; since?: number; limit?: number; samples?: boolean } = {}): TlsrptRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.domain !== undefined) {
      where.push('p.domain = ?');
      args.push(opts.domain);
    }
    if (opts.since !== undefined) {
      where.push('p.end_time >= ?');
      args.push(opts.since);
    }
    const limit = opts.limit ?? 10_000;
    const selected = `SELECT p.id FROM tlsrpt_policy p ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY p.end_time DESC, p.report DESC, p.id LIMIT ?`;
    const rows = this.db
      .prepare(
        `SELECT p.id, r.report_id, r.organization, r.signer, r.authenticated, r.start_time, r.end_time, r.received_at, p.policy_type, p.domain, p.mx_hosts, p.successful, p.failed
         FROM tlsrpt_policy p JOIN tlsrpt_report r ON r.id = p.report ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY p.end_time DESC, p.report DESC, p.id LIMIT ?`,
      )
      .all(...args, limit) as { id: number; report_id: string; organization: string; signer: string; authenticated: number; start_time: number; end_time: number; received_at: number; policy_type: string; domain: string; mx_hosts: string; successful: number; failed: number }[];
    const results = new Map<number, { resultType: string; count: number }[]>();
    for (const x of this.db.prepare(`SELECT policy, result_type AS resultType, count FROM tlsrpt_result WHERE policy IN (${selected}) ORDER BY policy, count DESC, result_type`).all(...args, limit) as { policy: number; resultType: string; count: number }[]) {
      const list = results.get(x.policy) ?? [];
      list.push({ resultType: x.resultType, count: x.count });
      results.set(x.policy, list);
    }
    const samples = new Map<number, TlsrptFailure[]>();
    if (opts.samples) {
      // Columns named as TlsrptFailure's fields: the row is the value, with no mapping to keep in step.
      for (const s of this.db.prepare(`SELECT policy, result_type AS resultType, sending_ip AS sendingIp, receiving_mx AS receivingMx, receiving_ip AS receivingIp, count, reason_code AS reasonCode FROM tlsrpt_sample WHERE policy IN (${selected}) ORDER BY rowid`).all(...args, limit) as (TlsrptFailure & { policy: number })[]) {
        const { policy, ...f } = s;
        samples.set(policy, [...(samples.get(policy) ?? []), f]);
      }
    }
    return rows.map((r) => ({
      reportId: r.report_id,
      organization: r.organization,
      signer: r.signer,
      authenticated: r.authenticated === 1,
      start: r.start_time,
      end: r.end_time,
      receivedAt: r.received_at,
      policyType: r.policy_type,
      policyDomain: r.domain,
      mxHosts: JSON.parse(r.mx_hosts) as string[],
      successful: r.successful,
      failed: r.failed,
      results: results.get(r.id) ?? [],
      failures: samples.get(r.id) ?? [],
    }));
  }

  /** Session totals per domain in reports ending at or after `since` (most failures first). */
  totalsByDomain(since: number): { domain: string; failed: number; successful: number }[] {
    return this.db
      .prepare('SELECT domain, SUM(failed) AS failed, SUM(successful) AS successful FROM tlsrpt_policy WHERE end_time >= ? GROUP BY domain ORDER BY failed DESC, domain')
      .all(since) as { domain: string; failed: number; successful: number }[];
  }

  /** Each stored report's failed sessions of `types` per domain, for reports ending at or after `since` (the alert rules). */
  failureClaims(types: readonly string[], since: number): ReportClaim[] {
    const marks = types.map(() => '?').join(', ');
    const rows = this.db
      .prepare(
        `SELECT p.domain, r.organization, r.signer, r.authenticated, p.end_time AS "end", SUM(x.count) AS count
         FROM tlsrpt_policy p JOIN tlsrpt_report r ON r.id = p.report JOIN tlsrpt_result x ON x.policy = p.id AND x.result_type IN (${marks})
         WHERE p.end_time >= ? GROUP BY p.report, p.domain HAVING SUM(x.count) > 0 ORDER BY p.domain, p.end_time`,
      )
      .all(...types, since) as (Omit<ReportClaim, 'authenticated'> & { authenticated: number })[];
    return rows.map((r) => ({ ...r, authenticated: r.authenticated === 1 }));
  }

  /** Forget reports whose period ended before `before`; the number removed. */
  prune(before: number): number {
    return this.db
      .transaction(() => {
        const old = 'SELECT id FROM tlsrpt_policy WHERE end_time < ?';
        this.db.prepare(`DELETE FROM tlsrpt_sample WHERE policy IN (${old})`).run(before);
        this.db.prepare(`DELETE FROM tlsrpt_result WHERE policy IN (${old})`).run(before);
        this.db.prepare('DELETE FROM tlsrpt_policy WHERE end_time < ?').run(before);
        return this.db.prepare('DELETE FROM tlsrpt_report WHERE end_time < ?').run(before).changes;
      })
      .immediate();
  }
}

/** The UTC day a report's period starts in (ms of its midnight). */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
