/**
 * MTA-STS check results per domain in the state database (table mta_sts_check, migration 6):
 * every `mtaStsStatus` the timer or `mta-sts status` ran, kept for the history retention. They are
 * the evidence auto-enforce weighs (every check clean for afterDays, no gap) and what the pages
 * show (latest result, history). What a check saw comes from the outside (TXT records, policy
 * text, certificates), so the stored JSON is bounded: a hostile answer cannot grow the database.
 */
import type Database from 'better-sqlite3';
import { perStateDb } from '../state/per-state.js';
import { migrate } from '../state/schema.js';
import type { StsState, StsStatus } from './status.js';

/** The whole status as JSON is kept up to this size; beyond it, the lists and texts are cut. */
export const MAX_STATUS_JSON = 16 * 1024;
/** In a cut status: at most this many MX results and problems, texts at most this long. */
const CUT_ITEMS = 10;
const CUT_TEXT = 200;

export interface StsCheck {
  domain: string;
  /** ISO time of the check. */
  time: string;
  state: StsState;
  /** The id the `_mta-sts` TXT announced (null: none, or not valid). */
  id: string | null;
  served: boolean;
  /** The problem codes found, in order (empty: a clean check). */
  problems: string[];
  /** The status as the check returned it (cut to MAX_STATUS_JSON; `cut` true then). */
  status: StsStatus & { cut?: boolean };
}

interface Row {
  domain: string;
  time: string;
  state: string;
  id: string | null;
  served: number;
  problems: string;
  status: string;
}

const STATES: readonly StsState[] = ['none', 'testing', 'enforce', 'broken'];

function fromRow(r: Row): StsCheck {
  let status: StsCheck['status'];
  try {
    status = JSON.parse(r.status) as StsCheck['status'];
  } catch {
    // A row we cannot read back still carries its columns.
    status = { domain: r.domain, state: 'none', id: r.id, policy: null, served: r.served === 1, mx: [], problems: [], cut: true };
  }
  return {
    domain: r.domain,
    time: r.time,
    state: (STATES as readonly string[]).includes(r.state) ? (r.state as StsState) : 'none',
    id: r.id,
    served: r.served === 1,
    problems: r.problems === '' ? [] : r.problems.split(' '),
    status,
  };
}

const cut = (s: string | undefined, n = CUT_TEXT) => (s === undefined ? undefined : s.length > n ? `${s.slice(0, n)}…` : s);

/** The status as JSON, at most MAX_STATUS_JSON bytes: the full text when it fits, else lists and texts cut. */
export function boundedStatusJson(status: StsStatus): string {
  const full = JSON.stringify(status);
  if (Buffer.byteLength(full) <= MAX_STATUS_JSON) return full;
  const small: StsStatus & { cut: true } = {
    domain: status.domain.slice(0, 253),
    state: status.state,
    id: status.id === null ? null : status.id.slice(0, 64),
    policy: status.policy ? { mode: status.policy.mode, maxAge: status.policy.maxAge, mx: status.policy.mx.slice(0, CUT_ITEMS).map((m) => m.slice(0, 253)) } : null,
    served: status.served,
    ...(status.certificate ? { certificate: { subject: cut(status.certificate.subject, 253)!, issuer: cut(status.certificate.issuer, 253)!, notAfter: status.certificate.notAfter.slice(0, 40) } } : {}),
    mx: status.mx.slice(0, CUT_ITEMS).map((m) => ({ host: m.host.slice(0, 253), address: m.address === null ? null : m.address.slice(0, 64), covered: m.covered, certificateValid: m.certificateValid, ...(m.detail !== undefined ? { detail: cut(m.detail)! } : {}) })),
    problems: status.problems.slice(0, CUT_ITEMS).map((p) => ({ ...p, message: cut(p.message)!, ...(p.fix !== undefined ? { fix: cut(p.fix)! } : {}) })),
    cut: true,
  };
  const text = JSON.stringify(small);
  if (Buffer.byteLength(text) <= MAX_STATUS_JSON) return text;
  // Still too large (many long names): only the verdict is kept.
  return JSON.stringify({ domain: small.domain, state: small.state, id: small.id, policy: null, served: small.served, mx: [], problems: small.problems.slice(0, 5).map((p) => ({ code: p.code, message: cut(p.message, 200)! })), cut: true });
}

export class MtaStsChecks {
  constructor(
    private readonly db: Database.Database,
    opts: { readOnly?: boolean } = {},
  ) {
    if (!opts.readOnly) migrate(db);
  }

  /** Whether the table exists (a read-only view of an older database may lack it). */
  private has(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mta_sts_check'").get() !== undefined;
  }

  /** Keep one check result (a second result for the same domain at the same millisecond replaces the first). */
  record(status: StsStatus, now: number): StsCheck {
    const time = new Date(now).toISOString();
    const codes = [...new Set(status.problems.map((p) => p.code))].join(' ');
    this.db
      .prepare('INSERT OR REPLACE INTO mta_sts_check (domain, time, state, id, served, problems, status) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(status.domain, time, status.state, status.id, status.served ? 1 : 0, codes, boundedStatusJson(status));
    return this.latest(status.domain)!;
  }

  /** The domain's newest result, or null. */
  latest(domain: string): StsCheck | null {
    if (!this.has()) return null;
    const r = this.db.prepare('SELECT * FROM mta_sts_check WHERE domain = ? ORDER BY time DESC LIMIT 1').get(domain) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  /** Every domain's newest result. */
  latestAll(): Map<string, StsCheck> {
    if (!this.has()) return new Map();
    const rows = this.db.prepare('SELECT c.* FROM mta_sts_check c JOIN (SELECT domain, MAX(time) AS t FROM mta_sts_check GROUP BY domain) m ON m.domain = c.domain AND m.t = c.time ORDER BY c.domain').all() as Row[];
    return new Map(rows.map((r) => [r.domain, fromRow(r)]));
  }

  /** The domain's results at or after `isoTime`, oldest first. */
  since(domain: string, isoTime: string): StsCheck[] {
    if (!this.has()) return [];
    return (this.db.prepare('SELECT * FROM mta_sts_check WHERE domain = ? AND time >= ? ORDER BY time').all(domain, isoTime) as Row[]).map(fromRow);
  }

  /** The domain's verdicts at or after `isoTime`, oldest first, without the stored status (the evidence auto-enforce weighs, cheap to read daily). */
  verdictsSince(domain: string, isoTime: string): Pick<StsCheck, 'time' | 'state' | 'problems'>[] {
    if (!this.has()) return [];
    return (this.db.prepare('SELECT time, state, problems FROM mta_sts_check WHERE domain = ? AND time >= ? ORDER BY time').all(domain, isoTime) as Pick<Row, 'time' | 'state' | 'problems'>[]).map((r) => ({
      time: r.time,
      state: (STATES as readonly string[]).includes(r.state) ? (r.state as StsState) : 'none',
      problems: r.problems === '' ? [] : r.problems.split(' '),
    }));
  }

  /** Drop results older than `beforeIso`; how many went. */
  prune(beforeIso: string): number {
    if (!this.has()) return 0;
    return this.db.prepare('DELETE FROM mta_sts_check WHERE time < ?').run(beforeIso).changes;
  }
}

export const mtaStsChecks = perStateDb((db) => new MtaStsChecks(db));
