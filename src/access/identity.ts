import { readAccounts } from '../cpanel/accounts.js';
import { keyValue, usersFile } from '../cpanel/users-file.js';
import type { ServerRoot } from '../util/server-root.js';

/**
 * Who is asking (issue 28): root sees every domain, a reseller the domains of the accounts it
 * owns plus its own, an account its own domains. Every surface that answers for someone other
 * than root asks src/access/scope.ts what this identity may see; nothing else decides.
 */
export type Identity = { kind: 'root' } | { kind: 'reseller'; name: string } | { kind: 'account'; name: string };

/**
 * A cPanel account name as cPanel itself accepts one: Cpanel/Validate/Username/Core.pm
 * `is_valid` (lines 151-160) matches `get_regexp_str` (lines 131-133) anchored by
 * `_apply_perl_boundary` (\A … \z, lines 222-226): lower-case letters, digits, `-`, `.`, `_`,
 * 1 to $MAX_LENGTH = 16 characters (line 27), not starting with `-` or `.`, nor with a digit
 * unless `/etc/allowstupidstuff` exists (`_regexp_lead` lines 135-137,
 * Cpanel/Validate/Username/Mode.pm `allows_leading_digits`). No `/`, no upper case, never empty:
 * such a name is refused before it is joined to any path.
 */
export function validAccountName(root: ServerRoot, name: string): boolean {
  if (typeof name !== 'string' || !/^[-._a-z0-9]{1,16}$/.test(name)) return false;
  if (name.startsWith('-') || name.startsWith('.')) return false;
  if (/^[0-9]/.test(name) && !allowsLeadingDigits(root)) return false;
  return true;
}

function allowsLeadingDigits(root: ServerRoot): boolean {
  try {
    return root.readText('/etc/allowstupidstuff') !== null;
  } catch {
    return false;
  }
}

/**
 * The account `name` when it exists: a valid name with a users file (`/var/cpanel/users/<name>`,
 * what cPanel's Cpanel::Config::HasCpUserFile checks). 'invalid' and 'unknown' are told apart
 * only for the exit code; callers print one message for both.
 */
export function accountIdentity(root: ServerRoot, name: string): Identity | 'invalid' | 'unknown' {
  if (!validAccountName(root, name)) return 'invalid';
  if (name === 'root' || usersFile(root, name) === null) return 'unknown';
  return { kind: 'account', name };
}

/**
 * The identity of a WHM user: root, a reseller (a `name:privileges` line in
 * `/var/cpanel/resellers`, the file Cpanel/Reseller.pm `_load_one_reseller` reads, path from
 * Cpanel/ConfigFiles.pm `$RESELLERS_FILE`), else the plain account; null for no such user.
 */
export function whmIdentity(root: ServerRoot, name: string): Identity | null {
  if (name === 'root') return { kind: 'root' };
  const account = accountIdentity(root, name);
  if (typeof account === 'string') return null;
  const resellers = root.readText('/var/cpanel/resellers') ?? '';
  const isReseller = resellers.split('\n').some((line) => line.startsWith(`${name}:`));
  return isReseller ? { kind: 'reseller', name } : account;
}

/**
 * The owner of an account: `OWNER` in its users file, root when the line is missing or empty
 * (Cpanel/AcctUtils/Owner.pm `getowner`, lines 69-78). Null when the account has no users file.
 */
export function ownerOf(root: ServerRoot, user: string): string | null {
  const text = usersFile(root, user);
  if (text === null) return null;
  return keyValue(text, 'OWNER') || 'root';
}

/** The accounts an identity answers for (null: every account, root). */
export function accountsOf(root: ServerRoot, who: Identity): Set<string> | null {
  if (who.kind === 'root') return null;
  if (who.kind === 'account') return new Set([who.name]);
  const owners = new Set(readAccounts(root).domains.map((d) => d.owner));
  const out = new Set([who.name]);
  for (const user of owners) if (validAccountName(root, user) && ownerOf(root, user) === who.name) out.add(user);
  return out;
}
