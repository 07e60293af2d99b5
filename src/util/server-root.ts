import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { MAX_FILE_BYTES, readBounded } from './bounded-read.js';

/**
 * The filesystem of a cPanel server, rooted at `root` (`/` in production, a fake tree in tests
 * and the demo). Every path the product reads or writes is an absolute cPanel path mapped through
 * here, so nothing escapes the root.
 */
export class ServerRoot {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Map an absolute server path (`/etc/userdomains`) into the root. */
  path(serverPath: string): string {
    if (!serverPath.startsWith('/')) throw new Error(`not an absolute server path: ${serverPath}`);
    const p = resolve(join(this.root, serverPath));
    if (p !== this.root && !p.startsWith(this.root === sep ? sep : this.root + sep)) {
      throw new Error(`path escapes the server root: ${serverPath}`);
    }
    return p;
  }

  /**
   * File contents, or null when it does not exist. Other errors (EACCES, ELOOP) are thrown, and a
   * FileRefusedError for anything but a regular file of at most `maxBytes` (FIFOs, devices).
   */
  readText(serverPath: string, maxBytes = MAX_FILE_BYTES): string | null {
    try {
      return readBounded(this.path(serverPath), maxBytes).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  readBytes(serverPath: string, maxBytes = MAX_FILE_BYTES): Buffer {
    return readBounded(this.path(serverPath), maxBytes);
  }

  stat(serverPath: string): Stats | null {
    try {
      return statSync(this.path(serverPath));
    } catch {
      return null;
    }
  }

  exists(serverPath: string): boolean {
    try {
      lstatSync(this.path(serverPath));
      return true;
    } catch {
      return false;
    }
  }

  list(serverPath: string): string[] {
    try {
      return readdirSync(this.path(serverPath));
    } catch {
      return [];
    }
  }
}
