import type { ServerRoot } from '../util/server-root.js';
import { cpanelConfig, keyValue, usersFile } from './users-file.js';

/**
 * The kind of key AutoSSL makes for an account's next certificate. cPanel makes a new key at
 * every renewal (Cpanel/SSL/Auto/Provider.pm `generate_key`) of the type
 * Cpanel/SSL/DefaultKey/User.pm `get($user)` returns:
 * - for any user but root, `SSL_DEFAULT_KEY_TYPE` from `/var/cpanel/users/<user>`;
 * - missing, empty or `system` (Cpanel/SSL/DefaultKey/Constants.pm `USER_SYSTEM`) →
 *   `ssl_default_key_type` from `/var/cpanel/cpanel.config`, whose shipped default is the first
 *   of Constants.pm `OPTIONS`, `rsa-2048` (Cpanel/Config/CpConfGuard/Default.pm).
 * A user without a users file makes cPanel's `load_or_die` die: AutoSSL cannot renew, so there is
 * no next key to plan for (null).
 */
export interface NextKey {
  /** cPanel's name: rsa-2048, rsa-4096, ecdsa-prime256v1, ecdsa-secp384r1. */
  type: string;
  /** The same as Certificate.keyAlgorithm names it (rsa, ec-p256, ec-p384). */
  keyAlgorithm: string;
  /** For people: "ECDSA P-256". */
  label: string;
  /** Where the type came from: the account's own setting or the server's default. */
  source: 'account' | 'server';
}

/** cPanel's key types (Cpanel/SSL/DefaultKey/Constants.pm `OPTIONS`) as certificates name them. */
const KEY_TYPES: Record<string, { keyAlgorithm: string; label: string }> = {
  'rsa-2048': { keyAlgorithm: 'rsa', label: 'RSA 2048' },
  'rsa-4096': { keyAlgorithm: 'rsa', label: 'RSA 4096' },
  'ecdsa-prime256v1': { keyAlgorithm: 'ec-p256', label: 'ECDSA P-256' },
  'ecdsa-secp384r1': { keyAlgorithm: 'ec-p384', label: 'ECDSA P-384' },
};

/** Cpanel/Config/CpConfGuard/Default.pm: what cPanel assumes when cpanel.config has no value. */
const SHIPPED_DEFAULT = 'rsa-2048';

/** A type cPanel does not make (hand-edited file): unknown, so nothing is planned for it. */
function known(type: string, source: NextKey['source']): NextKey | null {
  return Object.hasOwn(KEY_TYPES, type) ? { type, ...KEY_TYPES[type]!, source } : null;
}

/** The server's default key type (cpanel.config `ssl_default_key_type`). */
export function serverKeyType(root: ServerRoot): NextKey | null {
  return known(keyValue(cpanelConfig(root), 'ssl_default_key_type') || SHIPPED_DEFAULT, 'server');
}

/** What AutoSSL's next key for `user` will be, as Cpanel::SSL::DefaultKey::User::get decides. */
export function nextKeyFor(root: ServerRoot, user: string): NextKey | null {
  if (user !== 'root') {
    const file = usersFile(root, user);
    if (file === null) return null; // cPanel's load_or_die dies: no AutoSSL renewal for this user
    const own = keyValue(file, 'SSL_DEFAULT_KEY_TYPE');
    if (own && own !== 'system') return known(own, 'account');
  }
  return serverKeyType(root);
}
