import express, { type NextFunction, type Request, type Response } from 'express';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { AppContext } from '../context.js';
import { VERDICTS } from '../dane/verdict.js';
import { ProblemError, problem, toProblem, type Problem } from '../problem.js';
import { auditCsv } from '../report/audit.js';
import { saveConfig, redactConfig } from '../state/config.js';
import { formatRecord } from '../tlsa/types.js';
import {
  cameViaSocket,
  Csrf,
  newLoginToken,
  parseCookies,
  secretEquals,
  SECURITY_TOKEN_HEADER,
  SESSION_COOKIE,
  sessionCookie,
  Sessions,
  USER_HEADER,
  validSecurityToken,
} from './auth.js';
import { domainDetail } from './detail.js';
import { JobRegistry, jobJson, type Job } from './jobs.js';
import { listRows, PAGE_SIZES, parseListQuery, queryParams, SORT_KEYS, TLSA_STATES } from './list-query.js';
import { domainParam, formList, formString } from './params.js';
import { securityHeaders } from './security.js';
import { defaultServices, type WebServices } from './services.js';
import { configFromForm, formValues, PROVIDER_CHOICES, RECORD_CHOICES, valuesFromBody, type SettingsFormValues } from './settings-form.js';
import { CATEGORIES, Snapshot, type Category, type SnapshotData } from './snapshot.js';
import { makeUrl, rewriteRoute, type UrlParams } from './urls.js';
import * as helpers from './view-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
/** views/ and public/ sit at the package root, two levels above both src/web and dist/web. */
export const VIEWS_DIR = join(here, '..', '..', 'views');
export const PUBLIC_DIR = join(here, '..', '..', 'public');

export interface WebOptions {
  mode: 'standalone' | 'socket';
  /** Standalone login token; generated when absent. */
  loginToken?: string;
  services?: WebServices;
  /** Set the Secure flag on the session cookie (behind TLS). */
  secureCookie?: boolean;
}

export interface WebApp {
  app: express.Express;
  snapshot: Snapshot;
  jobs: JobRegistry;
  loginToken: string;
  services: WebServices;
}

interface Viewer {
  user: string;
  /** What CSRF tokens are bound to. */
  sessionKey: string;
  securityToken: string;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;

/** Express 5 forwards rejected promises to the error handler; this keeps handler types tidy. */
const h = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => Promise.resolve(fn(req, res)).catch(next);

/**
 * Build the web app for a context. Nothing is scanned until the first page asks for data (or
 * `snapshot.refresh()` is called), so a benchmark can build the app and time pages separately.
 */
export function createWebApp(ctx: AppContext, opts: WebOptions): WebApp {
  const services = opts.services ?? defaultServices(ctx);
  const snapshot = new Snapshot({ plan: () => services.plan(), checks: () => ctx.state().latestChecks() });
  const jobs = new JobRegistry();
  const sessions = new Sessions();
  const csrf = new Csrf();
  const loginToken = opts.loginToken ?? newLoginToken();
  const app = express();
  const loginCss = readFileSync(join(PUBLIC_DIR, 'app.css'), 'utf8');

  app.disable('x-powered-by');
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');
  app.set('view cache', true);
  app.set('query parser', 'simple');
  app.set('etag', false);

  // 1. `?route=` routing (the WHM CGI) before anything looks at the path.
  app.use((req, _res, next) => {
    const r = rewriteRoute(req.url);
    if (r === null) return next(new ProblemError(problem('bad-request', 'The route parameter is not a valid page path.')));
    if (r !== undefined) req.url = r;
    next();
  });
  app.use(securityHeaders);
  app.use(express.urlencoded({ extended: false, limit: '200kb', parameterLimit: 20_000 }));
  app.use(express.json({ limit: '200kb' }));

  // 2. Who is asking.
  const viewerOf = (req: Request): Viewer | Problem => {
    if (opts.mode === 'socket') {
      if (!cameViaSocket(req)) return problem('forbidden', 'This service only answers requests that come through the WHM plugin.', { fix: 'Open TLSA Manager from WHM » Plugins.' });
      const user = req.headers[USER_HEADER];
      if (user !== 'root') return problem('forbidden', 'Only root may use TLSA Manager.', { fix: 'Log in to WHM as root.' });
      const securityToken = validSecurityToken(req.headers[SECURITY_TOKEN_HEADER]);
      return { user, sessionKey: `whm|${user}|${securityToken}`, securityToken };
    }
    const session = sessions.get(parseCookies(req.headers.cookie).get(SESSION_COOKIE));
    if (!session) return problem('unauthorized', 'Sign in with the login link printed when the server started.');
    return { user: session.user, sessionKey: `session|${session.id}`, securityToken: '' };
  };

  const urlFor = (securityToken: string) => (route: string, params: UrlParams = {}) => makeUrl({ mode: opts.mode, securityToken }, route, params);

  // 3. Login (standalone only): the one page open without a session.
  const loginPage = (res: Response, status: number, message: string) => {
    res.status(status).render('login', { nonce: res.locals.nonce, css: loginCss, message, action: '/login' });
  };
  if (opts.mode === 'standalone') {
    const login = (given: unknown, res: Response) => {
      if (typeof given !== 'string' || !secretEquals(given, loginToken)) return loginPage(res, 401, given === undefined ? '' : 'That login token is not valid. Use the link printed when the server started.');
      const s = sessions.create('admin');
      res.setHeader('Set-Cookie', sessionCookie(s.id, { secure: opts.secureCookie === true }));
      ctx.logger.info({ user: s.user }, 'web login');
      res.redirect(303, '/');
    };
    app.get('/login', (req, res) => (req.query.token === undefined ? loginPage(res, 200, '') : login(req.query.token, res)));
    app.post('/login', (req, res) => login(req.body?.token ?? '', res));
  }

  app.use((req, res, next) => {
    const v = viewerOf(req);
    if ('code' in v) {
      const wantsHtml = req.method === 'GET' && !req.path.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
      if (opts.mode === 'standalone' && wantsHtml) return res.redirect(303, '/login');
      return res.status(v.code === 'forbidden' ? 403 : 401).type('text/plain').send(`${v.message}${v.fix ? ` ${v.fix}` : ''}\n`);
    }
    res.locals.viewer = v;
    res.locals.csrf = csrf.tokenFor(v.sessionKey);
    res.locals.url = urlFor(v.securityToken);
    res.locals.h = helpers;
    res.locals.mode = opts.mode;
    res.locals.user = v.user;
    res.locals.activeJobs = jobs.active();
    next();
  });

  // 4. CSRF: every POST carries the token bound to this session.
  app.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    const given = req.body?._csrf ?? req.headers['x-csrf-token'];
    const v = res.locals.viewer as Viewer;
    if (req.method !== 'POST' || !csrf.verify(v.sessionKey, given)) {
      res.status(403).type('text/plain').send('The form has expired or did not come from this page (CSRF check failed). Reload the page and try again.\n');
      return;
    }
    next();
  });

  app.get('/static/:file', (req, res, next) => {
    const file = String(req.params.file);
    if (!/^[a-z0-9-]+\.(css|js|svg)$/.test(file)) return next();
    res.setHeader('Cache-Control', 'private, max-age=300');
    res.sendFile(file, { root: PUBLIC_DIR, dotfiles: 'deny' }, (err) => err && next());
  });

  const render = (res: Response, view: string, title: string, nav: string, locals: Record<string, unknown> = {}) => {
    res.render(view, { title, nav, nonce: res.locals.nonce, ...locals });
  };
  const redirect = (res: Response, route: string, params: UrlParams = {}) => res.redirect(303, (res.locals.url as ReturnType<typeof urlFor>)(route, params));
  const actor = (res: Response) => `web:${(res.locals.viewer as Viewer).user}`;
  const data = () => snapshot.get();

  // ---- pages ---------------------------------------------------------------------------

  app.get(
    '/',
    h(async (_req, res) => {
      const d = await data();
      const counts = Object.fromEntries(Object.keys(CATEGORIES).map((c) => [c, 0])) as Record<Category, number>;
      for (const r of d.rows) counts[r.category]++;
      const state = ctx.state();
      render(res, 'overview', 'Overview', 'overview', {
        d,
        chart: helpers.barChart(counts),
        counts,
        renewing: renewingSoon(d, ctx.now()),
        activity: state.activity({ limit: 8 }),
        selfTest: parseJson(state.getMeta('resolverSelfTest')),
        lastReconcile: state.getMeta('lastReconcile'),
        pendingChanges: d.plan.zones.reduce((n, z) => n + z.changes.length, 0),
      });
    }),
  );

  app.get(
    '/domains',
    h(async (req, res) => {
      const d = await data();
      const q = parseListQuery(req.query as Record<string, unknown>);
      const page = listRows(d.rows, q);
      render(res, 'domains', 'Domains', 'domains', { d, q, page, queryParams, SORT_KEYS, PAGE_SIZES, TLSA_STATES, CATEGORIES, VERDICTS });
    }),
  );

  app.get(
    '/domains/:domain',
    h(async (req, res) => {
      const domain = domainParam(req.params.domain);
      const d = await data();
      const detail = await domainDetail(d, domain, ctx.config, services);
      if (!detail) throw new ProblemError(problem('not-found', `${domain} is not a domain on this server.`, { fix: 'Pick a domain from the list; press Rescan if it was added just now.' }));
      const jobId = formString(req.query.job);
      render(res, 'domain', domain, 'domains', { detail, job: jobId ? jobs.get(jobId) ?? null : null, formatRecord, VERDICTS });
    }),
  );

  /** Start a publish or check job for the given domains (all when none are given). */
  const startJob = (kind: 'check' | 'publish', domains: string[] | undefined, who: string): Job => {
    const label = `${kind === 'check' ? 'Check' : 'Publish'} ${domains ? (domains.length === 1 ? domains[0] : `${domains.length} domains`) : 'all domains'}`;
    if (kind === 'check') {
      return jobs.start('check', label, who, domains ?? [], async (progress) => {
        const d = await data();
        const list = domains ?? d.rows.filter((r) => r.tlsa !== 'not-ours').map((r) => r.domain);
        progress(0, list.length);
        const results = await services.check(list, progress);
        snapshot.refreshChecks();
        const ok = results.filter((r) => r.verdict === 'valid' || r.verdict === 'expiring').length;
        return { summary: `${results.length} domain(s) checked: ${ok} valid, ${results.length - ok} not.` };
      });
    }
    return jobs.start('publish', label, who, domains ?? [], async (progress) => {
      progress(0, 2);
      const { plan, results } = await services.publish(domains, who);
      progress(1, 2);
      await snapshot.refresh();
      progress(2, 2);
      const applied = results.reduce((n, r) => n + r.applied.length, 0);
      const failed = results.filter((r) => r.problem);
      const problems: Problem[] = [
        ...failed.map((r) => ({ ...r.problem!, subject: r.zone })),
        ...plan.zones.filter((z) => z.blocked).map((z) => z.blocked!),
      ];
      const summary =
        results.length === 0
          ? 'Everything was already in sync; nothing to change.'
          : `${applied} change(s) applied in ${results.length - failed.length} zone(s)${failed.length ? `; ${failed.length} zone(s) failed and were left unchanged` : ''}.`;
      return { summary, problems };
    });
  };

  const knownDomains = async (raw: unknown): Promise<string[]> => {
    const d = await data();
    const names = formList(raw).map((x) => domainParam(x));
    for (const n of names) if (!d.byDomain.has(n)) throw new ProblemError(problem('not-found', `${n} is not a domain on this server.`));
    return [...new Set(names)];
  };

  app.post(
    '/domains/:domain/:action',
    h(async (req, res) => {
      const domain = domainParam(req.params.domain);
      const action = String(req.params.action);
      if (action !== 'publish' && action !== 'check') throw new ProblemError(problem('not-found', 'No such action.'));
      const [name] = await knownDomains(domain);
      const job = startJob(action, [name!], actor(res));
      redirect(res, `/domains/${domain}`, { job: job.id });
    }),
  );

  app.post(
    '/jobs',
    h(async (req, res) => {
      const action = formString(req.body?.action);
      if (action !== 'publish' && action !== 'check') throw new ProblemError(problem('bad-request', 'Choose "Check" or "Publish".'));
      const all = formString(req.body?.all) === '1';
      const domains = all ? undefined : await knownDomains(req.body?.domain);
      if (domains && domains.length === 0) throw new ProblemError(problem('bad-request', 'No domains were selected.', { fix: 'Tick the domains to act on, or use the "all" buttons.' }));
      const job = startJob(action, domains, actor(res));
      redirect(res, `/jobs/${job.id}`);
    }),
  );

  app.post(
    '/rescan',
    h(async (_req, res) => {
      const job = jobs.start('rescan', 'Rescan the server', actor(res), [], async (progress) => {
        progress(0, 1);
        const d = await snapshot.refresh();
        progress(1, 1);
        return { summary: `${d.rows.length} domain(s) scanned in ${d.buildMs} ms.` };
      });
      redirect(res, `/jobs/${job.id}`);
    }),
  );

  app.get('/jobs', (_req, res) => render(res, 'jobs', 'Jobs', 'jobs', { list: jobs.list() }));
  app.get('/jobs/:id', (req, res, next) => {
    const job = jobs.get(String(req.params.id));
    if (!job) return next(new ProblemError(problem('not-found', 'That job is not known (jobs are kept until the service restarts).')));
    render(res, 'job', job.label, 'jobs', { job });
  });
  app.get('/api/jobs/:id', (req, res) => {
    const job = jobs.get(String(req.params.id));
    if (!job) return void res.status(404).json({ error: 'no such job' });
    res.json(jobJson(job));
  });

  app.get('/activity', (req, res) => {
    const kind = formString(req.query.kind);
    const search = formString(req.query.q).slice(0, 200);
    const page = Math.max(1, Number(formString(req.query.page)) || 1);
    const per = 100;
    const list = ctx.state().activity({ limit: per + 1, offset: (page - 1) * per, ...(kind ? { kind } : {}), ...(search ? { search } : {}) });
    render(res, 'activity', 'Activity', 'activity', { list: list.slice(0, per), more: list.length > per, page, kind, search, kinds: ['create', 'delete', 'apply-failed', 'check', 'hook', 'reconcile', 'settings'] });
  });

  app.get(
    '/export/audit.csv',
    h(async (_req, res) => {
      const d = await data();
      res.type('text/csv; charset=utf-8').attachment('tlsa-audit.csv').send(auditCsv(d.rows.map(auditOnly)));
    }),
  );
  app.get(
    '/export/audit.json',
    h(async (_req, res) => {
      const d = await data();
      res.attachment('tlsa-audit.json').type('application/json').send(JSON.stringify(d.rows.map(auditOnly), null, 2));
    }),
  );

  // ---- settings ------------------------------------------------------------------------

  const settingsPage = (res: Response, values: SettingsFormValues, extra: Record<string, unknown> = {}) =>
    render(res, 'settings', 'Settings', 'settings', { values, PROVIDER_CHOICES, RECORD_CHOICES, configPath: ctx.configPath, saved: false, error: null, test: null, ...extra });

  app.get('/settings', (req, res) => settingsPage(res, formValues(ctx.config), { saved: formString(req.query.saved) === '1' }));

  app.post(
    '/settings',
    h(async (req, res) => {
      let result;
      try {
        result = configFromForm(req.body ?? {}, ctx.config);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        res.status(400);
        return settingsPage(res, valuesFromBody(req.body ?? {}, ctx.config), { error: err.problem });
      }
      saveConfig(ctx.configPath, result.config);
      ctx.config = result.config;
      ctx.state().logActivity({ actor: actor(res), kind: 'settings', zone: null, subject: 'settings', detail: result.changed.length ? `Changed: ${result.changed.join(', ')}.` : 'Saved without changes.', ok: true });
      ctx.logger.info({ config: redactConfig(result.config) }, 'settings saved');
      // Zones, policy, resolver and addresses all change what the scan finds.
      if (result.changed.length > 0) snapshot.refresh().catch(() => undefined);
      redirect(res, '/settings', { saved: 1 });
    }),
  );

  app.post(
    '/settings/test-cloudflare',
    h(async (req, res) => {
      const token = ctx.config.cloudflare.apiToken ?? process.env.CLOUDFLARE_API_TOKEN;
      const zoneRaw = formString(req.body?.testZone).trim();
      const zone = zoneRaw ? domainParam(zoneRaw, 'zone') : undefined;
      const test = token
        ? await services.testCloudflareToken(token, zone)
        : { ok: false, summary: 'No Cloudflare token is saved.', problems: [problem('cloudflare-no-token', 'No Cloudflare token is saved.', { fix: 'Enter a token and save, then test it.' })] };
      settingsPage(res, formValues(ctx.config), { test });
    }),
  );

  app.post('/logout', (req, res) => {
    const id = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (id) sessions.destroy(id);
    res.setHeader('Set-Cookie', sessionCookie('', { secure: opts.secureCookie === true, clear: true }));
    res.redirect(303, opts.mode === 'standalone' ? '/login' : (res.locals.url as ReturnType<typeof urlFor>)('/'));
  });

  // ---- errors --------------------------------------------------------------------------

  app.use((req: Request, _res: Response, next: NextFunction) => next(new ProblemError(problem('not-found', 'There is no page here.', { fix: 'Use the navigation above.' }))));
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const p = toProblem(err, 'internal');
    const status = statusFor(p.code, err);
    if (status >= 500) ctx.logger.error({ code: p.code, path: req.path }, p.message);
    const msg = status >= 500 && !(err instanceof ProblemError) ? { ...p, message: 'Something went wrong while building this page.', fix: 'See the service log (journalctl -u tlsa-manager) and try again.' } : p;
    res.status(status);
    if (!res.locals.viewer || req.path.startsWith('/api/')) return void res.type('text/plain').send(`${msg.message}${msg.fix ? ` ${msg.fix}` : ''}\n`);
    res.render('error', { title: status === 404 ? 'Not found' : 'Error', nav: '', nonce: res.locals.nonce, problem: msg, status });
  });

  return { app, snapshot, jobs, loginToken, services };
}

function statusFor(code: string, err: unknown): number {
  if (code === 'not-found') return 404;
  if (code === 'name-invalid' || code === 'bad-request' || code === 'settings-invalid') return 400;
  const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return status;
  return 500;
}

/** The export has the same columns as `tlsa-manager audit`: drop the list page's extra fields. */
function auditOnly(r: SnapshotData['rows'][number]) {
  const { category: _c, dnssec: _d, haystack: _h, ...row } = r;
  return row;
}

function parseJson(s: string | null): Record<string, unknown> | null {
  if (!s) return null;
  try {
    return JSON.parse(s) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Served certificates that expire within 30 days (or already have), soonest first. */
function renewingSoon(d: SnapshotData, now: number) {
  const limit = now + 30 * 86_400_000;
  return d.plan.scan.endpoints
    .flatMap((e) => {
      const leaf = e.served?.chain[0];
      return leaf && leaf.notAfter.getTime() < limit ? [{ host: e.host, notAfter: leaf.notAfter.toISOString(), source: e.served!.source, domains: e.domains.length }] : [];
    })
    .sort((a, b) => (a.notAfter < b.notAfter ? -1 : 1))
    .slice(0, 20);
}
