/**
 * Every table of the state database, in one place, as numbered migrations. The database's
 * `PRAGMA user_version` says how many have run; `migrate` runs the rest, in order, in one write
 * transaction, so every process (daemon, hooks, timer, CLI) that opens the database sees either
 * the old schema or the new one. A change to a table is a new migration at the end of the list,
 * never an edit of an old one: databases out there have run the old ones already.
 *
 * Databases made before the numbering (user_version 0) may be at any earlier shape, so the first
 * three steps are written to be safe on all of them: version 1 creates only what is missing, and
 * versions 2 and 3 look before they change. From version 4 on, a step runs exactly once.
 */
import type Database from 'better-sqlite3';
import { retryWhileBusySync } from './busy.js';
import { MAX_SAMPLES } from '../tlsrpt/limits.js';

interface Migration {
  version: number;
  /** Why the step exists (which issue changed which table). */
  why: string;
  up(db: Database.Database): void;
}

const hasTable = (db: Database.Database, name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
const hasColumn = (db: Database.Database, table: string, column: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);

/** The rollover ledger, the activity log, check history, login links and the apply journal (state/db.ts). */
const CORE = `
CREATE TABLE IF NOT EXISTS ledger (
  zone TEXT NOT NULL,
  key TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_by_us INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (zone, key)
);
CREATE INDEX IF NOT EXISTS ledger_owner ON ledger(zone, owner);
CREATE TABLE IF NOT EXISTS activity (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  zone TEXT,
  subject TEXT,
  detail TEXT NOT NULL,
  ok INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_time ON activity(time);
CREATE TABLE IF NOT EXISTS checks (
  domain TEXT NOT NULL,
  time TEXT NOT NULL,
  verdict TEXT NOT NULL,
  result TEXT NOT NULL,
  PRIMARY KEY (domain, time)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS login_links (hash TEXT PRIMARY KEY, expires INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
  zone TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  step TEXT NOT NULL,
  changes TEXT NOT NULL,
  actor TEXT NOT NULL,
  time INTEGER NOT NULL
);
`;

/** Alerts, their baselines and the delivery outbox (alerts/store.ts); acknowledgement columns come in version 3. */
const ALERTS = `
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  subject TEXT NOT NULL,
  title TEXT NOT NULL,
  detail TEXT NOT NULL,
  data TEXT NOT NULL,
  opened_at INTEGER NOT NULL,
  resolved_at INTEGER,
  resolved_detail TEXT,
  last_notified_at INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_key ON alerts(key) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_opened ON alerts(opened_at);
CREATE TABLE IF NOT EXISTS alert_baselines (
  domain TEXT PRIMARY KEY,
  verdict TEXT NOT NULL,
  ds INTEGER,
  time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER,
  channel TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries(delivered_at, next_attempt_at);
`;

/** When each thing is next due (schedule/schedule.ts). */
const SCHEDULE = `
CREATE TABLE IF NOT EXISTS schedule (
  kind TEXT NOT NULL,
  key TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  reason TEXT NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  last_run_at INTEGER,
  last_ok INTEGER,
  PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS schedule_due ON schedule(kind, due_at);
`;

/** The DNSSEC chain last seen per zone (dnssec/watch.ts) and pending disable intents (dnssec/disable.ts). */
const DNSSEC = `
CREATE TABLE IF NOT EXISTS dnssec_state (
  zone TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  reason TEXT,
  signing TEXT,
  status TEXT NOT NULL,
  time TEXT NOT NULL,
  since TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dnssec_intent (
  zone TEXT PRIMARY KEY,
  created INTEGER NOT NULL,
  ds_ttl INTEGER NOT NULL,
  dnskey_ttl INTEGER NOT NULL,
  gone_since INTEGER
);
`;

/**
 * TLS-RPT reports, stored aggregated (issue 21): per report one row per policy (domain, policy
 * type, session counts), failed sessions counted per result type, and at most
 * MAX_SAMPLES failure details per report and result type as samples. `organization`,
 * `day` and `end_time` are repeated on the policy rows so the domain page and the per-sender
 * flood limit are one index range each (tlsrpt/store.ts).
 */
const TLSRPT = `
CREATE TABLE IF NOT EXISTS tlsrpt_report (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  report_id TEXT NOT NULL,
  organization TEXT NOT NULL,
  signer TEXT NOT NULL,
  authenticated INTEGER NOT NULL DEFAULT 0,
  contact TEXT,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  policies_cut INTEGER NOT NULL DEFAULT 0,
  UNIQUE (organization, report_id, signer, authenticated)
);
CREATE INDEX IF NOT EXISTS tlsrpt_report_end ON tlsrpt_report(end_time);
CREATE TABLE IF NOT EXISTS tlsrpt_policy (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  report INTEGER NOT NULL,
  domain TEXT NOT NULL,
  organization TEXT NOT NULL,
  day INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  policy_type TEXT NOT NULL,
  mx_hosts TEXT NOT NULL,
  successful INTEGER NOT NULL,
  failed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tlsrpt_policy_domain ON tlsrpt_policy(domain, end_time);
CREATE INDEX IF NOT EXISTS tlsrpt_policy_end ON tlsrpt_policy(end_time);
CREATE INDEX IF NOT EXISTS tlsrpt_policy_report ON tlsrpt_policy(report);
CREATE INDEX IF NOT EXISTS tlsrpt_policy_sender_day ON tlsrpt_policy(organization, domain, day);
CREATE TABLE IF NOT EXISTS tlsrpt_result (
  policy INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (policy, result_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tlsrpt_sample (
  policy INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  sending_ip TEXT,
  receiving_mx TEXT,
  receiving_ip TEXT,
  count INTEGER NOT NULL,
  reason_code TEXT
);
CREATE INDEX IF NOT EXISTS tlsrpt_sample_policy ON tlsrpt_sample(policy);
`;

/**
 * Databases from before issue 21 kept every failure detail (tlsrpt_reports/_policies/_failures):
 * their content moves into the aggregated tables once (counts summed per result type, the first
 * samples kept), then the old tables go, with the space they took.
 */
const TLSRPT_FROM_DETAILS = `
INSERT INTO tlsrpt_report (id, report_id, organization, signer, authenticated, contact, start_time, end_time, received_at)
  SELECT id, report_id, organization, '', 0, contact, start_time, end_time, received_at FROM tlsrpt_reports;
INSERT INTO tlsrpt_policy (id, report, domain, organization, day, end_time, policy_type, mx_hosts, successful, failed)
  SELECT p.id, p.report, p.policy_domain, r.organization, (r.start_time / 86400000) * 86400000, r.end_time, p.policy_type, p.mx_hosts, p.successful, p.failed
  FROM tlsrpt_policies p JOIN tlsrpt_reports r ON r.id = p.report;
INSERT INTO tlsrpt_result (policy, result_type, count) SELECT policy, result_type, SUM(count) FROM tlsrpt_failures GROUP BY policy, result_type;
INSERT INTO tlsrpt_sample (policy, result_type, sending_ip, receiving_mx, receiving_ip, count, reason_code)
  SELECT policy, result_type, sending_ip, receiving_mx, receiving_ip, count, reason_code FROM (
    SELECT f.*, f.rowid AS rid, ROW_NUMBER() OVER (PARTITION BY p.report, f.result_type ORDER BY f.rowid) AS n
    FROM tlsrpt_failures f JOIN tlsrpt_policies p ON p.id = f.policy)
  WHERE n <= ${MAX_SAMPLES} ORDER BY rid;
DROP TABLE tlsrpt_failures;
DROP TABLE tlsrpt_policies;
DROP TABLE tlsrpt_reports;
`;

/** Each mail domain's MTA-STS state (mtasts/store.ts, issue 27). */
const MTA_STS = `
CREATE TABLE IF NOT EXISTS mta_sts_domain (
  domain TEXT PRIMARY KEY,
  mode TEXT NOT NULL,
  mode_since TEXT NOT NULL,
  served_text TEXT,
  served_id TEXT,
  served_at TEXT,
  subdomain_ours INTEGER NOT NULL DEFAULT 0,
  policy_file TEXT
);
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    why: 'every table as of issue 24 (IF NOT EXISTS: older databases have some already)',
    up: (db) => db.exec(CORE + ALERTS + SCHEDULE + DNSSEC + TLSRPT),
  },
  {
    version: 2,
    why: 'TLS-RPT stored aggregated (issue 21): the per-detail tables of older databases move over',
    up: (db) => {
      if (hasTable(db, 'tlsrpt_failures')) db.exec(TLSRPT_FROM_DETAILS);
    },
  },
  {
    version: 3,
    why: 'alert acknowledgement (issue 24)',
    up: (db) => {
      if (!hasColumn(db, 'alerts', 'acked_at')) db.exec('ALTER TABLE alerts ADD COLUMN acked_by TEXT; ALTER TABLE alerts ADD COLUMN acked_at INTEGER;');
    },
  },
  {
    version: 4,
    why: 'MTA-STS per-domain state: mode and since, the policy proven served, what was created to serve it (issue 27)',
    up: (db) => db.exec(MTA_STS),
  },
  {
    version: 5,
    why: "account owners' notices: per (account, domain, condition) the last state told, and each account's own opt-out (issue 28 item 5)",
    up: (db) => db.exec(OWNER_NOTICES),
  },
  {
    version: 6,
    why: 'MTA-STS check results per domain, the evidence auto-enforce and the pages read (issue 27 §5)',
    up: (db) => db.exec(MTA_STS_CHECKS),
  },
  {
    version: 7,
    why: 'MTA-STS turned off for a domain: the max_age senders may still hold, and when removal may go on (issue 27 §3, RFC 8461 §8.3)',
    up: (db) => {
      if (!hasColumn(db, 'mta_sts_domain', 'retire_after')) db.exec('ALTER TABLE mta_sts_domain ADD COLUMN retire_held_max_age INTEGER; ALTER TABLE mta_sts_domain ADD COLUMN retire_after TEXT;');
    },
  },
];

/**
 * One row per MTA-STS check of a domain (mtasts/checks-store.ts): when, the state a sender acts
 * on, the id announced, whether the policy was served, the problem codes (space-separated), and
 * the whole status as JSON (bounded by the store). Pruned after the history retention.
 */
const MTA_STS_CHECKS = `
CREATE TABLE IF NOT EXISTS mta_sts_check (
  domain TEXT NOT NULL,
  time TEXT NOT NULL,
  state TEXT NOT NULL,
  id TEXT,
  served INTEGER NOT NULL,
  problems TEXT NOT NULL,
  status TEXT NOT NULL,
  PRIMARY KEY (domain, time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mta_sts_check_time ON mta_sts_check(time);
`;

/**
 * What the owner was last told per (account, domain, condition): 'needed' or 'done' (one message per
 * transition, src/access/owner-notify.ts), and the owner's own "e-mail me" switch (absent: on).
 */
const OWNER_NOTICES = `
CREATE TABLE IF NOT EXISTS owner_notices (
  account TEXT NOT NULL,
  domain TEXT NOT NULL,
  condition TEXT NOT NULL,
  state TEXT NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (account, domain, condition)
);
CREATE TABLE IF NOT EXISTS owner_prefs (
  account TEXT PRIMARY KEY,
  notify INTEGER NOT NULL,
  time INTEGER NOT NULL
);
`;

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The schema version a database is at (0: made before the numbering, or new). */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Bring the database to SCHEMA_VERSION. Cheap when it is there already (one pragma read), so
 * every store calls it on the connection it is given. A database from a newer version of TLSA
 * Manager is left alone: its tables are a superset, and no step may run backwards.
 */
export function migrate(db: Database.Database): void {
  if (schemaVersion(db) >= SCHEMA_VERSION) return;
  // Two processes opening a new database together can meet here: the loser's BEGIN IMMEDIATE may
  // answer SQLITE_BUSY at once, and the version is read again inside the transaction.
  retryWhileBusySync(() =>
    db.transaction(() => {
      const at = schemaVersion(db);
      for (const m of MIGRATIONS) if (m.version > at) m.up(db);
      if (at < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate(),
  );
}
