import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { httpStatusOf, isProblem, problem, type Problem } from '../problem.js';
import { makeUrl } from './urls.js';
import type { Identity } from '../access/identity.js';

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

// ---- middleware ---------------------------------------------------------------------------------

/** Who is asking, once authenticated; CSRF tokens are bound to `sessionKey`. */
export interface Viewer {
  user: string;
  /** What this viewer may see and do (src/access): root, or a reseller behind WHM. */
  who: Identity;
  sessionKey: string;
  /** `/cpsess…` behind WHM (links must carry it), '' standalone. */
  securityToken: string;
}

export interface AuthOptions {
  mode: 'standalone' | 'socket';
  /** A reusable password (TLSA_MANAGER_WEB_TOKEN), when the admin set one. */
  password?: string;
  /** Uses up a one-time login link; true when it was valid. */
  redeemLink: (token: string) => boolean;
  /** Set the Secure flag on the session cookie (behind TLS). */
  secureCookie: boolean;
  logger: Logger;
  /** Inlined into the login page, which is served before any session exists. */
  loginCss: string;
  /** The identity of a WHM user the shim names (src/access/identity.ts whmIdentity); null: no such user. */
  identify(user: string): Identity | null;
}

export interface Auth {
  /** Standalone only: GET/POST /login, the one route open without a session. */
  login: Router;
  /** Sets `res.locals.viewer` or answers 401/403. Runs before any request body is read. */
  authenticate: RequestHandler;
  /** Every state change carries the token bound to this viewer's session. */
  csrfCheck: RequestHandler;
  logout: RequestHandler;
  csrfToken(v: Viewer): string;
}

/** The login form has one short field; anything bigger is refused before it is parsed. */
const LOGIN_BODY_BYTES = 2048;
const LOGIN_BODY = { extended: false, limit: LOGIN_BODY_BYTES, parameterLimit: 4 } as const;

/**
 * The body parser reads an oversized body to its end before it answers 413; the login form is
 * the one body anyone may send, so its size is judged from the header and the rest never read.
 */
const smallLoginBody: RequestHandler = (req, res, next) => {
  const length = Number(req.headers['content-length']);
  if (req.headers['transfer-encoding'] === undefined && Number.isInteger(length) && length <= LOGIN_BODY_BYTES) return next();
  res.setHeader('Connection', 'close');
  res.status(413).type('text/plain').send('The login form is larger than a login token can be.\n');
};

export function createAuth(opts: AuthOptions): Auth {
  const sessions = new Sessions();
  const csrf = new Csrf();

  const viewerOf = (req: Request): Viewer | Problem => {
    if (opts.mode === 'socket') {
      if (!cameViaSocket(req)) return problem('forbidden', 'This service only answers requests that come through the WHM plugin.', { fix: 'Open TLSA Manager from WHM » Plugins.' });
      const user = req.headers[USER_HEADER];
      // Root and resellers (issue 28): the shim passes the WHM user cpsrvd authenticated; who that
      // is, and what it may see, is decided here. A plain account has the cPanel page instead.
      const who = typeof user === 'string' ? opts.identify(user) : null;
      if (!who || who.kind === 'account') return problem('forbidden', 'TLSA Manager in WHM is for root and resellers.', { fix: 'Account owners find their domains in cPanel » Email » Email Security (DANE); otherwise log in to WHM as root or a reseller.' });
      const securityToken = validSecurityToken(req.headers[SECURITY_TOKEN_HEADER]);
      return { user: user as string, who, sessionKey: `whm|${user}|${securityToken}`, securityToken };
    }
    const session = sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    if (!session) return problem('unauthorized', 'Sign in with the login link printed when the server started.');
    // The standalone login is root's (the token is root's secret).
    return { user: session.user, who: { kind: 'root' }, sessionKey: `session|${session.id}`, securityToken: '' };
  };

  const login = Router();
  if (opts.mode === 'standalone') {
    const page = (res: Response, status: number, message: string) => {
      res.status(status).render('login', { nonce: res.locals.nonce, css: opts.loginCss, message, action: '/login' });
    };
    const valid = (given: string) => (opts.password !== undefined && secretEquals(given, opts.password)) || opts.redeemLink(given);
    const attempt = (given: unknown, res: Response) => {
      if (typeof given !== 'string' || !valid(given)) {
        return page(res, 401, given === undefined ? '' : 'That login link is not valid: each link works once, for 15 minutes. Get a new one with: tlsa-manager login-link');
      }
      const s = sessions.create('admin');
      res.setHeader('Set-Cookie', sessionCookie(s.id, { secure: opts.secureCookie }));
      opts.logger.info({ user: s.user }, 'web login');
      res.redirect(303, '/');
    };
    login.get('/login', (req, res) => (req.query.token === undefined ? page(res, 200, '') : attempt(req.query.token, res)));
    login.post('/login', smallLoginBody, express.urlencoded(LOGIN_BODY), (req, res) => attempt(req.body?.token ?? '', res));
  }

  const authenticate: RequestHandler = (req, res, next) => {
    const v = viewerOf(req);
    if (isProblem(v)) {
      const wantsHtml = req.method === 'GET' && !req.path.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
      if (opts.mode === 'standalone' && wantsHtml) return res.redirect(303, '/login');
      // A refused request's body is never read or parsed; closing the connection afterwards
      // spares reading the rest of it just to keep the connection alive.
      if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.setHeader('Connection', 'close');
      return void res.status(httpStatusOf(v)).type('text/plain').send(`${v.message}${v.fix ? ` ${v.fix}` : ''}\n`);
    }
    res.locals.viewer = v;
    next();
  };

  const csrfCheck: RequestHandler = (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const given = req.body?._csrf ?? req.headers['x-csrf-token'];
    const v = res.locals.viewer as Viewer;
    if (req.method !== 'POST' || !csrf.verify(v.sessionKey, given)) {
      return void res.status(403).type('text/plain').send('The form has expired or did not come from this page (CSRF check failed). Reload the page and try again.\n');
    }
    next();
  };

  const logout: RequestHandler = (req, res) => {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (id) sessions.destroy(id);
    res.setHeader('Set-Cookie', sessionCookie('', { secure: opts.secureCookie, clear: true }));
    const v = res.locals.viewer as Viewer;
    res.redirect(303, opts.mode === 'standalone' ? '/login' : makeUrl({ mode: opts.mode, securityToken: v.securityToken }, '/'));
  };

  return { login, authenticate, csrfCheck, logout, csrfToken: (v) => csrf.tokenFor(v.sessionKey) };
}
