import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Set on requests that arrived over the unix socket; a header can never set a symbol. */
export const VIA_SOCKET = Symbol('tlsa-manager.via-socket');

export const SESSION_COOKIE = 'tlsa_session';
export const USER_HEADER = 'x-tlsa-remote-user';
export const SECURITY_TOKEN_HEADER = 'x-tlsa-security-token';
const SESSION_IDLE_MS = 12 * 3600_000;

export function markViaSocket(req: IncomingMessage): void {
  (req as unknown as Record<symbol, boolean>)[VIA_SOCKET] = true;
}

export function cameViaSocket(req: IncomingMessage): boolean {
  return (req as unknown as Record<symbol, boolean>)[VIA_SOCKET] === true;
}

/** Constant-time comparison of secrets of any length (both sides hashed to equal length first). */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && given.length === expected.length;
}

export function newLoginToken(): string {
  return randomBytes(32).toString('base64url');
}

/** cp_security_token as cpsrvd sets it: `/cpsess` + ten digits. Anything else is dropped. */
export function validSecurityToken(v: unknown): string {
  return typeof v === 'string' && /^\/cpsess\d{10}$/.test(v) ? v : '';
}

export interface Session {
  id: string;
  user: string;
  lastSeen: number;
}

/** Standalone-mode sessions, in memory: a restart means logging in again with the new token. */
export class Sessions {
  private readonly sessions = new Map<string, Session>();

  create(user: string, now = Date.now()): Session {
    const s: Session = { id: randomBytes(32).toString('base64url'), user, lastSeen: now };
    this.sessions.set(s.id, s);
    return s;
  }

  get(id: string | undefined, now = Date.now()): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (now - s.lastSeen > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return null;
    }
    s.lastSeen = now;
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    try {
      out.set(k, decodeURIComponent(v));
    } catch {
      out.set(k, v);
    }
  }
  return out;
}

export function sessionCookie(id: string, opts: { secure: boolean; clear?: boolean }): string {
  const parts = [`${SESSION_COOKIE}=${opts.clear ? '' : id}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (opts.secure) parts.push('Secure');
  if (opts.clear) parts.push('Max-Age=0');
  return parts.join('; ');
}

/**
 * Synchronizer tokens: HMAC of the session key under a per-process secret. The session key is the
 * session id (standalone) or user + cp_security_token (behind WHM), so a token from one session
 * is worthless in another.
 */
export class Csrf {
  private readonly secret = randomBytes(32);

  tokenFor(sessionKey: string): string {
    return createHmac('sha256', this.secret).update(sessionKey).digest('base64url');
  }

  verify(sessionKey: string, given: unknown): boolean {
    return typeof given === 'string' && given.length > 0 && secretEquals(given, this.tokenFor(sessionKey));
  }
}
