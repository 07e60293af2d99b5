import type Database from 'better-sqlite3';
import type { TlsrptFailure, TlsrptPolicy, TlsrptReport } from './report.js';

/**
 * TLS-RPT tables in the state database, created on first use like the alert tables (additive:
 * `CREATE … IF NOT EXISTS`, so older databases gain them and nothing else changes).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tlsrpt_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  report_id TEXT NOT NULL UNIQUE,
  organization TEXT NOT NULL,
  contact TEXT,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tlsrpt_reports_end ON tlsrpt_reports(end_time);
CREATE TABLE IF NOT EXISTS tlsrpt_policies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  report INTEGER NOT NULL,
  policy_type TEXT NOT NULL,
  policy_domain TEXT NOT NULL,
  mx_hosts TEXT NOT NULL,
  successful INTEGER NOT NULL,
  failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tlsrpt_policies_report ON tlsrpt_policies(report);
CREATE INDEX IF NOT EXISTS tlsrpt_policies_domain ON tlsrpt_policies(policy_domain);
CREATE TABLE IF NOT EXISTS tlsrpt_failures (
  policy INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  sending_ip TEXT,
  receiving_mx TEXT,
  receiving_ip TEXT,
  count INTEGER NOT NULL,
  reason_code TEXT
);
CREATE INDEX IF NOT EXISTS tlsrpt_failures_policy ON tlsrpt_failures(policy);
`;

/** One policy of one report, as listed (a report covering two domains is two rows). */
export interface TlsrptRow extends TlsrptPolicy, Pick<TlsrptReport, 'reportId' | 'organization' | 'start' | 'end'> {
  receivedAt: number;
}

export class TlsrptStore {
  constructor(private readonly db: Database.Database, opts: { readOnly?: boolean } = {}) {
    if (!opts.readOnly) db.exec(SCHEMA);
  }

  /** Whether the tables exist (a read-only reader must not create them). */
  static present(db: Database.Database): boolean {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tlsrpt_reports'").get() !== undefined;
  }

  /** The insert statements, prepared once (the importer adds thousands of reports in a row). */
  private inserts?: { report: Database.Statement; policy: Database.Statement; failure: Database.Statement };

  /**
   * Stores the report; false when a report with its report-id is already stored (a resend). Inside
   * the caller's transaction (the importer's batch) it adds no savepoint of its own.
   */
  add(r: TlsrptReport, receivedAt: number): boolean {
    const ins = (this.inserts ??= {
      report: this.db.prepare('INSERT INTO tlsrpt_reports (report_id, organization, contact, start_time, end_time, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(report_id) DO NOTHING'),
      policy: this.db.prepare('INSERT INTO tlsrpt_policies (report, policy_type, policy_domain, mx_hosts, successful, failed) VALUES (?, ?, ?, ?, ?, ?)'),
      failure: this.db.prepare('INSERT INTO tlsrpt_failures (policy, result_type, sending_ip, receiving_mx, receiving_ip, count, reason_code) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    });
    const write = () => {
      const res = ins.report.run(r.reportId, r.organization, r.contact, r.start, r.end, receivedAt);
      if (res.changes === 0) return false;
      const report = Number(res.lastInsertRowid);
      for (const p of r.policies) {
        const policy = Number(ins.policy.run(report, p.policyType, p.policyDomain, JSON.stringify(p.mxHosts), p.successful, p.failed).lastInsertRowid);
        for (const f of p.failures) ins.failure.run(policy, f.resultType, f.sendingIp, f.receivingMx, f.receivingIp, f.count, f.reasonCode);
      }
      return true;
    };
    return this.db.inTransaction ? write() : this.db.transaction(write).immediate();
  }

  /** Newest first by the end of the reported period. */
  list(opts: { domain?: string; since?: number; limit?: number } = {}): TlsrptRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.domain !== undefined) {
      where.push('p.policy_domain = ?');
      args.push(opts.domain);
    }
    if (opts.since !== undefined) {
      where.push('r.end_time >= ?');
      args.push(opts.since);
    }
    const rows = this.db
      .prepare(
        `SELECT p.id, r.report_id, r.organization, r.start_time, r.end_time, r.received_at, p.policy_type, p.policy_domain, p.mx_hosts, p.successful, p.failed
         FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY r.end_time DESC, r.id DESC, p.id LIMIT ?`,
      )
      .all(...args, opts.limit ?? 10_000) as { id: number; report_id: string; organization: string; start_time: number; end_time: number; received_at: number; policy_type: string; policy_domain: string; mx_hosts: string; successful: number; failed: number }[];
    // Columns named as TlsrptFailure's fields: the row is the value, with no mapping to keep in step.
    const failures = this.db.prepare('SELECT result_type AS resultType, sending_ip AS sendingIp, receiving_mx AS receivingMx, receiving_ip AS receivingIp, count, reason_code AS reasonCode FROM tlsrpt_failures WHERE policy = ? ORDER BY rowid');
    return rows.map((r) => ({
      reportId: r.report_id,
      organization: r.organization,
      start: r.start_time,
      end: r.end_time,
      receivedAt: r.received_at,
      policyType: r.policy_type,
      policyDomain: r.policy_domain,
      mxHosts: JSON.parse(r.mx_hosts) as string[],
      successful: r.successful,
      failed: r.failed,
      failures: failures.all(r.id) as TlsrptFailure[],
    }));
  }

  /** Session totals per domain in reports ending at or after `since` (most failures first). */
  totalsByDomain(since: number): { domain: string; failed: number; successful: number }[] {
    return this.db
      .prepare('SELECT p.policy_domain AS domain, SUM(p.failed) AS failed, SUM(p.successful) AS successful FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report WHERE r.end_time >= ? GROUP BY p.policy_domain ORDER BY failed DESC, domain')
      .all(since) as { domain: string; failed: number; successful: number }[];
  }

  /**
   * Per domain and sender, the sender's latest report (ending at or after `since`) when it counts
   * failures of one of `types`: what the sender sees now, so a sender's next clean report clears it.
   */
  latestFailuresOfType(types: readonly string[], since: number): { domain: string; organization: string; end: number; count: number }[] {
    const marks = types.map(() => '?').join(', ');
    return this.db
      .prepare(
        `WITH latest AS (
           SELECT p.policy_domain AS domain, r.organization, MAX(r.end_time) AS end_time FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report
           WHERE r.end_time >= ? GROUP BY p.policy_domain, r.organization)
         SELECT l.domain, l.organization, l.end_time AS "end", SUM(f.count) AS count
         FROM latest l JOIN tlsrpt_reports r ON r.organization = l.organization AND r.end_time = l.end_time
         JOIN tlsrpt_policies p ON p.report = r.id AND p.policy_domain = l.domain
         JOIN tlsrpt_failures f ON f.policy = p.id AND f.result_type IN (${marks})
         GROUP BY l.domain, l.organization HAVING SUM(f.count) > 0 ORDER BY l.domain, l.organization`,
      )
      .all(since, ...types) as { domain: string; organization: string; end: number; count: number }[];
  }

  /** Forget reports whose period ended before `before`; the number removed. */
  prune(before: number): number {
    return this.db
      .transaction(() => {
        const old = 'SELECT id FROM tlsrpt_reports WHERE end_time < ?';
        this.db.prepare(`DELETE FROM tlsrpt_failures WHERE policy IN (SELECT id FROM tlsrpt_policies WHERE report IN (${old}))`).run(before);
        this.db.prepare(`DELETE FROM tlsrpt_policies WHERE report IN (${old})`).run(before);
        return this.db.prepare('DELETE FROM tlsrpt_reports WHERE end_time < ?').run(before).changes;
      })
      .immediate();
  }
}
