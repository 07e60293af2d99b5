import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/web/server.js';
import { makePlan } from '../../src/plan/run.js';
import { Providers } from '../../src/provider-instances.js';
import { recordStatuses } from '../../src/dnssec/watch.js';
import { csrfFrom, demoFixture, http, signedIn, waitForJob, type DemoFixture } from './web-fixture.js';

// Issue 24: every fix is a button where the product can do it, an exact instruction with the real
// names where only a person can, and never a command with a placeholder.

let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let csrf: string;
const html = () => ({ cookie, accept: 'text/html' });
const page = async (path: string) => (await http({ port }, 'GET', path, { headers: html() })).body;

beforeAll(async () => {
  fx = await demoFixture();
  ({ srv, port, cookie } = await signedIn(fx.context(), 'fixes-test-token'));
  csrf = csrfFrom(await page('/settings'));
  // A first check so every domain page shows its verdict and fix.
  const r = await http({ port }, 'POST', '/jobs', { headers: html(), form: { _csrf: csrf, all: '1', action: 'check' } });
  await waitForJob({ port }, `/api/jobs/${String(r.headers.location).split('/').pop()}`, { cookie });
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

/** `tlsa-manager …` followed by an upper-case placeholder word (ZONE, DOMAIN, OWNER). */
const PLACEHOLDER = /tlsa-manager [a-z -]*\b[A-Z]{3,}\b/;

describe('fixes on the domain pages', () => {
  it('no page carries a command with a placeholder', async () => {
    for (const d of srv.web.snapshot.current()!.rows.map((r) => r.domain)) {
      const body = await page(`/domains/${d}`);
      expect(body, d).not.toMatch(PLACEHOLDER);
      expect(body, d).not.toContain('tlsa-manager apply');
      expect(body, d).not.toContain('tlsa-manager dnssec status');
    }
    for (const p of ['/', '/domains', '/activity', '/settings']) expect(await page(p), p).not.toMatch(PLACEHOLDER);
  });

  it('a zone hosted elsewhere gets no Publish button, and its page says where to add the records', async () => {
    const cloud = fx.manifest.cases['zone-not-here']![0]!;
    const body = await page(`/domains/${cloud}`);
    expect(body).not.toContain('/publish"');
    expect(body).not.toContain('>Publish now<');
    // (Which records to add, and where, needs the MX lookup: test/browser/walk.test.ts on the demo network.)
    // A managed one has the button.
    expect(await page('/domains/alpha-demo.test')).toContain('>Publish now</button>');
  });

  it('the unsigned zone on BIND says exactly what to change in WHM, with its name; the no-DS zone names the registrar step', async () => {
    const ctx = fx.context();
    const base = { state: 'unsigned' as const, reason: null, signing: null, ds: [], parentDs: [], dnskey: [], parent: 'test', message: 'not signed', fix: '', failed: [], signer: 'cpanel' as const, time: new Date().toISOString() };
    recordStatuses(ctx, [{ ...base, zone: 'delta-demo.test' }, { ...base, zone: 'foxtrot-demo.test', state: 'signed-no-ds' }], 'test');
    srv.web.snapshot.refreshChecks();
    const delta = await page('/domains/delta-demo.test');
    expect(delta).toContain('WHM » Service Configuration » Nameserver Selection');
    expect(delta).toContain('zone "delta-demo.test"');
    expect(delta).not.toContain('unknown (cpanel)');
    // The demo server runs BIND, so there is no Enable button that could only be refused.
    expect(delta).not.toContain('value="dnssec-enable"');
    const fox = await page('/domains/foxtrot-demo.test');
    expect(fox).toContain('at the registrar of foxtrot-demo.test, open the domain’s DNSSEC (DS records) form');
    expect(fox).not.toContain('dnssec ds');
  });

  it('"Take over these records" makes the stale foreign records ours (the ledger keeps it), only for owners the plan shows', async () => {
    const bravo = await page('/domains/bravo-demo.test');
    expect(bravo).toContain('Take over these records');
    const ctx = fx.context();
    const foreignBefore = (await makePlan(ctx, new Providers(ctx), { domains: ['bravo-demo.test'], showOnly: true })).zones.flatMap((z) => z.foreign).map((f) => f.owner);
    expect(foreignBefore.length).toBeGreaterThan(0);
    // A forged owner in the form is ignored: the server takes the owners from its own plan.
    const r = await http({ port }, 'POST', '/domains/bravo-demo.test/takeover', { headers: html(), form: { _csrf: csrf, owner: '_25._tcp.mail.alpha-demo.test' } });
    expect(r.status).toBe(303);
    const job = await waitForJob({ port }, `/api/jobs/${new URL(String(r.headers.location), 'http://x').searchParams.get('job')}`, { cookie });
    expect(job.status).toBe('done');
    const after = await makePlan(ctx, new Providers(ctx), { domains: ['bravo-demo.test'], showOnly: true });
    expect(after.zones.flatMap((z) => z.foreign)).toEqual([]);
    const alpha = await makePlan(ctx, new Providers(ctx), { domains: ['alpha-demo.test'], showOnly: true });
    expect(alpha.zones.flatMap((z) => z.foreign).length).toBe(0);
    // Nothing left to take over: the button is gone and a second post is refused.
    srv.web.snapshot.refresh();
    await srv.web.snapshot.refresh();
    expect(await page('/domains/bravo-demo.test')).not.toContain('Take over these records');
    const again = await http({ port }, 'POST', '/domains/bravo-demo.test/takeover', { headers: html(), form: { _csrf: csrf } });
    expect(again.status).toBe(400);
  }, 60_000);
});
