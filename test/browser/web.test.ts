import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { demoFixture, testServices, type DemoFixture } from '../integration/web-fixture.js';
import { requireComponents } from '../helpers/components.js';

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const TOKEN = 'browser-test-token-7f3a';

let fx: DemoFixture;
let srv: RunningServer;
let base: string;
let browser: BrowserContext;
let page: Page;
let profile: string;
/** Debian's Chromium, never a download. */
const CHROMIUM = '/usr/bin/chromium';

beforeAll(async () => {
  requireComponents('browser suite', [CHROMIUM]);
  mkdirSync(SHOTS, { recursive: true });
  fx = await demoFixture();
  const ctx = fx.context();
  srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: TOKEN, services: testServices(ctx) });
  base = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}`;
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  // A fresh profile per run (playwright passes it as --user-data-dir); Debian's Chromium, never a download.
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
    acceptDownloads: true,
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (err) => {
    throw err;
  });
});

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  fx?.cleanup();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('web app in Chromium', () => {
  it('refuses the app without logging in, then logs in with the token link', async () => {
    await page.goto(`${base}/domains`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot('01-login');
    await page.goto(`${base}/login?token=${TOKEN}`);
    expect(new URL(page.url()).pathname).toBe('/');
    expect(page.url()).not.toContain(TOKEN);
  });

  it('shows the overview with the status chart', async () => {
    expect(await page.locator('h1').first().textContent()).toContain('Overview');
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThanOrEqual(8);
    expect(await page.locator('.tabs a.active').textContent()).toBe('Overview');
    await shot('02-overview');
  });

  it('filters the domain list', async () => {
    await page.click('.tabs >> text=Domains');
    const all = await page.locator('table.domains tbody tr').count();
    await page.fill('input[name="q"]', 'alpha');
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Filter")')]);
    const filtered = await page.locator('table.domains tbody tr').count();
    expect(filtered).toBeLessThan(all);
    // The search matches domain, owner and MX host names.
    const rows = await page.locator('table.domains tbody tr').allTextContents();
    expect(rows.length).toBe(filtered);
    for (const r of rows) expect(r).toContain('alpha');
    expect(page.url()).toContain('q=alpha');
    await shot('03-domains-filtered');
  });

  it('opens a domain, publishes it and sees the status change', async () => {
    await page.goto(`${base}/domains?tlsa=pending`);
    await shot('04-domains-pending');
    const link = page.locator('table.domains tbody td:nth-child(2) a').first();
    const domain = (await link.textContent())!;
    await link.click();
    expect(await page.locator('h1').textContent()).toContain(domain);
    expect(await page.locator('.diff.create').count()).toBeGreaterThan(0);
    await shot('05-domain-detail');
    await page.click('button:has-text("Publish now")');
    // The job panel polls and reloads the page when the job has finished.
    await page.waitForSelector('.job .job-status:text-matches("done|failed")', { timeout: 30_000 });
    await page.waitForLoadState('load');
    await shot('06-domain-published');
    const status = await page.locator('.job .job-status').textContent();
    const summary = (await page.locator('.job .job-summary').textContent()) ?? '';
    expect(status).toBe('done');
    if (/^0 change|failed/.test(summary)) {
      // The provider could not write the zone: the problem is shown, nothing changed.
      expect(await page.locator('.job .problems li').count()).toBeGreaterThan(0);
    } else {
      expect(summary).toMatch(/[1-9]\d* change\(s\) applied/);
      expect(await page.locator('.diff.create').count()).toBe(0);
      expect(await page.locator('.tlsa').first().textContent()).toBe('In sync');
    }
  });

  it('changes a setting and shows the validation message for a bad one', async () => {
    await page.click('.tabs >> text=Settings');
    await page.fill('#ttl', '7200');
    await page.click('button:has-text("Save settings")');
    await page.waitForSelector('.notice.ok');
    expect(await page.inputValue('#ttl')).toBe('7200');
    expect(JSON.parse(readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8')).policy.ttl).toBe(7200);
    await shot('07-settings-saved');
    await page.fill('#ports', '25, smtp');
    await page.click('button:has-text("Save settings")');
    await page.waitForSelector('.notice.error');
    expect(await page.locator('.notice.error').textContent()).toContain('"smtp" is not a port number');
    await shot('08-settings-error');
  });

  it('saves TLS reporting for domains typed one per line, and names a bad line', async () => {
    const config = () => JSON.parse(readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8'));
    await page.click('.tabs >> text=Settings');
    await page.check('input[name="tlsrptPublish"][value="list"]');
    await page.fill('#tlsrptDomains', 'alpha-demo.test\nbad domain.test');
    await page.click('button:has-text("Save settings")');
    await page.waitForSelector('.notice.error');
    expect(await page.locator('.notice.error').textContent()).toContain('"bad domain.test" is not a domain name');
    expect(config().tlsrpt.publish).toBe('off');
    await page.fill('#tlsrptDomains', 'alpha-demo.test\ncharlie-demo.test');
    await page.click('button:has-text("Save settings")');
    await page.waitForSelector('.notice.ok');
    expect(config().tlsrpt.publish).toEqual(['alpha-demo.test', 'charlie-demo.test']);
    expect(await page.isChecked('input[name="tlsrptPublish"][value="list"]')).toBe(true);
    await page.locator('#tlsrpt-settings').screenshot({ path: join(SHOTS, '08b-settings-tlsrpt.png') });
  });

  it('exports the audit as CSV', async () => {
    await page.goto(`${base}/domains`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Export CSV")')]);
    const file = await download.path();
    const csv = readFileSync(file, 'utf8');
    expect(download.suggestedFilename()).toBe('tlsa-audit.csv');
    expect(csv.split('\r\n')[0]).toMatch(/^domain,owner,kind,mail,mxHosts/);
    expect(csv).toContain('alpha-demo.test');
  });

  it('shows the activity log', async () => {
    await page.click('.tabs >> text=Activity');
    expect(await page.locator('table tbody tr').count()).toBeGreaterThan(0);
    expect(await page.textContent('table')).toContain('settings');
    await shot('09-activity');
  });
});
