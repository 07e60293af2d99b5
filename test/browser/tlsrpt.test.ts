// Issue 14 in Chromium: TLS reports go in the way Exim hands them over (the real `tlsrpt ingest`
// command reading each mail on stdin, then `tlsrpt import`), and the domain page shows the
// timeline: totals, one lane per sender, the failing days in red, failures by result-type.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { demoFixture, testServices, type DemoFixture } from '../integration/web-fixture.js';
import { requireComponents } from '../helpers/components.js';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const CLI = join(process.cwd(), 'dist/cli.js');
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'tlsrpt-browser-token-5c1e';
const DAY = 24 * 60 * 60 * 1000;

let fx: DemoFixture;
let srv: RunningServer;
let base: string;
let browser: BrowserContext;
let page: Page;
let profile: string;
let domain: string;

const isoDay = (offset: number, end = false) => `${new Date(Date.now() + offset * DAY).toISOString().slice(0, 10)}T${end ? '23:59:59' : '00:00:00'}Z`;

function cli(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--root', fx.root], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the senders mail: Google daily for 20 days (gzip), Microsoft daily for 10 (plain JSON). */
function reports() {
  const out: { mail: Buffer; label: string }[] = [];
  for (let d = 20; d >= 1; d--) {
    const failures = d === 5 ? [{ type: 'tlsa-invalid', count: 4, receivingIp: '192.0.2.25' }] : [];
    const r = rfcReport({ org: 'Google Inc.', reportId: `google-${d}`, domain, start: isoDay(-d), end: isoDay(-d, true), ok: 100, failures });
    out.push({ label: `google-${d}`, mail: tlsrptMail(r, { from: 'noreply-smtp-tls-reporting@google.com', domain, submitter: 'google.com', reportId: `google-${d}`, type: 'gzip' }) });
  }
  for (let d = 10; d >= 1; d--) {
    const failures = d === 3 ? [{ type: 'starttls-not-supported', count: 2 }, { type: 'dnssec-invalid', count: 1 }] : [];
    const r = rfcReport({ org: 'Microsoft Corporation', reportId: `ms-${d}`, domain, start: isoDay(-d), end: isoDay(-d, true), ok: 40, failures });
    out.push({ label: `ms-${d}`, mail: tlsrptMail(r, { from: 'tlsrpt-noreply@microsoft.com', domain, submitter: 'microsoft.com', reportId: `ms-${d}`, type: 'json' }) });
  }
  return out;
}

beforeAll(async () => {
  requireComponents('browser suite', [CHROMIUM]);
  mkdirSync(SHOTS, { recursive: true });
  fx = await demoFixture();
  domain = fx.manifest.cases['expired-cert']![0]!;
  // The importer makes the spool (install.sh does on a server); then each mail through ingest.
  expect(cli(['tlsrpt', 'import']).code).toBe(0);
  for (const { mail, label } of reports()) {
    const r = cli(['tlsrpt', 'ingest'], mail);
    expect([label, r.code, r.stdout]).toEqual([label, 0, expect.stringMatching(/^tlsa-manager tlsrpt: spooled \d+ bytes as /)]);
  }
  const imp = cli(['tlsrpt', 'import']);
  expect(imp.stdout).toContain('30 report(s) imported, 0 duplicate(s), 0 refused');

  const ctx = fx.context();
  srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: TOKEN, services: testServices(ctx) });
  base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`;
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(`${base}/login?token=${TOKEN}`);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  fx?.cleanup();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('TLS-RPT timeline on the domain page (Chromium)', () => {
  it('shows what the senders reported: totals, one lane per sender, the failing days in red, failures by type', async () => {
    await page.goto(`${base}/domains/${domain}`);
    const panel = page.locator('#tlsrpt');
    await panel.scrollIntoViewIfNeeded();
    // Google: 20 days × 100 successful, 4 failed; Microsoft: 10 days × 40 successful, 3 failed.
    expect((await panel.locator('p').first().innerText()).replace(/\s+/g, ' ')).toBe('2400 successful and 7 failed TLS session(s) reported in the last 90 days by 2 sender(s).');
    const lanes = panel.locator('svg.tlsrpt-timeline g.lane');
    expect(await lanes.count()).toBe(2);
    // One cell per reported day; red only for the one failing day of each sender.
    expect(await lanes.nth(0).locator('rect[fill="#c62828"]').count()).toBe(1);
    expect(await lanes.nth(0).locator('rect[fill="#2e7d32"]').count()).toBe(19);
    expect(await lanes.nth(1).locator('rect[fill="#c62828"]').count()).toBe(1);
    expect(await lanes.nth(1).locator('rect[fill="#2e7d32"]').count()).toBe(9);
    expect(await lanes.nth(0).locator('rect[fill="#c62828"] title').textContent()).toBe(`${isoDay(-5).slice(0, 10)} to ${isoDay(-5).slice(0, 10)}: 100 successful, 4 failed (tlsa-invalid)`);
    const rows = await panel.locator('table tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    expect(rows).toEqual([
      ['Google Inc.', 'no', '2000', '4', 'tlsa-invalid ×4'],
      ['Microsoft Corporation', 'no', '400', '3', 'starttls-not-supported ×2, dnssec-invalid ×1'],
    ]);
    // Lanes sit on the time axis: the failing Microsoft day (3 days ago) is right of Google's (5 days ago).
    const x = async (lane: number) => Number(await lanes.nth(lane).locator('rect[fill="#c62828"]').getAttribute('x'));
    expect(await x(1)).toBeGreaterThan(await x(0));
    await panel.screenshot({ path: join(SHOTS, 'tlsrpt-timeline.png') });
    await page.screenshot({ path: join(SHOTS, 'tlsrpt-domain-page.png'), fullPage: true });
  });

  it('the overview lists the domain among those with failures in the last 7 days', async () => {
    await page.goto(`${base}/`);
    const row = page.locator('tr', { has: page.locator(`a[href$="/domains/${domain}#tlsrpt"]`) });
    // Reports ending in the last 7 days: Google 7 × 100 + 4 failed, Microsoft 7 × 40 + 3 failed.
    expect(await row.locator('td').allTextContents()).toEqual([domain, '7', '980']);
    await row.locator('a').click();
    expect(new URL(page.url()).pathname).toBe(`/domains/${domain}`);
  });
});
