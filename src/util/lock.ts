import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class LockBusyError extends Error {
  constructor(readonly path: string, readonly holder: number | null) {
    super(`${path} is held by process ${holder ?? 'unknown'}`);
  }
}

/** Whether a process with this PID exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
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
 * Remove `path` if it names a process that is gone, so a crash never wedges the next run. Checking
 * the holder and unlinking are two steps, so two processes that both found the lock stale could
 * both remove it, the second one removing the lock the first had just taken. The takeover is
 * therefore done under a marker created with O_EXCL and named after the dead holder: only one
 * process at a time re-reads and removes a lock left by that holder, and a fresh lock (another
 * pid) is never removed. A marker whose own taker died (it is held for two system calls) is taken
 * over the same way, one level down.
 */
function clearStale(path: string): void {
  const holder = holderOf(path);
  if (holder === null || processAlive(holder)) return;
  const marker = `${path}.takeover-${holder}`;
  let fd: number;
  try {
    fd = openSync(marker, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    clearStale(marker);
    return;
  }
  try {
    writeSync(fd, String(process.pid));
    closeSync(fd);
    if (holderOf(path) === holder && !processAlive(holder)) unlinkSync(path);
  } finally {
    unlinkSync(marker);
  }
}

/**
 * An exclusive lock file holding the owner's pid. A lock left by a process that died (kill -9)
 * is taken over (clearStale), so a crash never wedges the next run. Waits up to `waitMs`, then
 * throws LockBusyError (hooks answer "deferred" and let the timer finish).
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
      if (holder !== null && !processAlive(holder)) {
        clearStale(path);
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
