import { mkdir, writeFile, chmod, symlink, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

/** Paths inside the demo root are written as absolute cPanel paths ("/etc/userdomains"). */
export function inRoot(root: string, cpanelPath: string): string {
  if (!cpanelPath.startsWith('/') || cpanelPath.split('/').includes('..')) {
    throw new Error(`internal: not an absolute in-root path: ${cpanelPath}`);
  }
  return join(root, cpanelPath);
}

export async function put(root: string, cpanelPath: string, content: string, mode = 0o644): Promise<void> {
  const file = inRoot(root, cpanelPath);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content, { mode });
  // writeFile's mode is filtered by the umask; the demo promises exact modes.
  await chmod(file, mode);
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

/** Run `fn` over items with at most `limit` in flight (file writes and signing). */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
