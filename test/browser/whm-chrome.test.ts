import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { startCpsrvd, type FakeCpsrvd } from '../fakes/cpsrvd.js';
import { demoFixture, testServices, type DemoFixture } from '../integration/web-fixture.js';
import { requireComponents } from '../helpers/components.js';
import { WHM_SHORT_HOSTNAME, WHM_VERSION } from '../../demo/whm-chrome.js';

// Issue 16 in Chromium: every page opened the way WHM opens it (a fake cpsrvd running the real CGI
// shim against the real daemon) shows WHM's chrome with the product inside; nothing is blocked by
// the CSP, no console errors, WHM's own scripts run, neither side's styles change the other's.

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const SHIM = resolve(__dirname, '../../plugin/cgi/index.cgi');

let fx: DemoFixture;
let daemon: RunningServer;
let whm: FakeCpsrvd;
let browser: BrowserContext;
let page: Page;
let profile: string;
const problems: string[] = [];

beforeAll(async () => {
  requireComponents('browser suite', [CHROMIUM]);
  mkdirSync(SHOTS, { recursive: true });
  fx = await demoFixture();
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  const sock = join(fx.dir, 'run', 'web.sock');
  const ctx = fx.context();
  daemon = await startServer(ctx, { kind: 'socket', path: sock }, { services: testServices(ctx) });
  whm = await startCpsrvd({ shim: SHIM, socket: sock, root: fx.root });
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  });
  // Init scripts run outside the page's CSP: they only record what the CSP refuses.
  await browser.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('console', (m) => {
    // The one page asked for on purpose that does not exist logs its 404 status; nothing else may log.
    if ((m.type() === 'error' || m.type() === 'warning') && !m.location().url.includes('no-such-page')) problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().includes('no-such-page')) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await whm?.close();
  await daemon?.close();
  fx?.cleanup();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/**
 * After each page: nothing was refused by the CSP (zero securitypolicyviolation events), WHM's
 * code ran (its scripts by URL, its nonce'd inline script, its inline scripts WITHOUT a nonce:
 * the tag block, the header menu listener with the session token filled in, the footer script;
 * its web components upgraded), WHM's inline style block applies and the elements WHM keeps
 * hidden by style attributes stay hidden.
 */
async function expectCleanChromePage(name: string): Promise<void> {
  await page.waitForLoadState('load');
  expect(await page.locator('#whm-nav').isVisible()).toBe(true);
  expect(await page.locator('#whm-nav a', { hasText: 'TLSA Manager' }).count()).toBe(1);
  expect(await page.locator('#whm-masthead #whm-search input[type="search"]').isVisible()).toBe(true);
  expect(await page.locator('#tlsa-manager').isVisible()).toBe(true);
  expect(await page.locator('#tlsa-manager .tlsam-crumbs li').first().textContent()).toBe('Home');
  expect(await page.locator('#topFrameWrapper').isVisible()).toBe(false);
  expect(await page.locator('#whm-command-list').isVisible()).toBe(false);
  const ran = await page.evaluate(() => {
    const root = document.documentElement;
    return {
      chrome: root.getAttribute('data-whm-chrome'),
      tag: root.getAttribute('data-whm-tag'),
      listener: root.getAttribute('data-whm-listener'),
      footer: root.getAttribute('data-whm-footer'),
      user: (window as unknown as { COMMON?: { userName: string } }).COMMON?.userName,
      components: document.querySelectorAll('[data-upgraded]').length,
      hiddenBy: getComputedStyle(document.getElementById('topFrameWrapper')!).visibility,
      inlineStyle: getComputedStyle(document.getElementById('masterContainer')!).minHeight,
      csp: (window as unknown as { __csp: string[] }).__csp,
    };
  });
  expect(ran).toEqual({ chrome: 'ran', tag: 'ran', listener: whm.token, footer: 'ran', user: 'root', components: 6, hiddenBy: 'hidden', inlineStyle: '120px', csp: [] });
  expect(problems).toEqual([]);
  await page.screenshot({ path: join(SHOTS, `whm-${name}.png`), fullPage: true });
}

describe('TLSA Manager inside WHM chrome (Chromium)', () => {
  it('opens every page through the shim inside the chrome without CSP or console errors', async () => {
    const domain = fx.manifest.domains.find((d) => d.cert)!.name;
    const pages: [string, string][] = [
      ['overview', '/'],
      ['domains', '/domains'],
      ['domain', `/domains/${domain}`],
      ['activity', '/activity'],
      ['jobs', '/jobs'],
      ['settings', '/settings'],
    ];
    for (const [name, route] of pages) {
      const res = await page.goto(whm.url(route));
      expect(res?.status(), route).toBe(200);
      await expectCleanChromePage(name);
      // The README's picture (docs/whm-chrome.png is a copy of this one).
      if (name === 'overview') await page.screenshot({ path: join(SHOTS, 'whm-readme.png'), clip: { x: 0, y: 0, width: 1360, height: 760 } });
    }
    expect(await page.title()).toBe(`WHM [${WHM_SHORT_HOSTNAME}] TLSA Manager » Settings - ${WHM_VERSION}`);
    const res = await page.goto(whm.url('/no-such-page'));
    expect(res?.status()).toBe(404);
    await expectCleanChromePage('not-found');
  });

  it('navigates by the product tabs and filters the domain list inside the chrome (the security token stays in every URL)', async () => {
    await page.goto(whm.url('/'));
    await Promise.all([page.waitForURL(/route=%2Fdomains/), page.click('#tlsa-manager .tabs >> text=Domains')]);
    await page.fill('#tlsa-manager input[name="q"]', 'alpha');
    await Promise.all([page.waitForURL(/q=alpha/), page.click('#tlsa-manager button:has-text("Filter")')]);
    expect(new URL(page.url()).pathname).toBe(`${whm.token}/cgi/tlsa_manager/index.cgi`);
    const rows = await page.locator('table.domains tbody tr').allTextContents();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toContain('alpha');
    // The product's own script runs (by its nonce) next to WHM's: "select all" ticks every row.
    await page.check('#tlsa-manager #select-all');
    const boxes = page.locator('#tlsa-manager input[name="domain"]');
    expect(await boxes.count()).toBeGreaterThan(0);
    for (const b of await boxes.all()) expect(await b.isChecked()).toBe(true);
    await expectCleanChromePage('domains-filtered');
  });

  it('posts a CSRF-protected form inside the chrome and follows the job to its end', async () => {
    await page.goto(whm.url('/'));
    await Promise.all([page.waitForURL(/route=%2Fjobs%2F/), page.click('#tlsa-manager button:has-text("Rescan")')]);
    // The job page polls its JSON (connect-src 'self') and reloads when the job is done.
    await page.locator('#tlsa-manager .job-status', { hasText: /^(done|failed)$/ }).waitFor({ timeout: 60_000 });
    expect(await page.locator('#tlsa-manager .job-status').textContent()).toBe('done');
    await expectCleanChromePage('job');
  });

  it("keeps WHM's styles and the product's apart", async () => {
    await page.goto(whm.url('/domains'));
    await page.waitForLoadState('load');
    const chromeSel = ['body', '#whm-masthead', '#whm-nav a', '#whm-nav .whm-group-title', '#whm-footer', '#whm-footer a', '#whm-search input'];
    const productSel = ['#tlsa-manager', '#tlsa-manager h1', '#tlsa-manager .table th', '#tlsa-manager .table td', '#tlsa-manager .btn', '#tlsa-manager .tabs a', '#tlsa-manager .badge', '#tlsa-manager .tlsam-crumbs a', '#tlsa-manager input[name="q"]'];
    const styles = (sels: string[]) =>
      page.evaluate((list) => {
        const props = ['font-family', 'font-size', 'font-weight', 'color', 'background-color', 'padding', 'margin', 'line-height', 'text-decoration-line', 'border-radius', 'box-shadow'];
        return Object.fromEntries(
          list.map((s) => {
            const el = document.querySelector(s);
            if (!el) return [s, null];
            const cs = getComputedStyle(el);
            return [s, Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]))];
          }),
        );
      }, sels);
    const toggle = (hrefPart: string, disabled: boolean) =>
      page.evaluate(
        ([part, off]) => {
          for (const s of Array.from(document.styleSheets)) if (s.href && s.href.includes(part as string)) s.disabled = off as boolean;
        },
        [hrefPart, disabled] as const,
      );
    const both = { chrome: await styles(chromeSel), product: await styles(productSel) };
    for (const v of Object.values(both.product)) expect(v).not.toBeNull();
    // Without the product's stylesheet WHM's chrome looks exactly the same …
    await toggle('app.css', true);
    expect(await styles(chromeSel)).toEqual(both.chrome);
    await toggle('app.css', false);
    // … and without WHM's stylesheet the product looks exactly the same.
    await toggle('chrome.css', true);
    expect(await styles(productSel)).toEqual(both.product);
    await toggle('chrome.css', false);
    // The product follows WHM's look: WHM's font family.
    expect(both.product['#tlsa-manager']!['font-family']).toContain('Open Sans');
    expect(problems).toEqual([]);
  });
});
