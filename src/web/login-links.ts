import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../context.js';

/** How long a printed login link works (once). */
export const LOGIN_LINK_TTL_MS = 15 * 60_000;
/** Where the running standalone server records its address, for `tlsa-manager login-link`. */
export const WEB_ADDRESS_META = 'web.address';

const hashOf = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * A fresh one-time login token. It lives (hashed) in the state database, which only root can
 * open, so the running server and `tlsa-manager login-link` share it without any other channel.
 */
export function issueLoginLink(ctx: AppContext): string {
  const token = randomBytes(32).toString('base64url');
  const now = ctx.now();
  ctx.state().addLoginLink(hashOf(token), now + LOGIN_LINK_TTL_MS, now);
  return token;
}

/** True once for a token issued in the last 15 minutes; it is gone afterwards. */
export function redeemLoginLink(ctx: AppContext, token: string): boolean {
  return token.length > 0 && token.length <= 200 && ctx.state().redeemLoginLink(hashOf(token), ctx.now());
}

/** The login URL for a token at the server's address. */
export function loginUrl(address: string, token: string): string {
  return `${address}/login?token=${encodeURIComponent(token)}`;
}
