/**
 * The web app's one authorization layer (issue 28). Every route has a rule in ROUTE_ACCESS:
 * `root` (settings, providers, server-wide actions) or `scoped` (root sees everything, a reseller
 * the domains of the accounts it owns and its own). A route without a rule is refused for
 * everyone but root, and a test walks the app's routes so none is added without one. Scoped
 * routes read their data through `scopedData`, so a domain outside the scope is answered exactly
 * as a domain that does not exist.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Identity } from '../access/identity.js';
import { scopeOf } from '../access/scope.js';
import { problem, ProblemError } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';
import type { Viewer } from './auth.js';
import type { SnapshotData } from './snapshot.js';

export type Access = 'root' | 'scoped';

/** `METHOD /path/:param` → who may use it. */
export const ROUTE_ACCESS: Record<string, Access> = {
  'GET /': 'scoped',
  'GET /domains': 'scoped',
  'GET /domains/:domain': 'scoped',
  'POST /domains/:domain/:action': 'scoped',
  'POST /jobs': 'scoped',
  'GET /jobs': 'scoped',
  'GET /jobs/:id': 'scoped',
  'GET /api/jobs/:id': 'scoped',
  'GET /activity': 'scoped',
  'GET /export/audit.csv': 'scoped',
  'GET /export/audit.json': 'scoped',
  'GET /static/:file': 'scoped',
  'POST /logout': 'scoped',
  'POST /rescan': 'root',
  'GET /settings': 'root',
  'POST /settings': 'root',
  'POST /settings/providers': 'root',
  'POST /settings/test-cloudflare': 'root',
  'POST /settings/test-provider': 'root',
  'POST /settings/test-alert': 'root',
  'POST /alerts/:id/ack': 'root',
  // Resellers see their domains' MTA-STS panel, but enforce is a server-wide risk (routes/mtasts.ts).
  'POST /domains/:domain/mta-sts/mode': 'root',
};

const patterns = Object.entries(ROUTE_ACCESS).map(([key, access]) => {
  const [method, path] = key.split(' ') as [string, string];
  const re = new RegExp(`^${path.replace(/:[a-z]+/g, '[^/]+')}/?$`);
  return { method, re, access };
});

/** The rule of a request (GET rules also cover HEAD); undefined when no route matches. */
export function accessOf(method: string, path: string): Access | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  return patterns.find((p) => p.method === m && p.re.test(path))?.access;
}

export function viewerOf(res: Response): Identity {
  return (res.locals.viewer as Viewer).who;
}

export function isRoot(res: Response): boolean {
  return viewerOf(res).kind === 'root';
}

/** Refuses what the viewer may not use; unknown paths go on to the 404 (for root) or are refused. */
export function authorize(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (isRoot(res)) return next();
    const access = accessOf(req.method, req.path);
    if (access === 'scoped') return next();
    next(new ProblemError(problem('forbidden', access === 'root' ? 'Only root may use this part of TLSA Manager.' : 'Not found.', { fix: access === 'root' ? 'Settings, providers and server-wide actions are for root: ask the server administrator.' : 'Use the links in TLSA Manager.' })));
  };
}

/**
 * What a viewer sees of the snapshot: everything for root; for a reseller the rows, zones and
 * served names of its accounts' domains only (pending changes and certificates of other accounts
 * included nowhere). Memoised per snapshot and identity: pages ask several times per request.
 */
export function scopedData(root: ServerRoot, d: SnapshotData, who: Identity): SnapshotData {
  if (who.kind === 'root') return d;
  const key = `${who.kind}:${who.name}`;
  let byWho = memo.get(d);
  if (!byWho) memo.set(d, (byWho = new Map()));
  const hit = byWho.get(key);
  if (hit) return hit;
  const scope = scopeOf(root, who);
  const rows = d.rows.filter((r) => scope.sees(r.domain));
  const domains = new Set(rows.map((r) => r.domain));
  const zones = new Set(rows.map((r) => r.zone).filter((z): z is string => !!z));
  // A served name shared with other accounts (the server's hostname) is shown with this scope's domains only.
  const endpoints = d.plan.scan.endpoints.filter((e) => e.domains.some((x) => domains.has(x))).map((e) => ({ ...e, domains: e.domains.filter((x) => domains.has(x)) }));
  const hosts = new Set(endpoints.map((e) => e.host));
  const view: SnapshotData = {
    ...d,
    rows,
    byDomain: new Map(rows.map((r) => [r.domain, r])),
    checks: new Map([...d.checks].filter(([domain]) => domains.has(domain))),
    owners: [...new Set(rows.map((r) => r.owner))].sort(),
    providers: [...new Set(rows.map((r) => r.provider).filter((p): p is string => !!p))].sort(),
    dnssec: new Map([...d.dnssec].filter(([zone]) => zones.has(zone))),
    mtaSts: new Map([...d.mtaSts].filter(([domain]) => domains.has(domain))),
    stsChecks: new Map([...d.stsChecks].filter(([domain]) => domains.has(domain))),
    plan: {
      ...d.plan,
      zones: d.plan.zones.filter((z) => zones.has(z.zone)),
      refused: d.plan.refused.filter((z) => zones.has(z.zone)),
      unmanaged: d.plan.unmanaged.filter((u) => hosts.has(u.host)),
      problems: d.plan.problems.filter((p) => !!p.subject && (domains.has(p.subject) || zones.has(p.subject))),
      scan: {
        ...d.plan.scan,
        domains: d.plan.scan.domains.filter((x) => domains.has(x.domain)),
        endpoints,
        problems: d.plan.scan.problems.filter((p) => !!p.subject && domains.has(p.subject)),
      },
    },
  };
  byWho.set(key, view);
  return view;
}

const memo = new WeakMap<SnapshotData, Map<string, SnapshotData>>();

/** Whether an activity entry or alert is about something in the viewer's data (its zone or subject). */
export function mentionsScope(d: SnapshotData, zone: string | null, subject: string | null): boolean {
  if (zone && d.rows.some((r) => r.zone === zone)) return true;
  return !!subject && d.byDomain.has(subject);
}
