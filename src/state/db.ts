import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Change, PublishedRecord } from '../providers/contract.js';
import type { LedgerView } from './ledger.js';
import { managedKey, type ManagedRecord } from '../dns/records.js';
import { BUSY_TIMEOUT_MS, retryWhileBusySync } from './busy.js';
import { migrate } from './schema.js';
import { stateStorageProblem } from './storage-problem.js';
import { ProblemError } from '../problem.js';

export { STATE_DB_PATH } from './storage-problem.js';

/** `intent`: about to act; `written`: a zone file is in place, its reload pending or failed. */
export type JournalStep = 'intent' | 'written' | 'restored' | 'reload-failed';

export interface JournalEntry {
  zone: string;
  provider: string;
  step: JournalStep;
  changes: Change[];
  actor: string;
  time: number;
}

export type Actor = string; // 'cli' | 'hook' | 'timer' | 'web:<user>'

/** Every kind of activity entry, in the order the activity page offers them as filters. */
export const ACTIVITY_KINDS = ['create', 'delete', 'apply-failed', 'zone-refused', 'check', 'hook', 'reconcile', 'settings', 'alert', 'dnssec', 'tlsrpt', 'mta-sts'] as const;

export interface ActivityEntry {
  id: number;
  time: string;
  actor: Actor;
  kind: (typeof ACTIVITY_KINDS)[number];
  zone: string | null;
  subject: string | null;
  detail: string;
  ok: boolean;
}

const PRUNE_SLICE = 5000;


/**
 * The state database holds who-created-what and the activity log (names of every customer
 * domain): root only, also for files made by older versions with the default 0644.
 */
function rootOnly(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      chmodSync(f, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * The state database: rollover ledger, activity log, check history. SQLite in WAL mode so the
 * daemon, hooks and the timer can use it at once; every write is a short transaction.
 */
export class StateDb implements LedgerView {
  readonly db: Database.Database;

  /**
   * The database as it is, for commands that change nothing (plan, scan, audit): null when there
   * is none. Never creates or touches a file: SQLite opening a WAL database, even read-only,
   * creates its -wal and -shm files, so a database nobody has open (no -wal file) is read from a
   * copy in memory; one that is open elsewhere is read through the files that already exist.
   */
  static readOnly(file: string): StateDb | null {
    if (!existsSync(file)) return null;
    const wal = `${file}-wal`;
    if (existsSync(wal) && existsSync(`${file}-shm`) && statSync(wal).size > 0) return new StateDb(new Database(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS }));
    const image = readFileSync(file);
    // Bytes 18-19 say "WAL" (2); an in-memory copy cannot be WAL, so it reads as rollback (1).
    if (image.length >= 20) image[18] = image[19] = 1;
    const db = new Database(image, { readonly: true });
    // Its pages are in memory already: SQLite's page cache (16 MB by default here) would only
    // copy them a second time (a 10,000-zone plan peaked 13 MB lower with 1 MB, issue 10 §7).
    db.pragma('cache_size = -1000');
    return new StateDb(db);
  }

  constructor(file: string | Database.Database) {
    if (typeof file !== 'string') {
      this.db = file;
      return;
    }
    let db: Database.Database | undefined;
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
      const opened = db;
      // Switching to WAL and creating the schema can answer SQLITE_BUSY at once (no busy wait) when
      // several processes open a new database together, e.g. hooks fired side by side: retry.
      retryWhileBusySync(() => {
        opened.pragma('journal_mode = WAL');
      });
      migrate(opened);
      if (file !== ':memory:') rootOnly(file);
    } catch (err) {
      db?.close();
      const p = stateStorageProblem(err, file);
      throw p ? new ProblemError(p, { cause: err }) : err;
    }
    this.db = db;
  }

  /**
   * Prepared once per database and reused: preparing a statement per call was most of the state
   * work of a 10,000-zone plan (issue 10 §7).
   */
  private readonly statements = new Map<string, Database.Statement>();

  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /** Write transactions take the write lock up front (BEGIN IMMEDIATE, which waits while busy). */
  private write<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  close(): void {
    this.db.close();
  }

  publishedSince(zone: string, key: string): number | null {
    const row = this.sql('SELECT first_seen FROM ledger WHERE zone = ? AND key = ?').get(zone, key) as { first_seen: number } | undefined;
    return row?.first_seen ?? null;
  }

  createdByUs(zone: string, key: string): boolean {
    const row = this.sql('SELECT created_by_us FROM ledger WHERE zone = ? AND key = ?').get(zone, key) as { created_by_us: number } | undefined;
    return row?.created_by_us === 1;
  }

  /** Owners in `zone` where we have published before (so removed hosts get cleaned up). */
  ownersInZone(zone: string): string[] {
    return (this.sql('SELECT DISTINCT owner FROM ledger WHERE zone = ? AND created_by_us = 1').all(zone) as { owner: string }[]).map((r) => r.owner);
  }

  /**
   * Reconcile the ledger with what a provider shows at `owners`: new records get their first
   * sighting; records gone from those owners are forgotten.
   */
  observe(zone: string, owners: string[], published: PublishedRecord[], now: number): void {
    const seen = new Set(published.map(managedKey));
    this.write(() => {
      const upsert = this.sql(
        'INSERT INTO ledger (zone, key, owner, created_by_us, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(zone, key) DO UPDATE SET last_seen = excluded.last_seen, created_by_us = MAX(created_by_us, excluded.created_by_us)',
      );
      for (const p of published) upsert.run(zone, managedKey(p), p.owner, p.markedOurs ? 1 : 0, now, now);
      const del = this.sql('DELETE FROM ledger WHERE zone = ? AND key = ?');
      const sel = this.sql('SELECT key FROM ledger WHERE zone = ? AND owner = ?');
      for (const owner of owners) {
        for (const { key } of sel.all(zone, owner) as { key: string }[]) if (!seen.has(key)) del.run(zone, key);
      }
    });
  }

  /** After a successful apply: what we created is ours from now; what we deleted is gone. */
  recordApplied(zone: string, created: ManagedRecord[], deleted: ManagedRecord[], now: number): void {
    this.write(() => {
      const ins = this.sql(
        'INSERT INTO ledger (zone, key, owner, created_by_us, first_seen, last_seen) VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT(zone, key) DO UPDATE SET created_by_us = 1, last_seen = excluded.last_seen',
      );
      for (const r of created) ins.run(zone, managedKey(r), r.owner, now, now);
      const del = this.sql('DELETE FROM ledger WHERE zone = ? AND key = ?');
      for (const r of deleted) del.run(zone, managedKey(r));
    });
  }

  /**
   * Write-ahead intent: before a zone's changes go to its provider, what is about to be done is
   * stored, so a run killed half-way (between a zone file's rename and its reload, between two
   * Cloudflare batches) is finished by the next writing command (src/plan/recover.ts).
   */
  beginIntent(zone: string, provider: string, changes: Change[], actor: string, now: number): void {
    const slim = changes.map((c) => ({ kind: c.kind, zone: c.zone, record: c.record, reason: c.reason }));
    this.write(() => {
      this.sql('INSERT INTO journal (zone, provider, step, changes, actor, time) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(zone) DO UPDATE SET provider = excluded.provider, step = excluded.step, changes = excluded.changes, actor = excluded.actor, time = excluded.time')
        .run(zone, provider, 'intent', JSON.stringify(slim), actor, now);
    });
  }

  /** How far the provider got (`written`: the new zone file is in place, reload pending). */
  journalStep(zone: string, step: JournalStep): void {
    this.sql('UPDATE journal SET step = ? WHERE zone = ?').run(step, zone);
  }

  journalEntries(zone?: string): JournalEntry[] {
    const rows = (zone === undefined ? this.sql('SELECT * FROM journal ORDER BY zone').all() : this.sql('SELECT * FROM journal WHERE zone = ?').all(zone)) as (Omit<JournalEntry, 'changes'> & { changes: string })[];
    return rows.map((r) => ({ ...r, changes: JSON.parse(r.changes) as Change[] }));
  }

  /**
   * The outcome of a zone's changes is known: ledger updated and intent cleared in one
   * transaction (a crash leaves either both or neither).
   */
  finishIntent(zone: string, created: ManagedRecord[], deleted: ManagedRecord[], now: number, keep?: JournalStep): void {
    this.write(() => {
      this.recordApplied(zone, created, deleted, now);
      if (keep) this.journalStep(zone, keep);
      else this.sql('DELETE FROM journal WHERE zone = ?').run(zone);
    });
  }

  /**
   * Bumped by every apply attempt on a zone: a plan made at generation N is still current under
   * the zone's lock if the generation is still N (no other run of ours wrote in between).
   */
  zoneGeneration(zone: string): number {
    return Number(this.getMeta(`zonegen:${zone}`) ?? 0);
  }

  bumpZoneGeneration(zone: string): void {
    this.sql("INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1").run(`zonegen:${zone}`);
  }

  logActivity(e: Omit<ActivityEntry, 'id' | 'time'> & { time?: string }): void {
    this.db
      .prepare('INSERT INTO activity (time, actor, kind, zone, subject, detail, ok) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.time ?? new Date().toISOString(), e.actor, e.kind, e.zone, e.subject, e.detail, e.ok ? 1 : 0);
  }

  activity(opts: { limit?: number; offset?: number; kind?: string; search?: string } = {}): ActivityEntry[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.kind) {
      where.push('kind = ?');
      args.push(opts.kind);
    }
    if (opts.search) {
      where.push("(zone LIKE ? ESCAPE '\\' OR subject LIKE ? ESCAPE '\\' OR detail LIKE ? ESCAPE '\\' OR actor LIKE ? ESCAPE '\\')");
      const like = `%${opts.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      args.push(like, like, like, like);
    }
    const sql = `SELECT * FROM activity ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ? OFFSET ?`;
    return (this.sql(sql).all(...args, opts.limit ?? 100, opts.offset ?? 0) as (Omit<ActivityEntry, 'ok'> & { ok: number })[]).map((r) => ({ ...r, ok: r.ok === 1 }));
  }

  /** A zone's entries of the given kinds since `since` (ISO time), oldest first (timelines). */
  zoneActivity(zone: string, kinds: ActivityEntry['kind'][], since: string, limit = 500): ActivityEntry[] {
    const sql = `SELECT * FROM activity WHERE zone = ? AND kind IN (${kinds.map(() => '?').join(', ')}) AND time >= ? ORDER BY time LIMIT ?`;
    return (this.db.prepare(sql).all(zone, ...kinds, since, limit) as (Omit<ActivityEntry, 'ok'> & { ok: number })[]).map((r) => ({ ...r, ok: r.ok === 1 }));
  }

  saveCheck(domain: string, verdict: string, result: unknown, time = new Date().toISOString()): void {
    this.sql('INSERT OR REPLACE INTO checks (domain, time, verdict, result) VALUES (?, ?, ?, ?)').run(domain, time, verdict, JSON.stringify(result));
  }

  /**
   * Housekeeping (the timer's): activity entries older than `activityBefore` (ISO time), and check
   * results a later check of the same domain superseded (only the latest is ever read; kept, they
   * grow by one full result per domain per scheduled check). In slices of 5,000 rows, each its own
   * short transaction, so a first prune of a large history never holds off a hook.
   */
  pruneHistory(activityBefore: string): { activity: number; checks: number } {
    const slice = (sql: string, ...args: string[]): number => {
      let total = 0;
      for (;;) {
        const n = this.write(() => this.db.prepare(sql).run(...args).changes);
        total += n;
        if (n < PRUNE_SLICE) return total;
      }
    };
    return {
      activity: slice(`DELETE FROM activity WHERE id IN (SELECT id FROM activity WHERE time < ? LIMIT ${PRUNE_SLICE})`, activityBefore),
      checks: slice(`DELETE FROM checks WHERE rowid IN (SELECT c.rowid FROM checks c WHERE EXISTS (SELECT 1 FROM checks later WHERE later.domain = c.domain AND later.time > c.time) LIMIT ${PRUNE_SLICE})`),
    };
  }

  /** The latest check per domain. */
  /** One domain's latest check (primary-key lookup): for views of a few domains, not the whole server. */
  latestCheckOf(domain: string): { time: string; verdict: string; result: unknown } | null {
    const r = this.db.prepare('SELECT time, verdict, result FROM checks WHERE domain = ? ORDER BY time DESC LIMIT 1').get(domain) as { time: string; verdict: string; result: string } | undefined;
    return r ? { time: r.time, verdict: r.verdict, result: JSON.parse(r.result) as unknown } : null;
  }

  latestChecks(): Map<string, { time: string; verdict: string; result: unknown }> {
    const rows = this.db
      .prepare('SELECT c.domain, c.time, c.verdict, c.result FROM checks c JOIN (SELECT domain, MAX(time) t FROM checks GROUP BY domain) m ON c.domain = m.domain AND c.time = m.t')
      .all() as { domain: string; time: string; verdict: string; result: string }[];
    return new Map(rows.map((r) => [r.domain, { time: r.time, verdict: r.verdict, result: JSON.parse(r.result) as unknown }]));
  }

  /** A one-time login link (its SHA-256; the token itself is never stored) valid until `expires`. */
  addLoginLink(hash: string, expires: number, now: number): void {
    this.write(() => {
      this.db.prepare('DELETE FROM login_links WHERE expires <= ?').run(now);
      this.db.prepare('INSERT INTO login_links (hash, expires) VALUES (?, ?)').run(hash, expires);
    });
  }

  /** Use up a login link: true exactly once, and only before it expires. */
  redeemLoginLink(hash: string, now: number): boolean {
    return this.db.prepare('DELETE FROM login_links WHERE hash = ? AND expires > ?').run(hash, now).changes === 1;
  }

  getMeta(key: string): string | null {
    return (this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  }

  /** Every meta entry whose key starts with `prefix`, keyed by the rest of the key. */
  metaWithPrefix(prefix: string): Map<string, string> {
    const rows = this.sql("SELECT key, value FROM meta WHERE key >= ? AND key < ? || char(1114111)").all(prefix, prefix) as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key.slice(prefix.length), r.value]));
  }

  setMeta(key: string, value: string): void {
    this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
