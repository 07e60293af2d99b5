import { accessSync, constants } from 'node:fs';
import { dirname } from 'node:path';
import type { Problem } from '../problem.js';

/** Where the state database lives below the server root (`--root` prefixes it). */
export const STATE_DB_PATH = '/var/lib/tlsa-manager/state.db';

/**
 * SQLite says only SQLITE_CANTOPEN when a WAL database sits on a read-only file system (it cannot
 * make the -shm file): ask the directory itself, whose answer (EROFS, EACCES) names the cause.
 */
function whyCannotOpen(code: string, file: string): string {
  if (!code.startsWith('SQLITE_CANTOPEN')) return code;
  try {
    accessSync(dirname(file), constants.W_OK);
    return code;
  } catch (err) {
    return codeOf(err) ?? code;
  }
}

function codeOf(err: unknown): string | null {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : null;
}

/**
 * A state database that cannot be written, in the admin's words instead of SQLite's ("database or
 * disk is full", "attempt to write a readonly database"): which path, and what to check. `file`
 * is the database being opened; null when the error surfaced later, somewhere a statement ran:
 * then only SQLite's own codes are taken (they can only come from this database), never an errno,
 * which any file could have raised. Null when the error is none of these.
 *
 * Problem literals rather than problem(): problem.ts's toProblem calls this, and importing it back
 * would make an import circle.
 */
export function stateStorageProblem(err: unknown, file: string | null): Problem | null {
  const raw = codeOf(err);
  if (raw === null || (file === null && !raw.startsWith('SQLITE_'))) return null;
  const code = file === null ? raw : whyCannotOpen(raw, file);
  const path = file ?? `${STATE_DB_PATH} (below --root when one is given)`;
  const dir = dirname(file ?? STATE_DB_PATH);
  // SQLITE_IOERR_SHMSIZE: a WAL database's shared-memory file could not grow, which on Linux is
  // a full file system (seen when opening state.db on a full disk).
  if (code.startsWith('SQLITE_FULL') || code === 'SQLITE_IOERR_SHMSIZE' || code === 'ENOSPC' || code === 'EDQUOT') {
    return {
      code: 'state-disk-full',
      message: `The file system holding ${dir} is full (${code}), so the state database ${path} cannot be written.`,
      fix: `Free space there (see: df -h ${dir}), then run it again; the database needs no repair.`,
      subject: path,
    };
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return {
      code: 'state-read-only',
      message: `The state database ${path} cannot be written (${code}).`,
      fix: `Check that ${dir} is on a file system mounted read-write (findmnt -T ${dir}) and that root may write ${dir} and its state.db, state.db-wal and state.db-shm (ls -la ${dir}; lsattr for the immutable flag).`,
      subject: path,
    };
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
    return {
      code: 'state-cannot-open',
      message: `The state database ${path} cannot be opened or created (${code}).`,
      fix: `Check that ${dir} is a directory root may write (not a file or a dangling link, and every directory above it too) and that state.db in it is a regular file (ls -la ${dir}).`,
      subject: path,
    };
  }
  return null;
}
