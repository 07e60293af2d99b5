import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// The demo exactly as README.md tells a new user to run it: `npm start` (here: the compiled
// demo/start.ts with PORT=0 and a fresh root), open the printed link, Check all, Publish all,
// Check all. The simulated network (demo/network.ts) answers every check.

const SHOTS = join(process.cwd(), 'test-output', 'screenshots');
const REPO = process.cwd();

let demo: ChildProcess;
let output = '';
let dir: string;
let profile: string;
let browser: BrowserContext;
let page: Page;

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
  await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'demo/tsconfig.json']);
  dir = join(mkdtempSync(join(tmpdir(), 'tlsa-demo-browser-')), 'root');
  demo = spawn(process.execPath, [join(REPO, '.demo', 'build', 'start.js')], {
    cwd: REPO,
    env: { ...process.env, PORT: '0', TLSA_MANAGER_DEMO_ROOT: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  demo.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (err) => {
    throw err;
  });
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

const shot = (name: string, fullPage = true) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });

/** Runs the overview's "Check all" or "Publish all" and waits for its job to finish. */
async function runAll(button: 'Check all' | 'Publish all'): Promise<void> {
  await page.click('.tabs >> text=Overview');
  await Promise.all([page.waitForLoadState('load'), page.click(`button:has-text("${button}")`)]);
  await page.waitForSelector('.job .job-status:text-matches("done|failed")', { timeout: 120_000 });
  expect(await page.locator('.job .job-status').first().textContent()).toBe('done');
}

/** Domain → the verdict label its row on the Domains page shows. */
async function verdicts(): Promise<Map<string, string>> {
  await page.click('.tabs >> text=Domains');
  await page.waitForLoadState('load');
  const out = new Map<string, string>();
  for (const row of await page.locator('table.domains tbody tr').all()) {
    const name = (await row.locator('td:nth-child(2) > a').textContent())?.trim() ?? '';
    // Mail elsewhere is the TLSA column's word; such domains are not checked (nothing of ours to check).
    const tlsa = (await row.locator('td:nth-child(6)').innerText()).trim();
    out.set(name, tlsa === 'Mail elsewhere' ? tlsa : (await row.locator('td:nth-child(7)').innerText()).trim());
  }
  return out;
}

describe('the demo, clicked through as README.md says', () => {
  it('opens the printed link; every page says it is the demo on a simulated network', async () => {
    const [, link] = await waitFor(/Open this link to sign in[^\n]*\n\s+(http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+)/, 180_000);
    expect(output).toMatch(/Demo network on loopback: validating resolver 127\.0\.0\.1:\d+/);
    await page.goto(link!);
    expect(new URL(page.url()).pathname).toBe('/');
    for (const tab of ['Domains', 'Activity', 'Jobs', 'Settings', 'Overview']) {
      await page.click(`.tabs >> text=${tab}`);
      await page.waitForLoadState('load');
      expect(await page.locator('.demo-banner').innerText(), tab).toMatch(/Demo.*simulated network/);
    }
  });

  it('Check all shows the mix: not protected, a stale record, no DNSSEC, a bogus chain, mail elsewhere, an expired certificate', async () => {
    await runAll('Check all');
    const v = await verdicts();
    expect(v.get('alpha-demo.test')).toBe('Not protected');
    expect(v.get('bravo-demo.test')).toBe('TLSA mismatch');
    expect(v.get('delta-demo.test')).toBe('No DNSSEC');
    expect(v.get('charlie-demo.test')).toBe('DNSSEC bogus');
    expect(v.get('google-demo.test')).toBe('Mail elsewhere');
    // tlsa-demo.test's existing record matches port 25; the other ports have none yet.
    expect(v.get('tlsa-demo.test')).toBe('Not protected');
    expect([...v.values()].filter((x) => x === 'Resolver does not validate')).toHaveLength(0);
    await page.click('.tabs >> text=Overview');
    await shot('demo-1-checked');
    await shot('demo-1-checked-viewport', false);
  }, 180_000);

  it('Publish all, then Check all: the fixable ones turn valid, the rest keep their true reason', async () => {
    await runAll('Publish all');
    await runAll('Check all');
    const v = await verdicts();
    for (const d of ['alpha-demo.test', 'bravo-demo.test', 'addon-demo.test', 'parked-demo.test', 'shop.alpha-demo.test', 'wild-demo.test', 'tlsa-demo.test', 'selfsigned-demo.test', 'xss-demo.test']) {
      expect(v.get(d), d).toBe('Valid');
    }
    expect(v.get('expiring-demo.test')).toBe('Expiring');
    expect(v.get('delta-demo.test')).toBe('No DNSSEC');
    expect(v.get('charlie-demo.test')).toBe('DNSSEC bogus');
    expect(v.get('google-demo.test')).toBe('Mail elsewhere');
    await shot('demo-2-domains-after-publish');
    await page.click('.tabs >> text=Overview');
    await shot('demo-3-published-checked');
    await shot('demo-3-published-checked-viewport', false);
  }, 300_000);

  it('the domain pages explain: the stale record is fixed, the unsigned zone shows its DNSSEC panel', async () => {
    await page.click('.tabs >> text=Domains');
    await Promise.all([page.waitForLoadState('load'), page.click('table.domains a:text-is("delta-demo.test")')]);
    expect(await page.locator('main, .tlsam-main').first().innerText()).toMatch(/not signed with DNSSEC/);
    await shot('demo-4-delta-unsigned');
    await page.goBack();
    await Promise.all([page.waitForLoadState('load'), page.click('table.domains a:text-is("bravo-demo.test")')]);
    expect(await page.locator('main, .tlsam-main').first().innerText()).toMatch(/Valid/);
    await shot('demo-5-bravo-fixed');
    await page.click('.tabs >> text=Activity');
    await page.waitForLoadState('load');
    expect(await page.locator('main, .tlsam-main').first().innerText()).toMatch(/bravo-demo\.test/);
    await shot('demo-6-activity');
  }, 60_000);
});
