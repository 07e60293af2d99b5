import { alertsRouter } from './routes/alerts.js';
import { publishedMarks } from '../checks/scheduled.js';
import { tlsrptTotals } from '../tlsrpt/import.js';
import express, { type RequestHandler } from 'express';
import { latestDnssec } from '../dnssec/watch.js';
import { mtaStsStore } from '../mtasts/store.js';
import { mtaStsChecks } from '../mtasts/checks-store.js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { AppContext } from '../context.js';
import { problem, ProblemError } from '../problem.js';
import { createAuth, secretEquals, type Viewer } from './auth.js';
import { whmIdentity } from '../access/identity.js';
import { authorize } from './access.js';
import { issueLoginLink, redeemLoginLink } from './login-links.js';
import { errorHandler, notFound } from './errors.js';
import { JobRegistry } from './jobs.js';
import { exportRouter } from './routes/export.js';
import { jobsRouter } from './routes/jobs.js';
import { pagesRouter } from './routes/pages.js';
import { mtaStsRouter } from './routes/mtasts.js';
import { settingsRouter } from './routes/settings.js';
import type { RouteDeps } from './routes/common.js';
import { securityHeaders } from './security.js';
import { defaultServices, type WebServices } from './services.js';
import { Snapshot } from './snapshot.js';
import { planView } from '../plan/view.js';
import { makeUrl, rewriteRoute, type UrlParams } from './urls.js';
import * as helpers from './view-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** views/ and public/ sit at the package root, two levels above both src/web and dist/web. */
export const VIEWS_DIR = join(here, '..', '..', 'views');
export const PUBLIC_DIR = join(here, '..', '..', 'public');

/** Form and JSON bodies of signed-in requests; the settings form with many zones is the largest. */
const BODY_LIMIT = '200kb';

export interface WebOptions {
  mode: 'standalone' | 'socket';
  /** A reusable standalone password (TLSA_MANAGER_WEB_TOKEN); otherwise one-time links only. */
  loginToken?: string;
  services?: WebServices;
  /** Set the Secure flag on the session cookie (behind TLS). */
  secureCookie?: boolean;
}

export interface WebApp {
  app: express.Express;
  snapshot: Snapshot;
  jobs: JobRegistry;
  /** A fresh one-time login token (valid 15 minutes). */
  newLoginLink(): string;
  services: WebServices;
}

/**
 * Build the web app for a context. Nothing is scanned until the first page asks for data (or
 * `snapshot.refresh()` is called), so a benchmark can build the app and time pages separately.
 *
 * The order is the security model: route rewrite, headers, login, authentication, and only then
 * are request bodies read and parsed, the CSRF token checked, and the area routers reached.
 */
export function createWebApp(ctx: AppContext, opts: WebOptions): WebApp {
  const services = opts.services ?? defaultServices(ctx);
  const snapshot = new Snapshot({ view: () => (services.planView ? services.planView() : services.plan().then(planView)), checks: () => ctx.state().latestChecks(), dnssec: () => latestDnssec(ctx), tlsrpt: () => tlsrptTotals(ctx), published: () => publishedMarks(ctx.state()), mtaSts: () => mtaStsStore(ctx).all(), stsChecks: () => mtaStsChecks(ctx).latestAll() });
  const jobs = new JobRegistry();
  const auth = createAuth({ mode: opts.mode, ...(opts.loginToken ? { password: opts.loginToken } : {}), redeemLink: (t) => redeemLoginLink(ctx, t), secureCookie: opts.secureCookie === true, logger: ctx.logger, loginCss: readFileSync(join(PUBLIC_DIR, 'app.css'), 'utf8'), identify: (user) => whmIdentity(ctx.root, user) });
  const deps: RouteDeps = { ctx, services, snapshot, jobs };
  const app = express();

  app.disable('x-powered-by');
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');
  app.set('view cache', true);
  app.set('query parser', 'simple');
  app.set('etag', false);
  // Only demo/start.ts sets this: every page then says it runs on the demo's simulated network.
  app.locals.demoNetwork = process.env.TLSA_MANAGER_DEMO === '1';

  // `?route=` routing (the WHM CGI) before anything looks at the path.
  app.use((req, _res, next) => {
    const r = rewriteRoute(req.url);
    if (r === null) return next(new ProblemError(problem('bad-request', 'The route parameter is not a valid page path.')));
    if (r !== undefined) req.url = r;
    next();
  });
  app.use(securityHeaders);
  // Prometheus scrapes with its own read-only bearer token, not a login session (standalone only:
  // behind WHM the daemon listens on a root-only socket; there the timer writes a textfile).
  if (opts.mode === 'standalone') app.get('/metrics', metricsEndpoint(ctx));
  app.use(auth.login);
  app.use(auth.authenticate);
  app.use(viewLocals(opts.mode, auth.csrfToken, jobs));
  app.use(express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 20_000 }));
  app.use(express.json({ limit: BODY_LIMIT }));
  app.use(auth.csrfCheck);
  app.use(authorize());

  app.get('/static/:file', (req, res, next) => {
    const file = String(req.params.file);
    if (!/^[a-z0-9-]+\.(css|js|svg)$/.test(file)) return next();
    res.setHeader('Cache-Control', 'private, max-age=300');
    res.sendFile(file, { root: PUBLIC_DIR, dotfiles: 'deny' }, (err) => err && next());
  });
  app.use(pagesRouter(deps));
  app.use(jobsRouter(deps));
  app.use(exportRouter(deps));
  app.use(settingsRouter(deps));
  app.use(alertsRouter(deps));
  app.use(mtaStsRouter(deps));
  app.post('/logout', auth.logout);

  app.use(notFound);
  app.use(errorHandler(ctx.logger));

  return { app, snapshot, jobs, newLoginLink: () => issueLoginLink(ctx), services };
}

function metricsEndpoint(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    const token = ctx.config.metrics.token;
    if (!token) return next();
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    if (!m || !secretEquals(m[1]!, token)) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer realm="tlsa-manager metrics"');
      res.type('text/plain').send('A valid metrics token is required (Authorization: Bearer <metrics.token>).\n');
      return;
    }
    import('../metrics/metrics.js')
      .then(({ metricsText }) => metricsText(ctx))
      .then((text) => {
        res.setHeader('Cache-Control', 'no-store');
        res.type('text/plain; version=0.0.4; charset=utf-8').send(text);
      })
      .catch(next);
  };
}

/** What every page template may use: the viewer, its CSRF token, link builder, helpers, jobs. */
function viewLocals(mode: WebOptions['mode'], csrfToken: (v: Viewer) => string, jobs: JobRegistry): RequestHandler {
  return (_req, res, next) => {
    const v = res.locals.viewer as Viewer;
    res.locals.csrf = csrfToken(v);
    res.locals.url = (route: string, params: UrlParams = {}) => makeUrl({ mode, securityToken: v.securityToken }, route, params);
    // WHM's own pages (the breadcrumb inside WHM's chrome), under the session's security token.
    res.locals.whmUrl = (path: string) => `${v.securityToken}${path}`;
    res.locals.h = helpers;
    res.locals.mode = mode;
    res.locals.user = v.user;
    // Root-only links (Settings, Rescan, alert acknowledgement) are drawn for root only.
    res.locals.isRoot = v.who.kind === 'root';
    res.locals.activeJobs = jobs.active();
    next();
  };
}
