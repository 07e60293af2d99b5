import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveConfig } from '../../src/state/config.js';
import type { RunningServer } from '../../src/web/server.js';
import { csrfFrom, demoFixture, http, waitForJob, signedIn, type DemoFixture } from './web-fixture.js';

// Issue 24: results carry their age against the last change. A publish marks the domains it
// changed; until they are checked again no page shows their old verdict as current, and with
// checks.afterPublishDelaySeconds 0 the publish job checks them itself.

let fx: DemoFixture;
const fixtures: DemoFixture[] = [];
const servers: RunningServer[] = [];
const configFile = () => join(fx.root, 'etc/tlsa-manager/config.json');

afterAll(async () => {
  for (const s of servers) await s.close();
  for (const f of fixtures) f.cleanup();
});

/** A fresh demo root (nothing published yet) and a signed-in server on it. */
async function start(token: string, checks: Record<string, unknown>) {
  fx = await demoFixture();
  fixtures.push(fx);
  const cfg = JSON.parse(readFileSync(configFile(), 'utf8'));
  saveConfig(configFile(), { ...cfg, checks: { ...cfg.checks, ...checks } });
  const ctx = fx.context();
  const s = await signedIn(ctx, token);
  servers.push(s.srv);
  const html = { cookie: s.cookie, accept: 'text/html' };
  const csrf = csrfFrom((await http({ port: s.port }, 'GET', '/settings', { headers: html })).body);
  return { ...s, ctx, html, csrf };
}

async function runJob(port: number, html: Record<string, string>, csrf: string, action: string): Promise<{ location: string; job: Awaited<ReturnType<typeof waitForJob>> }> {
  const r = await http({ port }, 'POST', '/jobs', { headers: html, form: { _csrf: csrf, all: '1', action } });
  expect(r.status).toBe(303);
  const location = String(r.headers.location);
  const id = location.split('/').pop()!;
  return { location, job: await waitForJob({ port }, `/api/jobs/${id}`, { cookie: html.cookie! }) };
}

describe('after a publish', () => {
  it('with the computed delay, the changed domains say "Published, checking at HH:MM" everywhere until checked again', async () => {
    const s = await start('after-publish-delay', {});
    await runJob(s.port, s.html, s.csrf, 'check');
    const before = await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: s.html });
    expect(before.body).toMatch(/class="badge [a-z]+">No DNSSEC</);
    const { location, job } = await runJob(s.port, s.html, s.csrf, 'publish');
    expect(job.status).toBe('done');
    // Nothing was checked by the job: the re-check is due when senders see the change.
    expect(job.summary).toMatch(/domain\(s\) are checked again at \d\d:\d\d UTC, when senders can see the change/);
    const row = s.srv.web.snapshot.current()!.byDomain.get('alpha-demo.test')!;
    expect(row.changedAt).not.toBeNull();
    // The demo zone's records are new (none replaced): SOA minimum (the negative TTL) plus a minute.
    const zone = readFileSync(join(fx.root, 'var/named/alpha-demo.test.db'), 'utf8');
    const soa = /^\S+\s+(\d+)\s+IN\s+SOA\b[^(]*\(([^)]*)\)/m.exec(zone)!;
    const soaMin = Number(soa[2]!.replace(/;[^\n]*/g, ' ').trim().split(/\s+/).at(-1));
    expect(soaMin).toBeGreaterThan(0);
    const delay = (Date.parse(row.recheckAt!) - Date.parse(row.changedAt!)) / 1000;
    expect(delay).toBe(Math.min(soaMin, Number(soa[1])) + 60);
    const hhmm = row.recheckAt!.slice(11, 16);
    const page = await http({ port: s.port }, 'GET', '/domains/alpha-demo.test', { headers: s.html });
    expect(page.body).toContain(`Published, checking at ${hhmm} UTC`);
    expect(page.body).not.toMatch(/<h1>alpha-demo\.test <span class="badge [a-z]+">No DNSSEC</);
    const list = await http({ port: s.port }, 'GET', '/domains?q=alpha-demo.test', { headers: s.html });
    expect(list.body).toContain(`Published, checking at ${hhmm} UTC`);
    // The overview counts it as not checked since the change, not with its old verdict.
    const overview = await http({ port: s.port }, 'GET', '/', { headers: s.html });
    expect(overview.body).toMatch(/>Not checked yet<\/text>/);
    const jobPage = await http({ port: s.port }, 'GET', location, { headers: s.html });
    expect(jobPage.body).toContain('What changed');
    expect(jobPage.body).toContain('See the fresh results on the overview');
    // Audit export knows too.
    const csv = await http({ port: s.port }, 'GET', '/export/audit.csv', { headers: s.html });
    expect(csv.body.split('\n')[0]).toMatch(/category,lastChecked,changedAt,recheckAt/);
  }, 60_000);

  it('with checks.afterPublishDelaySeconds 0 the publish job checks the changed domains itself', async () => {
    const s = await start('after-publish-now', { afterPublishDelaySeconds: 0 });
    const { location, job } = await runJob(s.port, s.html, s.csrf, 'publish');
    expect(job.status).toBe('done');
    expect(job.summary).toMatch(/Checked again now: 0 of \d+ validate\./);
    const row = s.srv.web.snapshot.current()!.byDomain.get('alpha-demo.test')!;
    // Republishing may change nothing; what counts: no row is left showing a result older than its records.
    expect(s.srv.web.snapshot.current()!.rows.filter((r) => r.changedAt !== null)).toEqual([]);
    expect(row.verdict).toBe('no-dnssec');
    const jobPage = await http({ port: s.port }, 'GET', location, { headers: s.html });
    expect(jobPage.body).not.toContain('Published, checking at');
  }, 60_000);
});
