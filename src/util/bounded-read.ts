import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Files we read as root come from places other people can influence (zone includes, certificate
 * files): a FIFO would hang us, `/dev/zero` would eat all memory. So every such read is of a
 * regular file, opened without blocking, and never longer than a cap.
 */

/** Zone files with their includes: far above any hosting zone (100,000 records are ~5 MB). */
export const MAX_ZONE_BYTES = 64 * 1024 * 1024;
/** A certificate file (`combined` is key + certificate + chain: a few kB). */
export const MAX_CERT_BYTES = 1024 * 1024;
/** Anything else read from the server (account lists, address files). */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;

export type RefusedKind = 'not-regular' | 'too-large';

/** A file we will not read; `code` lets callers that switch on errno codes explain it too. */
export class FileRefusedError extends Error {
  readonly kind: RefusedKind;
  readonly code: string;
  constructor(kind: RefusedKind, path: string, maxBytes: number) {
    super(kind === 'not-regular' ? `${path} is not a regular file` : `${path} is larger than ${maxBytes} bytes`);
    this.name = 'FileRefusedError';
    this.kind = kind;
    this.code = kind === 'not-regular' ? 'ENOTREGULAR' : 'ETOOLARGE';
  }
}

/** Words for an error thrown by readBounded (or fs), never the file's content. */
export function describeReadError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT': return 'does not exist';
    case 'ELOOP': return 'is a symbolic link loop';
    case 'EACCES': return 'is not readable';
    case 'EISDIR':
    case 'ENOTREGULAR': return 'is not a regular file';
    case 'ETOOLARGE': return 'is too large';
    default: return `cannot be read (${code ?? 'error'})`;
  }
}

/** The whole file, or throws: ENOENT/EACCES/… from fs, FileRefusedError for the rest. */
export function readBounded(path: string, maxBytes: number): Buffer {
  // O_NONBLOCK: opening a FIFO without a writer must not wait; fstat then refuses it.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileRefusedError('not-regular', path, maxBytes);
    if (st.size > maxBytes) throw new FileRefusedError('too-large', path, maxBytes);
    // Read until EOF, but never past the cap (the file may grow while we read it).
    // The first read asks for one byte more than fstat said, so a file that grew shows; a short
    // read is then confirmed as the end by a one-byte read. (Buffers of at least 64 kB for every
    // read made a whole-server scan allocate ~2.5 GB for 20,000 files of a few kB: issue 10 §7.)
    // Never from Buffer's shared pool: a file's bytes are usually dropped at once, and a pool
    // slab is only freed when nothing in it is used, so they would keep slabs that also hold
    // buffers that live on (the certificates' DER).
    const chunks: Buffer[] = [];
    let total = 0;
    let want = st.size + 1;
    for (;;) {
      const chunk = Buffer.allocUnsafeSlow(want);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new FileRefusedError('too-large', path, maxBytes);
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      want = n < chunk.length ? 1 : 64 * 1024;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}
