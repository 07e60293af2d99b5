import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface FileMode {
  mode: number;
  /** Owner to give the file (when we may: root). */
  uid?: number;
  gid?: number;
}

/** Refuses to open anything that already exists at the name, a symbolic link included. */
const CREATE_NEW = constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_WRONLY;

/**
 * Create `path` as a new file (never through a link, never over an existing file), write
 * `content`, set mode and owner on the open descriptor and fsync. A failure (ENOSPC, EROFS)
 * removes the partial file and throws.
 */
export function writeNewFile(path: string, content: string | Buffer, opts: FileMode): void {
  const fd = openSync(path, CREATE_NEW, 0o600);
  try {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fchmodSync(fd, opts.mode);
    if (opts.uid !== undefined && opts.gid !== undefined) {
      try {
        fchownSync(fd, opts.uid, opts.gid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err; // not root (tests as a user): ownership stays ours
      }
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(path);
    throw err;
  }
  closeSync(fd);
}

/** Suffix of every temp file we create: lets a later run find and remove leftovers of a killed one. */
export const TEMP_SUFFIX = '.tlsa-manager-tmp';

/**
 * A fully written, fsynced new file beside `target` (same directory, so a rename is atomic), with
 * a random name nobody can have planted a link at. Returns its path.
 */
export function writeTempBeside(target: string, content: string | Buffer, opts: FileMode): string {
  for (let attempt = 1; ; attempt++) {
    const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    try {
      writeNewFile(tmp, content, opts);
      return tmp;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw err;
    }
  }
}

/** Make a rename in `dir` durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Put `tmp` in place of `file` atomically and durably; `tmp` is removed when that fails. */
export function renameInto(tmp: string, file: string): void {
  try {
    renameSync(tmp, file);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  fsyncDir(dirname(file));
}

/** Replace `file` atomically: a fully written temp file beside it, renamed over it. */
export function writeFileAtomic(file: string, content: string, opts: FileMode | number): void {
  const mode = typeof opts === 'number' ? { mode: opts } : opts;
  renameInto(writeTempBeside(file, content, mode), file);
}

/** Remove temp files of ours for `target` left by a killed run (unlink never follows a link). */
export function removeStaleTemps(target: string): void {
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(prefix) && n.endsWith(TEMP_SUFFIX)) removeQuietly(join(dirname(target), n));
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/**
 * A directory of ours (backups, state): created root-only when missing; refused when something
 * planted a link in its place.
 */
export function ownDirectory(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
  if (lstatSync(dir).isSymbolicLink()) throw new Error(`${dir} is a symbolic link; refusing to write there`);
}
