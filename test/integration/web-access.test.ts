import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_ACCESS } from '../../src/web/access.js';
import { createWebApp } from '../../src/web/app.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, testServices, type DemoFixture, type Reply } from './web-fixture.js';

/**
 * The web app's authorization layer (issue 28), fuzzed over every route with three identities
 * behind WHM's shim: root (everything), a reseller `res1` owning the accounts bravo and foxtrot
 * (their domains only; settings and server-wide actions refused), and a plain account `alpha`
 * (the WHM plugin refuses it: account owners have the cPanel page). The reseller's answers must
 * never name a domain of another account, and another account's domain must be answered
 * exactly like a domain that does not exist.
 */
let fx: DemoFixture;
let srv: RunningServer;
let sock: string;
const TOKEN = '/cpsess0123456789';
let mine: string[] = [];
let others: string[] = [];

const ask = (user: string, method: string, path: string, form?: Record<string, string | string[]>): Promise<Reply> =>
  http({ socketPath: sock }, method, path, { headers: { 'x-tlsa-remote-user': user, 'x-tlsa-security-token': TOKEN, accept: 'text/html' }, ...(form ? { form } : {}) });

beforeAll(async () => {
  fx = await demoFixture();
  // A reseller as cPanel keeps one: a `name:privileges` line in /var/cpanel/resellers
  // (Cpanel/Reseller.pm) and OWNER=<reseller> in its accounts' users files (Cpanel/AcctUtils/Owner.pm).
  writeFileSync(join(fx.root, 'var/cpanel/resellers'), 'res1:list-accts,create-acct\n');
  writeFileSync(join(fx.root, 'var/cpanel/users/res1'), 'DNS=\nOWNER=root\nUSER=res1\n');
  for (const user of ['bravo', 'foxtrot']) {
    const f = join(fx.root, 'var/cpanel/users', user);
    writeFileSync(f, readFileSync(f, 'utf8').replace(/^OWNER=root$/m, 'OWNER=res1'));
  }
  const byUser = new Map(fx.manifest.accounts.map((a) => [a.user, a.domains]));
  mine = [...(byUser.get('bravo') ?? []), ...(byUser.get('foxtrot') ?? [])];
  others = fx.manifest.accounts.filter((a) => a.user !== 'bravo' && a.user !== 'foxtrot').flatMap((a) => a.domains);
  expect(mine.length).toBeGreaterThan(1);
  expect(others.length).toBeGreaterThan(5);
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  sock = join(fx.dir, 'run', 'web.sock');
  const ctx = fx.context();
  srv = await startServer(ctx, { kind: 'socket', path: sock }, { services: testServices(ctx) });
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

/** Every route express has, as `METHOD /path` (nested routers included). */
function appRoutes(): string[] {
  const { app } = createWebApp(fx.context(), { mode: 'socket', services: testServices(fx.context()) });
  const out: string[] = [];
  const walk = (stack: { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) => {
    for (const layer of stack) {
      if (layer.route) for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${layer.route.path}`);
      else if (layer.handle?.stack) walk(layer.handle.stack as never);
    }
  };
  walk((app as unknown as { router: { stack: never[] } }).router.stack);
  return [...new Set(out)].sort();
}

/** A page with its per-response CSP nonce blanked, so two answers compare by content. */
const same = (body: string, name: string) => body.split(name).join('X').replace(/nonce="[^"]*"/g, 'nonce=""');

/** A domain name standing alone in a text (not part of a longer name). */
const names = (text: string, domain: string) => new RegExp(`(?<![a-z0-9.-])${domain.replace(/\./g, '\\.')}(?![a-z0-9-])`, 'i').test(text);

describe('one rule per route (issue 28)', () => {
  it('every route of the app has an entry in ROUTE_ACCESS, and every entry names a route', () => {
    const routes = appRoutes();
    expect(routes.length).toBeGreaterThan(15);
    expect(routes.filter((r) => !(r in ROUTE_ACCESS)), 'routes without a rule').toEqual([]);
    expect(Object.keys(ROUTE_ACCESS).filter((r) => !routes.includes(r)), 'rules without a route').toEqual([]);
  });
});

describe('three identities over every route', () => {
  it('a plain account and an unknown user are refused by the WHM plugin everywhere', async () => {
    for (const user of ['alpha', 'nosuchuser', 'root2']) {
      for (const key of Object.keys(ROUTE_ACCESS)) {
        const [method, path] = key.split(' ') as [string, string];
        const r = await ask(user, method, path.replace(':domain', 'bravo-demo.test').replace(':action', 'check').replace(':id', '1').replace(':file', 'app.css'));
        expect(r.status, `${user} ${key}`).toBe(403);
        expect(r.body).toContain('TLSA Manager in WHM is for root and resellers.');
      }
    }
  });

  it("the reseller's pages, exports and JSON list its accounts' domains and never another account's", async () => {
    const pages = ['/', '/domains', '/domains?per=500', '/activity', '/jobs', '/export/audit.csv', '/export/audit.json', ...mine.map((d) => `/domains/${d}`)];
    for (const p of pages) {
      const r = await ask('res1', 'GET', p);
      expect(r.status, p).toBe(200);
      for (const d of others) expect(names(r.body, d), `${p} names ${d}`).toBe(false);
    }
    const csv = (await ask('res1', 'GET', '/export/audit.csv')).body;
    for (const d of mine.filter((x) => !x.startsWith('mail.'))) expect(names(csv, d), `csv lists ${d}`).toBe(true);
    // Root sees them all: the check above is not passing because nothing is shown.
    const rootCsv = (await ask('root', 'GET', '/export/audit.csv')).body;
    expect(others.filter((d) => names(rootCsv, d)).length).toBeGreaterThan(5);
  });

  it("another account's domain is answered exactly like a domain that does not exist, on every route that takes a domain", async () => {
    const page = await ask('res1', 'GET', '/domains');
    const csrf = csrfFrom(page.body);
    const probe = async (domain: string) => [
      await ask('res1', 'GET', `/domains/${domain}`),
      await ask('res1', 'POST', `/domains/${domain}/check`, { _csrf: csrf }),
      await ask('res1', 'POST', `/domains/${domain}/publish`, { _csrf: csrf }),
      await ask('res1', 'POST', `/domains/${domain}/takeover`, { _csrf: csrf }),
      await ask('res1', 'POST', '/jobs', { _csrf: csrf, action: 'check', domain }),
      await ask('res1', 'POST', '/jobs', { _csrf: csrf, action: 'publish', domain: [mine[0]!, domain] }),
      await ask('res1', 'POST', '/jobs', { _csrf: csrf, action: 'dnssec-enable', domain }),
    ];
    const missing = await probe('nosuch-demo.test');
    for (const d of others) {
      const got = await probe(d);
      got.forEach((r, i) => {
        expect(r.status, `${d} probe ${i}`).toBe(missing[i]!.status);
        expect(same(r.body, d), `${d} probe ${i}`).toBe(same(missing[i]!.body, 'nosuch-demo.test'));
      });
    }
    expect(missing.every((r) => r.status === 404)).toBe(true);
  });

  it('settings, providers, rescan and alert acknowledgement are root only; root still has them', async () => {
    const csrf = csrfFrom((await ask('res1', 'GET', '/domains')).body);
    for (const [key, access] of Object.entries(ROUTE_ACCESS)) {
      if (access !== 'root') continue;
      const [method, path] = key.split(' ') as [string, string];
      const r = await ask('res1', method, path.replace(':id', '1'), method === 'POST' ? { _csrf: csrf } : undefined);
      expect(r.status, key).toBe(403);
      expect(r.body, key).toContain('Only root may use this part of TLSA Manager.');
    }
    const domains = (await ask('res1', 'GET', '/domains')).body;
    expect(domains).not.toContain('/settings');
    expect((await ask('root', 'GET', '/settings')).status).toBe(200);
  });

  it("a reseller's job is its own: root's job ids answer like unknown ones, and its \"all\" is its own domains", async () => {
    const rootCsrf = csrfFrom((await ask('root', 'GET', '/domains')).body);
    const started = await ask('root', 'POST', '/jobs', { _csrf: rootCsrf, action: 'check', all: '1' });
    expect(started.status).toBe(303);
    const rootJob = /jobs\/([^?&"]+)/.exec(decodeURIComponent(String(started.headers.location)))![1]!;
    const theirs = await ask('res1', 'GET', `/jobs/${rootJob}`);
    const unknown = await ask('res1', 'GET', '/jobs/nosuchjob');
    expect(theirs.status).toBe(404);
    expect(same(theirs.body, rootJob)).toBe(same(unknown.body, 'nosuchjob'));
    expect((await ask('res1', 'GET', `/api/jobs/${rootJob}`)).status).toBe(404);
    const csrf = csrfFrom((await ask('res1', 'GET', '/domains')).body);
    const own = await ask('res1', 'POST', '/jobs', { _csrf: csrf, action: 'check', all: '1' });
    expect(own.status).toBe(303);
    const id = /jobs\/([^?&"]+)/.exec(decodeURIComponent(String(own.headers.location)))![1]!;
    let job: { status: string; total: number } = { status: 'queued', total: 0 };
    for (let i = 0; i < 100 && job.status !== 'done' && job.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = JSON.parse((await http({ socketPath: sock }, 'GET', `/api/jobs/${id}`, { headers: { 'x-tlsa-remote-user': 'res1', 'x-tlsa-security-token': TOKEN } })).body);
    }
    expect(job.status).toBe('done');
    expect(job.total).toBe(mine.length);
    const list = (await ask('res1', 'GET', '/jobs')).body;
    expect(list).not.toContain(rootJob);
  });
});
