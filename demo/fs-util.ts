import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, symlink, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Paths inside the demo root are written as absolute cPanel paths ("/etc/userdomains"). */
export function inRoot(root: string, cpanelPath: string): string {
  if (!cpanelPath.startsWith('/') || cpanelPath.split('/').includes('..')) {
    throw new Error(`internal: not an absolute in-root path: ${cpanelPath}`);
  }
  return join(root, cpanelPath);
}

// Directories already created per root, so bulk builds do not pay a mkdir per file.
const madeDirs = new Map<string, Set<string>>();

/** Forget cached directories of a root (call before (re)building it). */
export function forgetDirs(root: string): void {
  madeDirs.delete(root);
}

function currentUmask(): number {
  try {
    return process.umask();
  } catch {
    return 0o777; // worker threads cannot read it: always chmod
  }
}
const UMASK = currentUmask();

export async function put(root: string, cpanelPath: string, content: string, mode = 0o644): Promise<void> {
  const file = inRoot(root, cpanelPath);
  const dir = dirname(file);
  let made = madeDirs.get(root);
  if (!made) madeDirs.set(root, (made = new Set()));
  // Synchronous on purpose: tens of thousands of tiny writes are faster without thread-pool
  // round trips, and the pool stays free for certificate signing.
  if (!made.has(dir)) {
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  }
  writeFileSync(file, content, { mode });
  // writeFile's mode is filtered by the umask: the demo promises exact modes.
  if ((mode & UMASK) !== 0) chmodSync(file, mode);
}

/**
 * A symlink that stays inside the root: the target is stored RELATIVE to the link's directory
 * (`/etc/exim.crt` -> `../var/cpanel/ssl/exim/exim.crt`), so it resolves correctly both when the
 * root is browsed in place and when a reader joins paths under the root.
 */
export async function linkInRoot(root: string, linkPath: string, targetPath: string): Promise<void> {
  const link = inRoot(root, linkPath);
  await mkdir(dirname(link), { recursive: true });
  await rm(link, { force: true });
  const rel = relative(dirname(link), inRoot(root, targetPath)).split(sep).join('/');
  await symlink(rel, link);
}
