import { statSync } from 'node:fs';

/**
 * Reading the server's files once per change instead of once per use (issue 26): the running
 * service answers each hook event with what it already holds, as long as every file it was made
 * from still has the same change stamp. The one rule for what a change stamp is and when a kept
 * value may be trusted lives here.
 */

/**
 * A file's (or directory's) change stamp: device, inode, size, and mtime and ctime in
 * nanoseconds; `-` when it does not exist. A replaced file (rename) changes the inode, an edit in
 * place the mtime and ctime, a directory's entries added, removed or renamed its mtime.
 */
export function changeStamp(path: string): string {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '-';
}

/**
 * A file changed this recently may change again within the same tick of the file system's clock
 * (the kernel stamps times from a coarse clock, a few ms a tick) without its stamp changing: a
 * value made from it is not kept (Git's "racy" rule). One second is far more than a tick.
 */
export const RACY_MS = 1_000;

function racy(path: string, now: number): boolean {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!st) return false;
  const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
  return Number(newest / 1_000_000n) > now - RACY_MS;
}

/** The stamp of `path`, or null when it changed too recently to be trusted (see RACY_MS). */
export function trustedStamp(path: string): string | null {
  const stamp = changeStamp(path);
  return racy(path, Date.now()) ? null : stamp;
}

/**
 * One value made from a few files, kept while none of their stamps changes. Holds only the last
 * value (one server root per process; tests that switch roots just make it again), so its memory
 * is that one value. The value is shared by every caller: make it immutable (Object.freeze,
 * SealedSet, ReadonlyMap).
 */
export class StampedValue<T> {
  private last: { key: string; stamp: string; value: T } | null = null;

  /** `make` is called only when `paths` (absolute) changed since the kept value was made. */
  get(paths: string[], make: () => T): T {
    const key = paths.join('\0');
    // Stamped before reading, so a change during `make` shows as a different stamp next time.
    const stamp = paths.map(changeStamp).join('\0');
    if (this.last && this.last.key === key && this.last.stamp === stamp) return this.last.value;
    const value = make();
    const now = Date.now();
    this.last = paths.some((p) => racy(p, now)) ? null : { key, stamp, value };
    return value;
  }
}

/** A Set nobody can change once made: a kept value handed to every caller. */
export class SealedSet<T> extends Set<T> {
  private readonly sealed: boolean;
  constructor(items: Iterable<T> = []) {
    super();
    for (const item of items) super.add(item);
    this.sealed = true;
  }
  override add(value: T): this {
    if (this.sealed) throw new TypeError('this set is shared and cannot be changed');
    return super.add(value);
  }
  override delete(_value: T): boolean {
    throw new TypeError('this set is shared and cannot be changed');
  }
  override clear(): void {
    throw new TypeError('this set is shared and cannot be changed');
  }
}
