import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { wantsChrome } from './chrome.js';

/**
 * The Content-Security-Policy of a response. Standalone (and behind WHM without its chrome) a
 * per-response nonce is the only way a script runs. Inside WHM's chrome the page also carries
 * WHM's header and footer, which load WHM's scripts, styles, fonts and icons from cpsrvd itself
 * (same origin, by URL, without a nonce) and carry a few inline bits marked with the nonce placeholder
 * the shim fills with this nonce; so `'self'` is added for exactly those kinds and nothing else:
 * no `'unsafe-inline'`, no `'unsafe-eval'`, no other origin (plugin/README.md, "Content Security Policy").
 */
export function contentSecurityPolicy(nonce: string, chrome: boolean): string {
  const self = chrome ? "'self' " : '';
  return [
    "default-src 'none'",
    `script-src ${self}'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data:",
    ...(chrome ? ["font-src 'self'"] : []),
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
    "base-uri 'none'",
  ].join('; ');
}

/**
 * Headers for every response: one CSP (its nonce shared with WHM's chrome when the shim wraps the
 * page), no inline handlers, no framing by other origins, no MIME sniffing.
 */
export function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  const nonce = randomBytes(16).toString('base64');
  const chrome = wantsChrome(req);
  res.locals.nonce = nonce;
  res.locals.chrome = chrome;
  res.setHeader('Content-Security-Policy', contentSecurityPolicy(nonce, chrome));
  res.setHeader('X-Frame-Options', 'SAMEORIGIN');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
}
