import { readSync } from 'node:fs';
import type { ServerRoot } from '../util/server-root.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import { MESSAGE_SUFFIX, REFUSED_SUFFIX, spoolPath, spoolWrite } from './spool.js';

/**
 * Exim's pipe transport: exit 0 is "delivered"; a code in its `temp_errors` (default 75:73,
 * EX_TEMPFAIL and EX_CANTCREAT) defers and retries; any other code fails the delivery and bounces
 * to the envelope sender. A report we refuse must not bounce (the reporting organisation's robot
 * cannot act on it, and a bounce to a forged sender is backscatter), so refusals exit 0 and are
 * logged. Only our own trouble (the spool cannot be written) exits 75: Exim keeps the message and
 * tries again, nothing is lost.
 */
export const EXIT_DELIVERED = 0;
export const EXIT_TEMPFAIL = 75;

export interface IngestResult {
  exitCode: number;
  /** One line on stdout: the transport's `log_output` puts it in Exim's main log. */
  line: string;
}

/** Reads stdin to its end, keeping at most `max` bytes (the rest is read and dropped, so Exim's write never fails). */
export function readStdinBounded(max: number, fd = 0): { data: Buffer | null; total: number } {
  const chunks: Buffer[] = [];
  let total = 0;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 5);
        continue;
      }
      if (code === 'EOF') break;
      throw err;
    }
    if (n === 0) break;
    total += n;
    if (total <= max) chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return { data: total <= max ? Buffer.concat(chunks, total) : null, total };
}

/**
 * `tlsrpt ingest`: one message from Exim into the spool, nothing else (no config, no database,
 * no parsing: it runs as the pipe's unprivileged user and must answer at once). The importer,
 * as root, does the rest.
 */
export function ingest(root: ServerRoot, message: { data: Buffer | null; total: number }, now: number): IngestResult {
  const dir = spoolPath(root);
  try {
    if (message.data === null) {
      const note = JSON.stringify({ code: 'tlsrpt-too-large', reason: `a message of ${message.total} bytes (at most ${MAX_MESSAGE_BYTES})`, bytes: message.total, time: now });
      spoolWrite(dir, REFUSED_SUFFIX, note, now);
      return { exitCode: EXIT_DELIVERED, line: `tlsa-manager tlsrpt: refused a message of ${message.total} bytes (larger than ${MAX_MESSAGE_BYTES}); not kept, not bounced` };
    }
    const name = spoolWrite(dir, MESSAGE_SUFFIX, message.data, now);
    return { exitCode: EXIT_DELIVERED, line: `tlsa-manager tlsrpt: spooled ${message.total} bytes as ${name}` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return { exitCode: EXIT_TEMPFAIL, line: `tlsa-manager tlsrpt: cannot write to ${dir} (${code}); deferred, Exim will retry` };
  }
}
