import type { NextFunction, Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import type { Viewer } from '../auth.js';
import { scopedData } from '../access.js';
import type { SnapshotData } from '../snapshot.js';
import { renderPage } from '../chrome.js';
import type { JobDeps } from '../services.js';
import type { UrlParams } from '../urls.js';

/** What every router is built from: the command context plus the app's backends, data and jobs. */
export interface RouteDeps extends JobDeps {
  ctx: AppContext;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

/** Express 5 forwards rejected promises to the error handler; this keeps handler types tidy. */
export const h = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => Promise.resolve(fn(req, res)).catch(next);

/** A page in the app's layout (views/<view>.ejs), or its body for WHM's chrome; `nav` marks the active tab. */
export function render(res: Response, view: string, title: string, nav: string, locals: Record<string, unknown> = {}): void {
  renderPage(res, view, { title, nav, ...locals });
}

export type UrlFor = (route: string, params?: UrlParams) => string;

/** 303 to an app route, as a WHM link behind WHM. */
export function redirect(res: Response, route: string, params: UrlParams = {}): void {
  res.redirect(303, (res.locals.url as UrlFor)(route, params));
}

/** Who did it, as the activity log and the ledger record it. */
export function actor(res: Response): string {
  return `web:${(res.locals.viewer as Viewer).user}`;
}

/** The snapshot as this viewer may see it (src/web/access.ts): every scoped route reads through this. */
export async function dataFor(deps: RouteDeps, res: Response): Promise<SnapshotData> {
  return scopedData(deps.ctx.root, await deps.snapshot.get(), (res.locals.viewer as Viewer).who);
}
