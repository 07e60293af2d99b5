import type { ServerRoot } from '../util/server-root.js';

/**
 * cPanel's `KEY=value` files: `/var/cpanel/users/<user>` (Cpanel/Config/LoadCpUserFile.pm) and
 * `/var/cpanel/cpanel.config` (Cpanel/Config/LoadCpConf.pm). One reader for both.
 */
export function keyValue(text: string | null, key: string): string | undefined {
  if (text === null) return undefined;
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.slice(0, eq) === key) return line.slice(eq + 1).trim();
  }
  return undefined;
}

/** A file's text, or null when it is missing or unreadable (cPanel's own readers would fail too). */
function readOrNull(root: ServerRoot, path: string): string | null {
  try {
    return root.readText(path);
  } catch {
    return null;
  }
}

/** `/var/cpanel/users/<user>`'s text; null for a name cPanel would not have or a missing file. */
export function usersFile(root: ServerRoot, user: string): string | null {
  if (!/^[a-z0-9_][a-z0-9_.-]{0,31}$/i.test(user) || user.includes('..')) return null;
  return readOrNull(root, `/var/cpanel/users/${user}`);
}

export function cpanelConfig(root: ServerRoot): string | null {
  return readOrNull(root, '/var/cpanel/cpanel.config');
}

/** The account's main domain (`DNS=`), which UAPI SSL::delete_ssl uses when given no domain. */
export function mainDomainOf(root: ServerRoot, user: string): string | undefined {
  return keyValue(usersFile(root, user), 'DNS') || undefined;
}
