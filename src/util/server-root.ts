import { lstatSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join, resolve, sep } from 'node:path';

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

  /** File contents, or null when it does not exist. Other errors (EACCES, ELOOP) are thrown. */
  readText(serverPath: string): string | null {
    try {
      return readFileSync(this.path(serverPath), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  readBytes(serverPath: string): Buffer {
    return readFileSync(this.path(serverPath));
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
