import { migrate } from '../state/schema.js';
import type Database from 'better-sqlite3';

/**
 * Due items with their next-run times, kept in the state database so every process (timer,
 * daemon, hooks) shares one schedule. A `kind` names the job family ("check" for DANE checks,
 * "dnssec" for the DNSSEC chain watcher, …); a `key` is the item (usually a domain). The
 * schedule only stores times: what "due" means and when to come back is the caller's policy
 * (see ./policy.ts for the checks' one).
 */
export interface DueItem {
  kind: string;
  key: string;
  /** Epoch ms when the item should run next. */
  dueAt: number;
  /** Why it is due then, in words ("daily", "after publish", "broken, retry 2"). */
  reason: string;
  /** Consecutive failed runs (the back-off input). */
  failures: number;
  lastRunAt: number | null;
  lastOk: boolean | null;
}


interface Row {
  kind: string;
  key: string;
  due_at: number;
  reason: string;
  failures: number;
  last_run_at: number | null;
  last_ok: number | null;
}

const toItem = (r: Row): DueItem => ({ kind: r.kind, key: r.key, dueAt: r.due_at, reason: r.reason, failures: r.failures, lastRunAt: r.last_run_at, lastOk: r.last_ok === null ? null : r.last_ok === 1 });

export class Schedule {
  constructor(private readonly db: Database.Database) {
    migrate(db);
  }

  /**
   * Ask for `key` to run at `at`. By default an earlier existing time wins (a domain already due
   * sooner stays due sooner); `replace` sets the time whatever it was.
   */
  plan(kind: string, key: string, at: number, reason: string, mode: 'earliest' | 'replace' = 'earliest'): void {
    const sql = mode === 'replace'
      ? 'INSERT INTO schedule (kind, key, due_at, reason) VALUES (?, ?, ?, ?) ON CONFLICT(kind, key) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason'
      : 'INSERT INTO schedule (kind, key, due_at, reason) VALUES (?, ?, ?, ?) ON CONFLICT(kind, key) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason WHERE excluded.due_at < schedule.due_at';
    this.db.prepare(sql).run(kind, key, Math.round(at), reason);
  }

  /** Keep exactly `keys` of `kind`: new ones are planned with `firstAt(key)`, vanished ones dropped. */
  sync(kind: string, keys: Iterable<string>, firstAt: (key: string) => { at: number; reason: string }): { added: number; removed: number } {
    const want = new Set(keys);
    const have = new Set((this.db.prepare('SELECT key FROM schedule WHERE kind = ?').all(kind) as { key: string }[]).map((r) => r.key));
    let added = 0;
    let removed = 0;
    this.db.transaction(() => {
      const ins = this.db.prepare('INSERT OR IGNORE INTO schedule (kind, key, due_at, reason) VALUES (?, ?, ?, ?)');
      for (const k of want) {
        if (have.has(k)) continue;
        const f = firstAt(k);
        ins.run(kind, k, Math.round(f.at), f.reason);
        added++;
      }
      const del = this.db.prepare('DELETE FROM schedule WHERE kind = ? AND key = ?');
      for (const k of have) {
        if (want.has(k)) continue;
        del.run(kind, k);
        removed++;
      }
    }).immediate();
    return { added, removed };
  }

  /** Items due at `now`, earliest first. */
  due(kind: string, now: number, limit = 1_000_000): DueItem[] {
    return (this.db.prepare('SELECT * FROM schedule WHERE kind = ? AND due_at <= ? ORDER BY due_at, key LIMIT ?').all(kind, now, limit) as Row[]).map(toItem);
  }

  /** The item that runs next (for "next check at …"). */
  next(kind: string, filter?: { reason?: string }): DueItem | null {
    const row = filter?.reason
      ? (this.db.prepare('SELECT * FROM schedule WHERE kind = ? AND reason = ? ORDER BY due_at LIMIT 1').get(kind, filter.reason) as Row | undefined)
      : (this.db.prepare('SELECT * FROM schedule WHERE kind = ? ORDER BY due_at LIMIT 1').get(kind) as Row | undefined);
    return row ? toItem(row) : null;
  }

  get(kind: string, key: string): DueItem | null {
    const row = this.db.prepare('SELECT * FROM schedule WHERE kind = ? AND key = ?').get(kind, key) as Row | undefined;
    return row ? toItem(row) : null;
  }

  list(kind: string): DueItem[] {
    return (this.db.prepare('SELECT * FROM schedule WHERE kind = ? ORDER BY due_at, key').all(kind) as Row[]).map(toItem);
  }

  /** Record a run: failures count up while `ok` is false, reset when it is true; next run at `nextAt`. */
  done(kind: string, key: string, o: { now: number; ok: boolean; nextAt: number; reason: string }): void {
    this.db
      .prepare(
        `INSERT INTO schedule (kind, key, due_at, reason, failures, last_run_at, last_ok) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(kind, key) DO UPDATE SET due_at = excluded.due_at, reason = excluded.reason,
           failures = CASE WHEN excluded.last_ok = 1 THEN 0 ELSE schedule.failures + 1 END,
           last_run_at = excluded.last_run_at, last_ok = excluded.last_ok`,
      )
      .run(kind, key, Math.round(o.nextAt), o.reason, o.ok ? 0 : 1, o.now, o.ok ? 1 : 0);
  }

  remove(kind: string, key: string): void {
    this.db.prepare('DELETE FROM schedule WHERE kind = ? AND key = ?').run(kind, key);
  }
}
