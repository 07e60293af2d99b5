import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class LockBusyError extends Error {
  constructor(readonly path: string, readonly holder: number | null) {
    super(`${path} is held by process ${holder ?? 'unknown'}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * An exclusive lock file holding the owner's pid. A lock left by a process that died (kill -9)
 * is taken over, so a crash never wedges the next run. Waits up to `waitMs`, then throws
 * LockBusyError (hooks answer "deferred" and let the timer finish).
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: { waitMs?: number } = {}): Promise<T> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = holderOf(path);
      if (holder !== null && !alive(holder)) {
        // Stale: remove only if it still names the dead holder (another waiter may have won).
        if (holderOf(path) === holder) {
          try {
            unlinkSync(path);
          } catch {
            /* someone else removed it */
          }
        }
        continue;
      }
      if (Date.now() >= deadline) throw new LockBusyError(path, holder);
      await sleep(delay);
    }
  }
  try {
    return await fn();
  } finally {
    if (holderOf(path) === process.pid) unlinkSync(path);
  }
}
