import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore } from '../../src/alerts/notify.js';
import type { DomainCheck, Verdict } from '../../src/dane/verdict.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { cookieFrom, csrfFrom, demoFixture, http, testServices, waitForJob, type DemoFixture } from './web-fixture.js';

// The web app's "Check all" turns its results into alerts by the scheduled checks' rule: a broken
// domain found by a manual check is on the overview's alerts panel, and a later check that finds
// it fixed resolves it. Checks are a fake (no DNS, no SMTP) that stores the verdicts this test
// sets, the way checkDomains stores its results; alerting and the page are the real ones.

const TOKEN = 'check-alerts-login-token';
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
const verdicts = new Map<string, Verdict>();

beforeAll(async () => {
  fx = await demoFixture();
  const ctx = fx.context();
  const base = testServices(ctx);
  srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, {
    loginToken: TOKEN,
    services: {
      ...base,
      async check(domains, onProgress) {
        const out: DomainCheck[] = [];
        for (const domain of domains) {
          const verdict = verdicts.get(domain) ?? 'no-tlsa';
          const r: DomainCheck = { domain, time: new Date().toISOString(), verdict, message: `${domain}: ${verdict}`, fix: '', mxSecure: verdict !== 'bogus', dnssec: { signed: true, ds: true }, mx: [] };
          ctx.state().saveCheck(domain, r.verdict, r, r.time);
          out.push(r);
          onProgress(out.length, domains.length);
        }
        return out;
      },
    },
  });
  port = (srv.server.address() as AddressInfo).port;
  cookie = cookieFrom(await http({ port }, 'GET', `/login?token=${TOKEN}`));
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

async function checkAll(): Promise<void> {
  const csrf = csrfFrom((await http({ port }, 'GET', '/', { headers: { cookie, accept: 'text/html' } })).body);
  const r = await http({ port }, 'POST', '/jobs', { headers: { cookie }, form: { _csrf: csrf, action: 'check', all: '1' } });
  expect(r.status).toBe(303);
  const id = /\/jobs\/([\w-]+)/.exec(String(r.headers.location))![1]!;
  expect((await waitForJob({ port }, `/api/jobs/${id}`, { cookie })).status).toBe('done');
}

/** The alerts panel of the overview: its open-alerts table rows, as text. */
async function alertsPanel(): Promise<{ open: string[]; history: string }> {
  const page = (await http({ port }, 'GET', '/', { headers: { cookie, accept: 'text/html' } })).body;
  const panel = /<section class="panel wide" id="alerts">([\s\S]*?)<\/section>/.exec(page)![1]!;
  const [openPart, historyPart = ''] = panel.split('<details class="alert-history">');
  const open = [...openPart!.matchAll(/<tr[^>]*><td class="nowrap">[\s\S]*?<\/tr>/g)].map((m) => m[0].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
  return { open, history: historyPart };
}

describe('web "Check all" raises alerts like the scheduled checks', () => {
  it('a first Check all that finds broken domains lists them on the alerts panel (one incident each, nothing for the rest)', async () => {
    verdicts.set('bravo-demo.test', 'tlsa-mismatch').set('charlie-demo.test', 'bogus');
    expect(alertStore(fx.context()).open()).toEqual([]);
    await checkAll();
    const open = alertStore(fx.context()).open().map((a) => `${a.kind}:${a.subject}`).sort();
    expect(open).toEqual(['dnssec-bogus:charlie-demo.test', 'domain-broken:bravo-demo.test']);
    const panel = await alertsPanel();
    expect(panel.open).toHaveLength(2);
    expect(panel.open.find((r) => r.includes('bravo-demo.test'))).toMatch(/critical DANE TLSA mismatch for bravo-demo\.test/);
    expect(panel.open.find((r) => r.includes('charlie-demo.test'))).toMatch(/critical DNSSEC bogus for charlie-demo\.test/);
  }, 60_000);

  it('a second Check all with nothing changed raises nothing new (dedupe); one that finds bravo fixed resolves its alert', async () => {
    await checkAll();
    expect(alertStore(fx.context()).open()).toHaveLength(2);
    verdicts.set('bravo-demo.test', 'valid');
    await checkAll();
    expect(alertStore(fx.context()).open().map((a) => a.subject)).toEqual(['charlie-demo.test']);
    const panel = await alertsPanel();
    expect(panel.open).toHaveLength(1);
    expect(panel.history).toMatch(/DANE TLSA mismatch for bravo-demo\.test/);
  }, 60_000);
});
