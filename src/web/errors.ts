import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { renderPage } from './chrome.js';
import { describe, httpStatusOf, problem, ProblemError, toProblem, type Problem } from '../problem.js';

/** The status of a failed request: from the problem's kind, or a client error express itself raised (body too large, bad JSON). */
export function statusFor(p: Problem, err: unknown): number {
  if (err instanceof ProblemError) return httpStatusOf(p);
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return httpStatusOf(p);
}

export const notFound: RequestHandler = (_req, _res, next) => next(new ProblemError(problem('not-found', 'There is no page here.', { fix: 'Use the navigation above.' })));

/**
 * Every error ends here: a page (or plain text before sign-in and for the API) with the
 * Problem's message and fix. Unexpected errors are logged and shown without their details.
 */
export function errorHandler(logger: Logger) {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const p = toProblem(err, 'internal');
    const status = statusFor(p, err);
    if (status >= 500) logger.error({ code: p.code, path: req.path }, p.message);
    const msg = status >= 500 && !(err instanceof ProblemError) ? { ...p, message: describe(p.code).text, fix: 'See the service log (journalctl -u tlsa-manager) and try again.' } : p;
    res.status(status);
    if (!res.locals.viewer || req.path.startsWith('/api/')) return void res.type('text/plain').send(`${msg.message}${msg.fix ? ` ${msg.fix}` : ''}\n`);
    renderPage(res, 'error', { title: status === 404 ? 'Not found' : 'Error', nav: '', problem: msg, status });
  };
}
