import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_PATH, loadConfig, saveConfig } from '../../src/state/config.js';
import { MtaStsStore } from '../../src/mtasts/store.js';
import { MtaStsChecks } from '../../src/mtasts/checks-store.js';
import { policyId, policyText } from '../../src/mtasts/policy.js';
import type { StsStatus } from '../../src/mtasts/status.js';
import { problem } from '../../src/problem.js';
import { tlsrptStore } from '../../src/tlsrpt/store.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, signedIn, testServices, waitForJob, type DemoFixture } from './web-fixture.js';
import { defaultServices } from '../../src/web/services.js';

/**
 * Issue 27 §6 on the pages: the MTA-STS column and filter of the domain list, the overview's
 * counts, the domain page's panel (mode and since, the policy as served, the _mta-sts record,
 * the latest check with the certificate of mta-sts.<domain>, each MX and the problems with their
 * fixes) and its mode switch (root only, CSRF, through WebServices). Stored modes and check
 * results are seeded the way the serve step and the timer store them.
 */
let fx: DemoFixture;
let srv: RunningServer;
let resellerSrv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
let sock: string;
const TOKEN = 'web-mta-sts-token';
const HOSTILE = '<script>alert(1)</script>';
const html = () => ({ cookie, accept: 'text/html' });
const get = async (path: string) => (await http({ port }, 'GET', path, { headers: html() })).body;
const post = (path: string, form: Record<string, string>) => http({ port }, 'POST', path, { headers: { cookie }, form });
const asReseller = (method: string, path: string, form?: Record<string, string>) =>
  http({ socketPath: sock }, method, path, { headers: { 'x-tlsa-remote-user': 'res1', 'x-tlsa-security-token': '/cpsess0123456789', accept: 'text/html' }, ...(form ? { form } : {}) });
const DAY = 86_400_000;
/** h.dateTime's form. */
const shown = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
let stretchStartShown = '';
let enforceAtShown = '';
const settings = { maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false };
const store = () => new MtaStsStore(fx.context().state().db);
/** The list's rows as "domain state" pairs, from the table body. */
const listed = (page: string) => [...page.matchAll(/<tr>\s*<td class="cb"><input type="checkbox" name="domain" value="([^"]+)"[\s\S]*?<span class="sts s-([a-z]+)">/g)].map((m) => `${m[1]} ${m[2]}`);

function status(domain: string, over: Partial<StsStatus>): StsStatus {
  return { domain, state: 'testing', id: null, policy: null, served: true, mx: [], problems: [], ...over };
}

beforeAll(async () => {
  fx = await demoFixture();
  const configFile = join(fx.root, CONFIG_PATH);
  saveConfig(configFile, { ...loadConfig(configFile), mtaSts: { ...loadConfig(configFile).mtaSts, publish: ['alpha-demo.test', 'bravo-demo.test', 'charlie-demo.test', 'foxtrot-demo.test'], autoEnforce: { enabled: true, afterDays: 14 } } });
  const ctx = fx.context();
  const st = new MtaStsStore(ctx.state().db);
  const checks = new MtaStsChecks(ctx.state().db);
  const t0 = Date.parse('2026-11-20T08:00:00Z');
  const stretchStart = Date.now() - 4 * DAY - 3_600_000;
  const alphaText = policyText('testing', ['alpha-demo.test'], settings)!;
  st.ensure('alpha-demo.test', 'testing', '2026-11-20T08:00:00.000Z');
  st.markServed('alpha-demo.test', alphaText, policyId(alphaText), '2026-11-20T08:01:00.000Z');
  const alphaSeen = status('alpha-demo.test', { id: policyId(alphaText), policy: { mode: 'testing', mx: ['alpha-demo.test'], maxAge: 86400 }, certificate: { subject: 'CN=mta-sts.alpha-demo.test', issuer: 'CN=Demo R10', notAfter: '2027-02-01T00:00:00.000Z' }, mx: [{ host: 'alpha-demo.test', address: '192.0.2.10', covered: true, certificateValid: true }] });
  checks.record(alphaSeen, t0 + 3600_000);
  // Auto-enforce's evidence: after a gap of days, clean daily checks for 4 days up to an hour ago, and
  // one signed sts report from a sender whose name is markup.
  for (let day = 4; day >= 0; day--) checks.record(alphaSeen, stretchStart + (4 - day) * DAY);
  tlsrptStore(ctx).add({ reportId: 'r-1', organization: `Mail${HOSTILE}Org`, contact: null, start: stretchStart, end: stretchStart + DAY, signer: 'sender.test', authenticated: true, policiesCut: 0, policies: [{ policyType: 'sts', policyDomain: 'alpha-demo.test', mxHosts: ['alpha-demo.test'], successful: 42, failed: 0, results: [], samples: [] }] }, stretchStart + DAY + 60_000);
  st.ensure('bravo-demo.test', 'enforce', '2026-11-25T09:00:00.000Z');
  // charlie: enforce, and the latest check finds it broken, with names and a subject an attacker chose.
  st.ensure('charlie-demo.test', 'enforce', '2026-11-26T10:00:00.000Z');
  checks.record(status('charlie-demo.test', { state: 'enforce' }), t0);
  checks.record(
    status('charlie-demo.test', {
      state: 'broken',
      id: 'abc123',
      policy: { mode: 'enforce', mx: ['server.demo-host.test'], maxAge: 1209600 },
      certificate: { subject: `CN=${HOSTILE}`, issuer: `O="><img src=x onerror=alert(2)>`, notAfter: '2027-01-01T00:00:00.000Z' },
      mx: [{ host: 'server.demo-host.test', address: '192.0.2.10', covered: true, certificateValid: false, detail: `self-signed certificate ${HOSTILE}` }],
      problems: [problem('mta-sts-mx-certificate-invalid', `The certificate server.demo-host.test presents is not valid for MTA-STS senders: ${HOSTILE}.`, { subject: 'charlie-demo.test', fix: 'Install a certificate from a public CA for server.demo-host.test on Exim.' })],
    }),
    t0 + 7200_000,
  );
  stretchStartShown = shown(stretchStart);
  enforceAtShown = shown(stretchStart + 14 * DAY);
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
  csrf = csrfFrom(await get('/'));

  // A reseller owning bravo (Cpanel/Reseller.pm's resellers file, OWNER= in the users file), behind the WHM shim.
  writeFileSync(join(fx.root, 'var/cpanel/resellers'), 'res1:list-accts\n');
  writeFileSync(join(fx.root, 'var/cpanel/users/res1'), 'DNS=\nOWNER=root\nUSER=res1\n');
  const f = join(fx.root, 'var/cpanel/users/bravo');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/^OWNER=root$/m, 'OWNER=res1'));
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  sock = join(fx.dir, 'run', 'web.sock');
  const rctx = fx.context();
  resellerSrv = await startServer(rctx, { kind: 'socket', path: sock }, { services: testServices(rctx) });
});

afterAll(async () => {
  await srv?.close();
  await resellerSrv?.close();
  fx?.cleanup();
});

describe('MTA-STS in the domain list and the overview', () => {
  it('shows each domain’s state: the stored mode, broken when the latest check says so, off without one', async () => {
    const rows = listed(await get('/domains?per=200'));
    expect(rows).toContain('alpha-demo.test testing');
    expect(rows).toContain('bravo-demo.test enforce');
    expect(rows).toContain('charlie-demo.test broken');
    expect(rows).toContain('foxtrot-demo.test off');
    expect(rows).toContain('delta-demo.test off');
  });

  it('filters by state; an unknown state is ignored', async () => {
    expect(listed(await get('/domains?sts=broken'))).toEqual(['charlie-demo.test broken']);
    expect(listed(await get('/domains?sts=enforce'))).toEqual(['bravo-demo.test enforce']);
    expect(listed(await get('/domains?sts=testing'))).toEqual(['alpha-demo.test testing']);
    const off = listed(await get('/domains?sts=off&per=200'));
    expect(off.length).toBeGreaterThan(5);
    expect(off.every((r) => r.endsWith(' off'))).toBe(true);
    const all = await get('/domains?sts=%3Cx%3E&per=200');
    expect(listed(all).length).toBe(listed(await get('/domains?per=200')).length);
    expect(all).toContain('<option value="broken">MTA-STS broken</option>');
  });

  it('the audit export carries the stored mode (mtaSts), as tlsa-manager audit does, and not the list state', async () => {
    const rows = JSON.parse((await http({ port }, 'GET', '/export/audit.json', { headers: { cookie } })).body) as Record<string, unknown>[];
    const of = (d: string) => rows.find((r) => r.domain === d)!;
    expect([of('alpha-demo.test').mtaSts, of('charlie-demo.test').mtaSts, of('delta-demo.test').mtaSts]).toEqual(['testing', 'enforce', 'off']);
    expect(rows.every((r) => !('sts' in r) && !('haystack' in r))).toBe(true);
  });

  it('counts the states on the overview, each linked to the filtered list', async () => {
    const o = await get('/');
    const panel = o.slice(o.indexOf('id="mta-sts-counts"'), o.indexOf('</section>', o.indexOf('id="mta-sts-counts"')));
    for (const [state, n] of [['testing', 1], ['enforce', 1], ['broken', 1]] as const) expect(panel).toContain(`<a href="/domains?sts=${state}">${n} domain</a>`);
    expect(panel).toMatch(/<a href="\/domains\?sts=off">\d+ domains<\/a>/);
  });
});

describe('the MTA-STS panel of the domain page', () => {
  it('shows the mode and since when, the policy as served, the record, and the latest check', async () => {
    const p = await get('/domains/alpha-demo.test');
    expect(p).toContain('<section class="panel" id="mta-sts">');
    expect(p).toContain('testing since 2026-11-20 08:00');
    expect(p).toContain(`<pre class="zonelines sts-policy">version: STSv1`);
    expect(p).toContain('mx: alpha-demo.test');
    expect(p).toContain('CN=mta-sts.alpha-demo.test');
    expect(p).toMatch(/<td class="mono">alpha-demo.test<\/td><td>192.0.2.10<\/td><td><span class="badge ok">covered<\/span><\/td><td><span class="badge ok">valid<\/span>/);
    expect(p).toContain('action="/domains/alpha-demo.test/mta-sts/mode"');
    expect(p).toContain('<button class="btn small" name="mode" value="testing" disabled>Testing</button>');
    // Auto-enforce: the countdown from the first clean check after the gap, and the evidence.
    expect(p).toContain(`<strong>Enforce at ${enforceAtShown}</strong> (in 10 days), if the evidence holds.`);
    expect(p).toContain(`Clean since</dt><dd>${stretchStartShown} · 5 clean check(s)`);
    expect(p).toContain('1 authenticated MTA-STS report(s) from Mail&lt;script&gt;alert(1)&lt;/script&gt;Org: 42 successful, 0 failed session(s)');
    expect(p).not.toContain(HOSTILE);
    // No mode kept yet, opted in: it says what it starts in.
    expect(await get('/domains/foxtrot-demo.test')).toContain('none yet (starts in testing at the next run)');
    // Not opted in, nothing stored, never checked: no panel.
    expect(await get('/domains/delta-demo.test')).not.toContain('id="mta-sts"');
  });

  it('escapes a hostile certificate subject, issuer, MX detail and problem text', async () => {
    const p = await get('/domains/charlie-demo.test');
    expect(p).toContain('<span class="sts s-broken">Broken</span>');
    expect(p).not.toContain(HOSTILE);
    expect(p).not.toContain('<img src=x');
    expect(p).toContain('CN=&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(p).toContain('O=&#34;&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(p).toContain('self-signed certificate &lt;script&gt;');
    expect(p).toContain('Fix: Install a certificate from a public CA for server.demo-host.test on Exim.');
  });
});

describe('the mode switch', () => {
  const mode = (domain: string) => store().get(domain)?.mode ?? null;

  it('refuses without the CSRF token, an unknown mode, or a domain MTA-STS is not published for, and changes nothing', async () => {
    expect((await http({ port }, 'POST', '/domains/alpha-demo.test/mta-sts/mode', { headers: { cookie }, form: { mode: 'enforce' } })).status).toBe(403);
    expect(mode('alpha-demo.test')).toBe('testing');
    const bad = await post('/domains/alpha-demo.test/mta-sts/mode', { _csrf: csrf, mode: `x${HOSTILE}` });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('The MTA-STS mode is either testing or enforce.');
    expect(mode('alpha-demo.test')).toBe('testing');
    const notOpted = await post('/domains/delta-demo.test/mta-sts/mode', { _csrf: csrf, mode: 'enforce' });
    expect(notOpted.status).toBe(400);
    expect(notOpted.body).toContain('MTA-STS is not published for delta-demo.test');
    expect(mode('delta-demo.test')).toBeNull();
    expect((await post('/domains/nowhere.test/mta-sts/mode', { _csrf: csrf, mode: 'enforce' })).status).toBe(404);
  });

  it('moves a domain to enforce for root: stored, logged, said on the page and in the list', async () => {
    const r = await post('/domains/alpha-demo.test/mta-sts/mode', { _csrf: csrf, mode: 'enforce' });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/domains/alpha-demo.test?sts=enforce');
    expect(mode('alpha-demo.test')).toBe('enforce');
    const p = await get('/domains/alpha-demo.test?sts=enforce');
    expect(p).toContain('Mode set to <strong>enforce</strong>.');
    expect(p).toContain('<button class="btn small primary" name="mode" value="enforce" disabled>Enforce</button>');
    expect(listed(await get('/domains?sts=enforce'))).toContain('alpha-demo.test enforce');
    const log = await get('/activity?kind=mta-sts');
    expect(log).toContain('mode testing → enforce');
    expect(log).toContain('web:');
    // And back.
    expect((await post('/domains/alpha-demo.test/mta-sts/mode', { _csrf: csrf, mode: 'testing' })).status).toBe(303);
    expect(mode('alpha-demo.test')).toBe('testing');
  });

  it('shows a reseller its domain’s panel without the switch, and refuses the switch', async () => {
    const p = await asReseller('GET', '/domains/bravo-demo.test');
    expect(p.status).toBe(200);
    expect(p.body).toContain('id="mta-sts"');
    expect(p.body).toContain('Only the server administrator (root) changes the mode.');
    expect(p.body).not.toContain('/mta-sts/mode');
    const token = csrfFrom(p.body);
    const r = await asReseller('POST', '/domains/bravo-demo.test/mta-sts/mode', { _csrf: token, mode: 'testing' });
    expect(r.status).toBe(403);
    expect(mode('bravo-demo.test')).toBe('enforce');
    // Another account's domain is not shown to it at all.
    expect((await asReseller('GET', '/domains?sts=broken')).body).not.toContain('charlie-demo.test');
  });
});

describe('Check now and Check all check MTA-STS too', () => {
  /** A sender's view the test gives (no network): alpha fresh and clean, charlie's check throws. */
  const FRESH = `CN=mta-sts.alpha-demo.test fresh ${HOSTILE}`;
  const seen: string[] = [];
  const stsStatus = async (_c: unknown, domains: string[]): Promise<StsStatus[]> => {
    seen.push(...domains);
    if (domains[0] === 'charlie-demo.test') throw new Error(`resolver gone ${HOSTILE}`);
    return domains.map((d) => status(d, { id: 'fresh1', policy: { mode: 'testing', mx: [d], maxAge: 86400 }, certificate: { subject: FRESH, issuer: 'CN=Fresh CA', notAfter: '2027-03-01T00:00:00.000Z' }, mx: [{ host: d, address: '192.0.2.77', covered: true, certificateValid: true }] }));
  };
  const jobOf = (location: string | string[] | undefined) => /job=([0-9a-f]+)/.exec(String(location))![1]!;

  it('Check now on a covered domain records the MTA-STS result beside the DANE one, and the panel shows it', async () => {
    const ctx = fx.context();
    const s = await signedIn(ctx, `${TOKEN}-now`, testServices(ctx, { stsStatus }));
    try {
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      const before = Date.now();
      const r = await http({ port: s.port }, 'POST', '/domains/alpha-demo.test/check', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      expect(r.status).toBe(303);
      const job = await waitForJob({ port: s.port }, `/api/jobs/${jobOf(r.headers.location)}`, { cookie: s.cookie });
      expect(job.status).toBe('done');
      expect(job.summary).toContain('MTA-STS: 1 domain(s) checked: 1 clean, 0 with problems.');
      expect(seen).toEqual(['alpha-demo.test']);
      const latest = new MtaStsChecks(ctx.state().db).latest('alpha-demo.test')!;
      expect(Date.parse(latest.time)).toBeGreaterThanOrEqual(before - 1000);
      expect(latest.status.certificate?.subject).toBe(FRESH);
      expect(Date.parse(ctx.state().latestCheckOf('alpha-demo.test')!.time)).toBeGreaterThanOrEqual(before - 1000);
      const p = (await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body;
      const panel = p.slice(p.indexOf('id="mta-sts"'));
      expect(panel).toContain('CN=mta-sts.alpha-demo.test fresh &lt;script&gt;');
      expect(panel).toContain('<td>192.0.2.77</td>');
      expect(panel).toContain(`Checked</dt><dd>${shown(Date.parse(latest.time))}`);
      expect(p).not.toContain(HOSTILE);
      // A domain MTA-STS does not cover is not checked for it.
      seen.length = 0;
      const d = await http({ port: s.port }, 'POST', '/domains/delta-demo.test/check', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      const dj = await waitForJob({ port: s.port }, `/api/jobs/${jobOf(d.headers.location)}`, { cookie: s.cookie });
      expect(dj.summary).not.toContain('MTA-STS');
      expect(seen).toEqual([]);
    } finally {
      await s.srv.close();
    }
  });

  it('Check all: one domain whose MTA-STS check throws fails alone; its last result stays; the DANE checks all ran', async () => {
    const ctx = fx.context();
    const s = await signedIn(ctx, `${TOKEN}-all`, testServices(ctx, { stsStatus }));
    try {
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      const charlieBefore = new MtaStsChecks(ctx.state().db).latest('charlie-demo.test')!;
      seen.length = 0;
      const started = new Date(Date.now() - 1000).toISOString();
      const r = await http({ port: s.port }, 'POST', '/jobs', { headers: { cookie: s.cookie }, form: { _csrf: token, action: 'check', all: '1' } });
      const id = /\/jobs\/([0-9a-f]+)/.exec(String(r.headers.location))![1]!;
      const job = await waitForJob({ port: s.port }, `/api/jobs/${id}`, { cookie: s.cookie });
      expect(job.status).toBe('done');
      // alpha and bravo (testing), charlie (enforce): foxtrot has no stored state yet, so the timer does not check it either.
      expect([...seen].sort()).toEqual(['alpha-demo.test', 'bravo-demo.test', 'charlie-demo.test']);
      expect(job.summary).toContain('MTA-STS: 2 domain(s) checked: 2 clean, 0 with problems; 1 could not be checked.');
      expect(job.problems.map((p) => p.code)).toEqual(['mta-sts-check-failed']);
      expect(job.problems[0]!.message).toContain('charlie-demo.test');
      expect(new MtaStsChecks(ctx.state().db).latest('charlie-demo.test')).toEqual(charlieBefore);
      expect(new MtaStsChecks(ctx.state().db).latest('bravo-demo.test')!.time >= started).toBe(true);
      // The DANE side checked every domain with mail here, charlie included.
      expect(job.summary).toMatch(/^\d+ domain\(s\) checked: /);
      const jobPage = (await http({ port: s.port }, 'GET', `/jobs/${id}`, { headers: { cookie: s.cookie, accept: 'text/html' } })).body;
      expect(jobPage).toContain('resolver gone &lt;script&gt;');
      expect(jobPage).not.toContain(HOSTILE);
    } finally {
      await s.srv.close();
    }
  });

  it('the MTA-STS side throwing as a whole leaves the DANE check done and stored', async () => {
    const ctx = fx.context();
    const services = { ...testServices(ctx), checkMtaSts: async () => { throw new Error('store locked'); } };
    const s = await signedIn(ctx, `${TOKEN}-throw`, services);
    try {
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      const r = await http({ port: s.port }, 'POST', '/domains/alpha-demo.test/check', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      const job = await waitForJob({ port: s.port }, `/api/jobs/${jobOf(r.headers.location)}`, { cookie: s.cookie });
      expect(job.status).toBe('done');
      expect(job.summary).toMatch(/^1 domain\(s\) checked: 0 valid, 1 not\. MTA-STS was not checked/);
      expect(job.problems.map((p) => p.code)).toEqual(['mta-sts-check-failed']);
    } finally {
      await s.srv.close();
    }
  });

  it('with checks.mtaStsOnDemand off (the demo) nothing is checked or recorded, and the job and the panel say so', async () => {
    const configFile = join(fx.root, CONFIG_PATH);
    const cfg = loadConfig(configFile);
    saveConfig(configFile, { ...cfg, checks: { ...cfg.checks, mtaStsOnDemand: false } });
    const ctx = fx.context();
    const s = await signedIn(ctx, `${TOKEN}-off`, { ...testServices(ctx), checkMtaSts: defaultServices(ctx).checkMtaSts });
    try {
      const before = new MtaStsChecks(ctx.state().db).latest('alpha-demo.test');
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      const r = await http({ port: s.port }, 'POST', '/domains/alpha-demo.test/check', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      const job = await waitForJob({ port: s.port }, `/api/jobs/${jobOf(r.headers.location)}`, { cookie: s.cookie });
      expect(job.summary).toContain('MTA-STS of 1 domain(s) not checked: on-demand MTA-STS checks are off on this server (checks.mtaStsOnDemand)');
      expect(new MtaStsChecks(ctx.state().db).latest('alpha-demo.test')).toEqual(before);
      const p = (await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body;
      expect(p).toContain('id="mta-sts-not-on-demand"');
    } finally {
      await s.srv.close();
      saveConfig(configFile, cfg);
    }
  });
});

describe('a web Publish shows its MTA-STS serve problems on the job page', () => {
  const jobPage = async (s: { port: number; cookie: string }, location: string | string[] | undefined) => {
    const id = /job=([0-9a-f]+)/.exec(String(location))![1]!;
    const job = await waitForJob({ port: s.port }, `/api/jobs/${id}`, { cookie: s.cookie });
    return { job, page: (await http({ port: s.port }, 'GET', `/jobs/${id}`, { headers: { cookie: s.cookie, accept: 'text/html' } })).body };
  };

  it('a policy that cannot be served is named with its fix, and its id stays out of DNS', async () => {
    const ctx = fx.context();
    const s = await signedIn(ctx, `${TOKEN}-pub`, testServices(ctx));
    try {
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/domains/bravo-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      // bravo: enforce, nothing served yet, and no mta-sts subdomain TLSA Manager created (the fixture's DNS answers nothing).
      expect(store().get('bravo-demo.test')!.servedId).toBeNull();
      const r = await http({ port: s.port }, 'POST', '/domains/bravo-demo.test/publish', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      expect(r.status).toBe(303);
      const { job, page } = await jobPage(s, r.headers.location);
      expect(job.status).toBe('done');
      expect(job.problems.map((p) => p.code)).toContain('mta-sts-subdomain-missing');
      expect(job.summary).toContain('MTA-STS: 1 problem(s) with the policies, listed below with their fixes');
      const problems = page.slice(page.indexOf('<div class="job-problems">'));
      expect(problems).toContain('mta-sts.bravo-demo.test was not created by TLSA Manager, so the policy of bravo-demo.test is not written.');
      expect(problems).toContain('Fix: As root: systemctl start tlsa-manager-mta-sts-subdomain@bravo-demo.test.service');
      expect(store().get('bravo-demo.test')!.servedId).toBeNull();
    } finally {
      await s.srv.close();
    }
  }, 60_000);

  it('escapes what a problem carries', async () => {
    const ctx = fx.context();
    const real = testServices(ctx);
    const services = {
      ...real,
      publish: async () => ({ plan: await real.plan(['delta-demo.test']), results: [], mtaSts: [problem('mta-sts-policy-unreachable', `The MTA-STS policy of delta-demo.test cannot be fetched: ${HOSTILE}.`, { subject: 'delta-demo.test', fix: `Make <b>it</b> reach ${HOSTILE}` })] }),
    };
    const s = await signedIn(ctx, `${TOKEN}-pub2`, services);
    try {
      const token = csrfFrom((await http({ port: s.port }, 'GET', '/domains/delta-demo.test', { headers: { cookie: s.cookie, accept: 'text/html' } })).body);
      const r = await http({ port: s.port }, 'POST', '/domains/delta-demo.test/publish', { headers: { cookie: s.cookie }, form: { _csrf: token } });
      const { page } = await jobPage(s, r.headers.location);
      expect(page).toContain('cannot be fetched: &lt;script&gt;alert(1)&lt;/script&gt;.');
      expect(page).toContain('Fix: Make &lt;b&gt;it&lt;/b&gt; reach');
      expect(page).not.toContain(HOSTILE);
      expect(page).not.toContain('<b>it</b>');
    } finally {
      await s.srv.close();
    }
  });
});
