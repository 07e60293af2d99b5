import type { Request, Response } from 'express';
import { cameViaSocket } from './auth.js';

/**
 * Pages inside WHM's chrome (issue 16). The CGI shim owns WHM's cached header and footer (it runs
 * inside cPanel, as root, and can read them); when it has them it asks for the page BODY with
 * `X-TLSA-Chrome: whm`. The daemon then renders the views without its standalone layout and marks
 * the answer as a fragment; the shim wraps exactly the answers that carry that mark, so JSON, CSV,
 * static files and plain-text refusals pass through unwrapped without a list of routes to keep.
 */
export const CHROME_REQUEST_HEADER = 'x-tlsa-chrome';
/** `1` on an HTML fragment the shim is to put inside WHM's chrome. */
export const FRAGMENT_HEADER = 'X-TLSA-Fragment';
/** The page title (percent-encoded UTF-8: a header cannot carry every character of a domain name safely). */
export const TITLE_HEADER = 'X-TLSA-Title';
/** The nonce of this response's CSP, for the `nonce="00000000000"` placeholders in WHM's header. */
export const NONCE_HEADER = 'X-TLSA-Nonce';

export const PRODUCT = 'TLSA Manager';

/**
 * Whether this request gets a fragment for WHM's chrome. Only a request that came over the
 * root-only unix socket can ask: over TCP the header means nothing.
 */
export function wantsChrome(req: Request): boolean {
  return cameViaSocket(req) && req.headers[CHROME_REQUEST_HEADER] === 'whm';
}

/** `Domains` → `TLSA Manager » Domains`: the document title inside WHM, product first as WHM's plugin pages name themselves. */
export function documentTitle(title: string): string {
  return title === 'Overview' ? PRODUCT : `${PRODUCT} » ${title}`;
}

/**
 * Render a page view: in WHM's chrome a fragment (layout partials switch on `chrome`) with the
 * headers the shim needs; otherwise the standalone document.
 */
export function renderPage(res: Response, view: string, locals: Record<string, unknown> & { title: string }): void {
  if (res.locals.chrome === true) {
    res.setHeader(FRAGMENT_HEADER, '1');
    res.setHeader(TITLE_HEADER, encodeURIComponent(documentTitle(locals.title)));
    res.setHeader(NONCE_HEADER, String(res.locals.nonce));
  }
  res.render(view, { nonce: res.locals.nonce, ...locals });
}
