import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { problem, ProblemError, toProblem } from '../problem.js';

/** The HTTP status a Problem is answered with. */
export function statusFor(code: string, err: unknown): number {
  if (code === 'not-found') return 404;
  if (code === 'name-invalid' || code === 'bad-request' || code === 'settings-invalid') return 400;
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return 500;
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
    const status = statusFor(p.code, err);
    if (status >= 500) logger.error({ code: p.code, path: req.path }, p.message);
    const msg = status >= 500 && !(err instanceof ProblemError) ? { ...p, message: 'Something went wrong while building this page.', fix: 'See the service log (journalctl -u tlsa-manager) and try again.' } : p;
    res.status(status);
    if (!res.locals.viewer || req.path.startsWith('/api/')) return void res.type('text/plain').send(`${msg.message}${msg.fix ? ` ${msg.fix}` : ''}\n`);
    res.render('error', { title: status === 404 ? 'Not found' : 'Error', nav: '', nonce: res.locals.nonce, problem: msg, status });
  };
}
