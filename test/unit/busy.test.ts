import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUSY_TIMEOUT_MS, busyPause, isBusy, retryWhileBusy, retryWhileBusySync } from '../../src/state/busy.js';

const busy = (code = 'SQLITE_BUSY') => Object.assign(new Error('database is locked'), { code });

describe('SQLITE_BUSY: one rule for when to try again and how long to pause', () => {
  it('recognises the busy answer of a real SQLite connection, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'busy-'));
    try {
      const holder = new Database(join(dir, 'x.db'));
      holder.pragma('journal_mode = WAL');
      holder.exec('CREATE TABLE t (x)');
      holder.exec('BEGIN IMMEDIATE');
      const other = new Database(join(dir, 'x.db'), { timeout: 0 });
      let thrown: unknown;
      try {
        other.exec('BEGIN IMMEDIATE');
      } catch (err) {
        thrown = err;
      }
      expect((thrown as { code?: string }).code).toBe('SQLITE_BUSY');
      expect(isBusy(thrown)).toBe(true);
      other.close();
      holder.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(isBusy(busy('SQLITE_BUSY_SNAPSHOT'))).toBe(true);
    for (const e of [busy('SQLITE_FULL'), new Error('x'), null, undefined, 'SQLITE_BUSY', { code: 5 }]) expect(isBusy(e)).toBe(false);
  });

  it('pauses grow from about 10 ms to about 500 ms with jitter, and stop after the busy timeout counted from the first busy answer', () => {
    const t0 = 1_000_000;
    for (let i = 0; i < 50; i++) {
      const first = busyPause(busy(), 1, t0, t0)!;
      expect(first).toBeGreaterThanOrEqual(5);
      expect(first).toBeLessThanOrEqual(15);
      const late = busyPause(busy(), 30, t0, t0 + BUSY_TIMEOUT_MS)!;
      expect(late).toBeGreaterThanOrEqual(250);
      expect(late).toBeLessThanOrEqual(750);
    }
    expect(busyPause(busy(), 2, t0, t0 + BUSY_TIMEOUT_MS + 1)).toBeNull();
    expect(busyPause(new Error('disk I/O error'), 1, t0, t0)).toBeNull();
  });

  it('the sync and async wrappers retry busy until it clears, and pass any other error through at once', async () => {
    let calls = 0;
    expect(retryWhileBusySync(() => (++calls < 6 ? (() => { throw busy(); })() : 'done'))).toBe('done');
    expect(calls).toBe(6);
    calls = 0;
    await expect(retryWhileBusy(async () => { if (++calls < 6) throw busy(); return 'done'; })).resolves.toBe('done');
    expect(calls).toBe(6);
    calls = 0;
    expect(() => retryWhileBusySync(() => { calls++; throw new Error('no such table: x'); })).toThrow('no such table: x');
    expect(calls).toBe(1);
    calls = 0;
    await expect(retryWhileBusy(async () => { calls++; throw busy('SQLITE_CORRUPT'); })).rejects.toMatchObject({ code: 'SQLITE_CORRUPT' });
    expect(calls).toBe(1);
  });
});
