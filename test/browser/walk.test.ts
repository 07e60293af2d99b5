import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// Issue 24: README's path (Check all, Publish all) and then every page of the demo, as a new user
// would click it, asserting that every page tells the truth after every action: fresh results
// after Publish all without another click, Expired as its own badge, no Publish button on a zone
// hosted elsewhere, no command with a placeholder and no command where a button does it, an
// acknowledged alert, and no console error on any page. Screenshots: test-output/screenshots/walk-*.

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const REPO = process.cwd();

let demo: ChildProcess;
let output = '';
let dir: string;
let profile: string;
let browser: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.stdout.on('data', (b: Buffer) => (err += b.toString()));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`))));
  });
}

function waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = (): void => {
      const m = re.exec(output);
      if (m) return resolve(m);
      if (demo.exitCode !== null || Date.now() - t0 > ms) return reject(new Error(`demo did not print ${re}: ${output}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
  await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'demo/tsconfig.json']);
  dir = join(mkdtempSync(join(tmpdir(), 'tlsa-walk-')), 'root');
  demo = spawn(process.execPath, [join(REPO, '.demo', 'build', 'start.js')], { cwd: REPO, env: { ...process.env, PORT: '0', TLSA_MANAGER_DEMO_ROOT: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  demo.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((r) => demo.once('exit', r));
    demo.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `walk-${name}.png`), fullPage: true });
const main = () => page.locator('main, .tlsam-main').first().innerText();
const go = async (path: string) => {
  await page.goto(new URL(path, page.url()).href);
  await page.waitForLoadState('load');
};

/** The overview's bars: label → count. */
async function bars(): Promise<Record<string, number>> {
  await go('/');
  const out: Record<string, number> = {};
  for (const a of await page.locator('svg.chart a').all()) {
    const texts = await a.locator('text').allTextContents();
    out[texts[0]!.trim()] = Number(texts[1]);
  }
  return out;
}

async function runAll(button: 'Check all' | 'Publish all'): Promise<string> {
  await go('/');
  await Promise.all([page.waitForLoadState('load'), page.click(`button:has-text("${button}")`)]);
  await page.waitForSelector('.job .job-status:text-matches("done|failed")', { timeout: 120_000 });
  expect(await page.locator('.job .job-status').first().textContent()).toBe('done');
  return main();
}

/** `tlsa-manager …` with an upper-case placeholder (ZONE, DOMAIN, OWNER) or a command a button does. */
const PLACEHOLDER = /tlsa-manager [a-z -]*\b[A-Z]{3,}\b/;
const BUTTON_COMMANDS = /tlsa-manager (apply|dnssec status|check)\b/;

describe('every page tells the truth after every action (README path, then every page)', () => {
  it('the start line and the overview count the same domains', async () => {
    const [, link] = await waitFor(/Open this link to sign in[^\n]*\n\s+(http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+)/, 180_000);
    const [, n] = /Demo: (\d+) domains on/.exec(output)!;
    await page.goto(link!);
    const b = await bars();
    expect(Object.values(b).reduce((x, y) => x + y, 0)).toBe(Number(n));
  }, 240_000);

  it('Check all says which domain it skips and why', async () => {
    const text = await runAll('Check all');
    expect(text).toMatch(/17 domain\(s\) checked: 1 valid, 16 not\. Not checked: google-demo\.test \(mail handled by another server, nothing of ours to validate\)\./);
    // The demo keeps its seeded MTA-STS results (no port 443 to check against: checks.mtaStsOnDemand false) and says so.
    expect(text).toContain('MTA-STS of 4 domain(s) not checked: on-demand MTA-STS checks are off on this server (checks.mtaStsOnDemand)');
    await shot('1-checked');
    await go('/');
    // The senders' report alert names the day each count is from (its long detail is folded).
    expect(await page.locator('#alerts > table tbody tr', { hasText: 'Senders report' }).textContent()).toMatch(/report for \d{4}-\d\d-\d\d/);
    await page.screenshot({ path: join(SHOTS, 'walk-overview-checked-viewport.png') });
  }, 180_000);

  it('Publish all, and without another click the overview shows the post-publish mix; no page shows a pre-publish verdict', async () => {
    const text = await runAll('Publish all');
    // Progress counted zones, then the re-check of the changed domains (checks.afterPublishDelaySeconds 0 in the demo).
    // 99 TLSA/TLS-RPT changes, plus one _mta-sts TXT for each of the 4 MTA-STS domains the demo seeds as served (demo/mtasts-seed.ts).
    expect(text).toMatch(/103 change\(s\) applied in 15 zone\(s\)\. Checked again now: 13 of 16 validate\./);
    expect(text).toMatch(/16 \/ 16 domains checked again/);
    // The demo network serves no policy (no port 443): the serve step says so for each MTA-STS domain, with its fix (their seeded ids stay announced).
    expect(text).toContain('MTA-STS: 4 problem(s) with the policies, listed below with their fixes');
    expect(text).toContain('mta-sts.alpha-demo.test was not created by TLSA Manager, so the policy of alpha-demo.test is not written.');
    expect(text).toContain('What changed');
    await shot('2-publish-job');
    expect(await bars()).toEqual({ Valid: 9, 'Valid, with warnings': 2, Expiring: 1, Expired: 1, Broken: 1, 'Not protected': 3, 'Not ours': 1 });
    await shot('3-overview-published');
    await page.screenshot({ path: join(SHOTS, 'walk-overview-published-viewport.png') });
    await go('/domains?per=100');
    const verdicts = await page.locator('table.domains tbody tr td:nth-child(7)').allInnerTexts();
    expect(verdicts).toHaveLength(18);
    expect(verdicts.filter((v) => /Published, checking at|Not checked/.test(v))).toEqual([]);
    for (const d of ['alpha-demo.test', 'bravo-demo.test', 'wild-demo.test']) {
      await go(`/domains/${d}`);
      expect(await page.locator('h1 .badge').innerText(), d).toBe('Valid');
    }
  }, 300_000);

  it('expired, expiring and valid with warnings are distinct badges', async () => {
    await go('/domains/expired-demo.test');
    expect(await page.locator('h1 .badge').innerText()).toBe('Expired');
    expect(await main()).toMatch(/DANE-EE \(3 1 x\) senders still deliver, senders that verify certificates \(MTA-STS\) refuse it/);
    await shot('4-expired');
    await go('/domains/expiring-demo.test');
    expect(await page.locator('h1 .badge').innerText()).toBe('Expiring');
    await go('/domains/missing-demo.test');
    expect(await page.locator('h1 .badge').innerText()).toBe('Valid, with warnings');
    // The 2 1 1 records the page says cannot validate today's certificate are there for the next one.
    expect(await main()).toMatch(/are there for the certificate AutoSSL issues for mail\.missing-demo\.test/);
  });

  it('a zone hosted elsewhere gets no Publish button; its page says which records to add where; Check now fills its DNSSEC panel', async () => {
    await go('/domains/cloud-demo.test');
    expect(await page.locator('button:has-text("Publish")').count()).toBe(0);
    const text = await main();
    expect(text).toContain('Add these records at the zone’s DNS provider');
    expect(text).toMatch(/_25\._tcp\.mail\.cloud-demo\.test\. 3600 IN TLSA 3 1 1 [0-9a-f]{64}/);
    expect(await page.locator('section.dnssec-panel').innerText()).toContain('has not been looked at yet');
    await Promise.all([page.waitForLoadState('load'), page.locator('.page-head button:has-text("Check now")').click()]);
    await page.waitForSelector('.job .job-status:text-matches("done|failed")', { timeout: 60_000 });
    await go('/domains/cloud-demo.test');
    expect(await page.locator('section.dnssec-panel').innerText()).toMatch(/^Secure\b/m);
    await shot('5-cloud');
  }, 90_000);

  it('every fix is a button or an exact instruction: the stale foreign records can be taken over, the unsigned zone names the WHM path', async () => {
    await go('/domains/bravo-demo.test');
    expect(await page.locator('button:has-text("Take over these records")').count()).toBe(1);
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Take over these records")')]);
    await page.waitForSelector('.job .job-status:text-matches("done|failed")', { timeout: 60_000 });
    await go('/domains/bravo-demo.test');
    expect(await main()).not.toContain('not created by TLSA Manager; left alone');
    await go('/domains/delta-demo.test');
    expect(await page.locator('section.dnssec-panel').innerText()).toMatch(/WHM » Service Configuration » Nameserver Selection[\s\S]*zone "delta-demo\.test"/);
    await go('/domains/foxtrot-demo.test');
    expect(await page.locator('section.dnssec-panel').innerText()).toContain('at the registrar of foxtrot-demo.test');
  }, 90_000);

  it('an alert can be acknowledged, and the overview says by whom and when', async () => {
    await go('/');
    const row = () => page.locator('#alerts > table tbody tr', { hasText: 'DNSSEC bogus for charlie-demo.test' });
    await Promise.all([page.waitForLoadState('load'), row().locator('button:has-text("Acknowledge")').click()]);
    expect(await row().innerText()).toMatch(/Acknowledged by \S+, \d{4}-\d\d-\d\d \d\d:\d\d UTC; no reminders until it resolves or gets worse/);
    expect(await row().locator('button:has-text("Acknowledge")').count()).toBe(0);
    await page.locator('#alerts').screenshot({ path: join(SHOTS, 'walk-6-alerts.png') });
  });

  it('small things: a bulk action with nothing ticked says so, Activity says what was found and links it', async () => {
    await go('/domains');
    await Promise.all([page.waitForLoadState('load'), page.click('.bulkbar button[value="check"]')]);
    expect(new URL(page.url()).pathname).toBe('/domains');
    expect(await main()).toContain('No domain was ticked, so nothing was done.');
    await go('/activity?kind=alert');
    const results = await page.locator('table tbody tr td:nth-child(6)').allInnerTexts();
    expect(results).toContain('raised');
    expect(results).toContain('acknowledged');
    expect(results).not.toContain('failed');
    expect(await page.locator('table tbody tr td:nth-child(5) a').count()).toBeGreaterThan(0);
    await go('/activity?q=foxtrot-demo.test&kind=check');
    expect(await page.locator('table tbody tr td:nth-child(6)').first().innerText()).toBe('No DS at registrar');
  });

  it('every page of the demo: no command with a placeholder, none for what a button does, no console error', async () => {
    await go('/domains?per=100');
    const domains = (await page.locator('table.domains tbody tr td:nth-child(2) > a').allTextContents()).map((s) => s.trim());
    expect(domains.length).toBe(18);
    const pages = ['/', '/domains', '/activity', '/jobs', '/settings', ...domains.map((d) => `/domains/${d}`)];
    for (const p of pages) {
      await go(p);
      const text = await page.locator('body').innerText();
      expect(text, p).not.toMatch(PLACEHOLDER);
      expect(text, p).not.toMatch(BUTTON_COMMANDS);
      expect(text, p).not.toContain('unknown (cpanel)');
    }
    // MTA-STS as the demo seeds it: two in testing, one enforced, one broken (issue 27 §6).
    await go('/');
    expect(await page.locator('#mta-sts-counts').innerText()).toMatch(/Testing\s+2 domains\s+Enforce\s+1 domain\s+Broken\s+1 domain/);
    await go('/domains?sts=broken');
    expect((await page.locator('table.domains tbody tr td:nth-child(2) > a').allTextContents()).map((s) => s.trim())).toEqual(['charlie-demo.test']);
    await go('/domains/alpha-demo.test');
    expect(await page.locator('#mta-sts').innerText()).toMatch(/Enforce at \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 1[01] days\)/);
    await page.locator('#mta-sts').screenshot({ path: join(SHOTS, 'walk-8-mta-sts.png') });
    await go('/settings');
    await shot('7-settings');
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
