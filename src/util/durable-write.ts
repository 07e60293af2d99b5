import { chmodSync, chownSync, closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/** Write `content` to `path` and fsync it, with `mode` (and owner, when given and we may). */
export function writeDurably(path: string, content: string, opts: { mode: number; uid?: number; gid?: number }): void {
  const fd = openSync(path, 'w', opts.mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, opts.mode);
  if (opts.uid !== undefined && opts.gid !== undefined) {
    try {
      chownSync(path, opts.uid, opts.gid);
    } catch {
      /* not root (tests as a user): ownership stays ours */
    }
  }
}

/** Replace `file` atomically: a fully written, fsynced temp file renamed over it. */
export function writeFileAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeDurably(tmp, content, { mode });
  renameSync(tmp, file);
}
