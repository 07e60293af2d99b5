import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServerRoot } from '../util/server-root.js';

/** Where `tlsrpt ingest` (run by Exim's pipe as an unprivileged user) drops messages for the importer (root). */
export const SPOOL_DIR = '/var/spool/tlsa-manager/tlsrpt';

/**
 * Sticky, write+search for the group, nothing for others, listable only by root: install.sh
 * gives the directory to the group of Exim's pipe (root:mail on cPanel, where the pipe runs as
 * mailnull:mail), so the pipe can create files and nothing else, and no other local user (a
 * cPanel customer) can drop anything. Nobody but root can list, read, rename or delete another
 * user's file. Each message is written 0600.
 */
export const SPOOL_MODE = 0o1730;

/** Message files; `.refused` holds the note ingest leaves for a message it did not keep. */
export const MESSAGE_SUFFIX = '.eml';
export const REFUSED_SUFFIX = '.refused';
const TMP_PREFIX = '.tmp-';

export function spoolPath(root: ServerRoot): string {
  return root.path(SPOOL_DIR);
}

/**
 * Made by install.sh (with the pipe's group) and, when missing, by the importer (root): then it
 * belongs to root's group and ingest defers until install.sh runs. The mode is put back on every
 * import; the group install.sh chose stays. Ingest never creates it (it could not, as mailnull).
 */
export function ensureSpool(root: ServerRoot): string {
  const dir = spoolPath(root);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, SPOOL_MODE);
  return dir;
}

/**
 * Write `data` into the spool under a fresh name: a hidden temporary file (created new, never
 * following a link), fsynced, then renamed, so the importer only ever sees whole files.
 */
export function spoolWrite(dir: string, suffix: string, data: Buffer | string, now: number): string {
  const name = `${now}.${process.pid}.${randomBytes(8).toString('hex')}${suffix}`;
  const tmp = join(dir, `${TMP_PREFIX}${name}`);
  const fd = openSync(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_WRONLY, 0o600);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // best effort: the importer removes stale temporaries
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, join(dir, name));
  return name;
}

export interface SpoolEntry {
  name: string;
  kind: 'message' | 'refused' | 'stale-temp';
}

/** Temporaries older than this were left by a killed ingest. */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** What the importer has to do, oldest first (names start with the time). */
export function spoolEntries(dir: string, now: number): SpoolEntry[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SpoolEntry[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(TMP_PREFIX)) {
      const st = lstatOrNull(join(dir, name));
      if (st && now - st.mtimeMs > STALE_TEMP_MS) out.push({ name, kind: 'stale-temp' });
    } else if (name.endsWith(MESSAGE_SUFFIX)) out.push({ name, kind: 'message' });
    else if (name.endsWith(REFUSED_SUFFIX)) out.push({ name, kind: 'refused' });
  }
  return out;
}

function lstatOrNull(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * A spooled file's bytes, read as root from a directory anyone may write: never through a link,
 * never a FIFO or device, never a hard link to some other file (nlink 1), never past `maxBytes`.
 * Otherwise the reason, in words for the log.
 */
export function spoolRead(dir: string, name: string, maxBytes: number): Buffer | string {
  let fd: number;
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return `cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'}; a symbolic link?)`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'is not a regular file';
    if (st.nlink !== 1) return 'has other hard links (not written by ingest)';
    if (st.size > maxBytes) return `is larger than ${maxBytes} bytes`;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, null);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Removes spooled files (gone already is fine), overlapped: removing thousands of fsynced files one by one
 * cost about 1.5 ms each on ext4 here (the bench's import spent half its time in unlink), a few
 * hundred in flight together cost about a tenth of that.
 */
export async function spoolRemoveAll(dir: string, names: string[]): Promise<void> {
  await Promise.all(
    names.map((name) =>
      unlink(join(dir, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      }),
    ),
  );
}

/**
 * Root-only places beside the spool (not inside it: the pipe user can create any name in the
 * spool). A file is moved into IMPORT_DIR before it is parsed, so a crash or a kill while parsing
 * never makes the next run parse it again; a file that was refused moves on to REJECTED_DIR with
 * a note of the reason, kept for a while and shown on the TLS-RPT page.
 */
export const IMPORT_DIR = '/var/spool/tlsa-manager/import';
export const REJECTED_DIR = '/var/spool/tlsa-manager/rejected';
const REASON_SUFFIX = '.reason.json';

export function ensurePrivateDir(root: ServerRoot, path: string): string {
  const dir = root.path(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

/**
 * Takes one spool entry out of the pipe user's reach: a regular file with one link is renamed
 * into `importDir`; anything else (a directory, a FIFO, a link, a hard link to some other file)
 * is not read: a directory or FIFO moves to `rejectedDir`, a link is removed, and the reason is
 * returned. Only this entry is affected, whatever happens.
 */
export function claimSpooled(spool: string, name: string, importDir: string, rejectedDir: string): { claimed: true } | { claimed: false; reason: string } {
  const from = join(spool, name);
  const st = lstatOrNull(from);
  if (!st) return { claimed: false, reason: 'is gone' };
  if (st.isSymbolicLink()) {
    unlinkQuiet(from);
    return { claimed: false, reason: 'is a symbolic link (not written by ingest; removed, not followed)' };
  }
  if (st.isFile() && st.nlink !== 1) {
    unlinkQuiet(from);
    return { claimed: false, reason: 'has other hard links (not written by ingest; this name removed, the file untouched)' };
  }
  if (!st.isFile()) {
    const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : 'not a regular file';
    try {
      renameSync(from, join(rejectedDir, name));
    } catch {
      // Left where it is; listed again next run, and refused again without stopping anything.
    }
    return { claimed: false, reason: `is ${what}, not a message written by ingest` };
  }
  renameSync(from, join(importDir, name));
  return { claimed: true };
}

function unlinkQuiet(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // gone already, or not ours to remove: nothing else depends on it
  }
}

/** Moves a claimed file to the rejected area with its reason (a refused mail stays inspectable). */
export function rejectClaimed(importDir: string, rejectedDir: string, name: string, note: { code: string; reason: string; time: number }): void {
  try {
    renameSync(join(importDir, name), join(rejectedDir, name));
  } catch {
    unlinkQuiet(join(importDir, name));
  }
  writeNote(rejectedDir, name, note);
}

export function writeNote(rejectedDir: string, name: string, note: { code: string; reason: string; time: number }): void {
  const fd = openSync(join(rejectedDir, `${name}${REASON_SUFFIX}`), constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_WRONLY, 0o600);
  try {
    writeSync(fd, JSON.stringify(note));
  } finally {
    closeSync(fd);
  }
}

export interface RejectedEntry {
  name: string;
  code: string;
  reason: string;
  time: number;
}

/** Refused mails with their reasons, newest first (at most `limit`). */
export function rejectedEntries(rejectedDir: string, limit = 100): RejectedEntry[] {
  let names: string[];
  try {
    names = readdirSync(rejectedDir).filter((n) => n.endsWith(REASON_SUFFIX));
  } catch {
    return [];
  }
  const out: RejectedEntry[] = [];
  for (const n of names.sort().reverse()) {
    if (out.length >= limit) break;
    const bytes = spoolRead(rejectedDir, n, 16 * 1024);
    if (typeof bytes === 'string') continue;
    try {
      const j = JSON.parse(bytes.toString('utf8')) as { code?: unknown; reason?: unknown; time?: unknown };
      if (typeof j.time !== 'number' || !Number.isFinite(j.time)) continue;
      out.push({ name: n.slice(0, -REASON_SUFFIX.length), code: String(j.code), reason: String(j.reason), time: j.time });
    } catch {
      // a note we did not write: skipped
    }
  }
  return out.sort((a, b) => b.time - a.time);
}

/** Removes rejected mails (and their notes) older than `before` (by the note's time). */
export function pruneRejected(rejectedDir: string, before: number): number {
  let n = 0;
  for (const e of rejectedEntries(rejectedDir, Number.MAX_SAFE_INTEGER)) {
    if (e.time >= before) continue;
    rmQuiet(join(rejectedDir, e.name));
    unlinkQuiet(join(rejectedDir, `${e.name}${REASON_SUFFIX}`));
    n++;
  }
  return n;
}

function rmQuiet(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    // best effort
  }
}

/** Files a previous import claimed and never finished (it crashed, was killed or ran out of time). */
export function leftoverClaims(importDir: string): string[] {
  try {
    return readdirSync(importDir).sort();
  } catch {
    return [];
  }
}
