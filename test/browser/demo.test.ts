import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** stdout of a command (dig, dnssec-dsfromkey), asynchronously. */
function capture(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(out));
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
    // npm start ran the shipped `dnssec status --all` and imported the demo's TLS reports.
    expect(output).toMatch(/DNSSEC chains \(tlsa-manager dnssec status --all\): 16 zones: 13 secure, 1 bogus, 1 unsigned, 1 signed-no-ds/);
    expect(output).toMatch(/through tlsrpt ingest and import: 14 report\(s\) imported, 0 duplicate\(s\), 0 refused/);
    await page.goto(link!);
    expect(new URL(page.url()).pathname).toBe('/');
    for (const tab of ['Domains', 'Activity', 'Jobs', 'Settings', 'Overview']) {
      await page.click(`.tabs >> text=${tab}`);
      await page.waitForLoadState('load');
      expect(await page.locator('.demo-banner').innerText(), tab).toMatch(/Demo.*simulated network/);
    }
  });

  it('Check all shows the mix: valid, not protected, a stale record, no DNSSEC, a bogus chain, mail elsewhere, an expired certificate', async () => {
    await runAll('Check all');
    const v = await verdicts();
    // Published by hand before TLSA Manager came, and right: valid from the first check.
    expect(v.get('wild-demo.test')).toBe('Valid');
    expect(v.get('alpha-demo.test')).toBe('Not protected');
    expect(v.get('bravo-demo.test')).toBe('TLSA mismatch');
    expect(v.get('delta-demo.test')).toBe('No DNSSEC');
    expect(v.get('foxtrot-demo.test')).toBe('No DS at registrar');
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
    expect(v.get('foxtrot-demo.test')).toBe('No DS at registrar');
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

  it('the alerts panel lists the broken domains: the bogus chain stays open; the fixed stale record and the senders\' DANE failures of it (closed by its validating check, issue 21) are in the history', async () => {
    await page.click('.tabs >> text=Overview');
    await page.waitForLoadState('load');
    const open = await page.locator('#alerts > table tbody tr').allInnerTexts();
    expect(open.find((r) => r.includes('charlie-demo.test')), open.join('\n')).toMatch(/critical\s+DNSSEC bogus for charlie-demo\.test/);
    // The demo's reports are not signed: once bravo's check validates, their alert is closed (issue 21).
    expect(open.filter((r) => r.includes('bravo-demo.test')), open.join('\n')).toEqual([]);
    // Only broken domains alert: the unsigned and the no-DS zone are not protected, not broken.
    expect(open.filter((r) => /delta-demo|foxtrot-demo|alpha-demo/.test(r))).toEqual([]);
    const history = (await page.locator('#alerts details.alert-history').textContent()) ?? '';
    expect(history).toMatch(/DANE TLSA mismatch for bravo-demo\.test/);
    expect(history).toMatch(/Senders report \d+ DANE failure\(s\) for bravo-demo\.test \(unauthenticated reports\)/);
    await page.locator('#alerts').screenshot({ path: join(SHOTS, 'demo-7-alerts.png') });
  }, 60_000);

  it('the DNSSEC panels: secure, unsigned, signed without DS with the DS to hand over (as dnssec-dsfromkey computes it), bogus', async () => {
    const panel = async (domain: string): Promise<string> => {
      await page.goto(new URL(`/domains/${domain}`, page.url()).href);
      return page.locator('section.dnssec-panel').innerText();
    };
    expect(await panel('alpha-demo.test')).toMatch(/^Secure\b[\s\S]*DS at the parent\s+\d+ 13 2 [0-9A-F]{64}/m);
    const delta = await panel('delta-demo.test');
    // BIND here: the panel names the WHM path that makes Enable DNSSEC possible (issue 24).
    expect(delta).toMatch(/Unsigned[\s\S]*WHM » Service Configuration » Nameserver Selection/);
    expect(delta).not.toMatch(/DS to give the registrar/);
    const fox = await panel('foxtrot-demo.test');
    expect(fox).toMatch(/Signed, no DS[\s\S]*registrar step is missing/);
    const line = await page.locator('section.dnssec-panel #ds-line-0').innerText();
    // The DS handed over is what BIND computes from the key the zone serves.
    const [, port] = /validating resolver 127\.0\.0\.1:(\d+)/.exec(output)!;
    const keys = (await capture('dig', ['@127.0.0.1', '-p', port!, '+cd', '+noall', '+answer', 'foxtrot-demo.test', 'DNSKEY'])).split('\n').filter((l) => /\sDNSKEY\s/.test(l) && !/RRSIG/.test(l));
    expect(keys).toHaveLength(1);
    const file = join(dir, '..', 'foxtrot.dnskey');
    writeFileSync(file, keys.join('\n') + '\n');
    expect(line.trim()).toBe((await capture('dnssec-dsfromkey', ['-2', '-f', file, 'foxtrot-demo.test'])).trim());
    await page.locator('section.dnssec-panel').screenshot({ path: join(SHOTS, 'demo-8-dnssec-handoff.png') });
    expect(await panel('charlie-demo.test')).toMatch(/Bogus\s+\(ds-mismatch\)/);
  }, 60_000);

  it('the TLS-RPT panel of the stale domain shows the senders\' timeline with the tlsa-invalid failures', async () => {
    await page.goto(new URL('/domains/bravo-demo.test', page.url()).href);
    const tl = page.locator('section.tlsrpt-panel');
    expect(await tl.locator('svg.tlsrpt-timeline .lane').count()).toBe(2);
    const text = await tl.innerText();
    expect(text).toMatch(/\b0\b successful and \d+ failed TLS session\(s\) reported in the last 90 days by 2 sender\(s\)/);
    expect(text).toMatch(/Example Mail Sender Inc\.\s+no\s+0\s+\d+\s+tlsa-invalid ×\d+/);
    await tl.screenshot({ path: join(SHOTS, 'demo-9-tlsrpt-bravo.png') });
    await page.goto(new URL('/domains/tlsa-demo.test', page.url()).href);
    expect(await page.locator('section.tlsrpt-panel').innerText()).toMatch(/\d+ successful and 0 failed/);
  }, 60_000);

  it("the account owners' pages (demo only): foxtrot sees the DS to add at its registrar, as dnssec-dsfromkey computes it; cloud the records for its DNS host; neither sees another account's domain", async () => {
    const [, url] = /Account owners' cPanel pages \(demo only, no login\): (\S+)/.exec(output) ?? [];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const csp: string[] = [];
    page.on('console', (m) => m.type() === 'error' && csp.push(m.text()));
    await page.goto(url!);
    await Promise.all([page.waitForLoadState('load'), page.click('a:text-is("foxtrot")')]);
    const fox = page.locator('section.tlsam-domain[data-domain="foxtrot-demo.test"]');
    expect(await fox.innerText()).toContain('Your domain is signed here; add this DS record at your registrar');
    const [, port] = /validating resolver 127\.0\.0\.1:(\d+)/.exec(output)!;
    const keys = (await capture('dig', ['@127.0.0.1', '-p', port!, '+cd', '+noall', '+answer', 'foxtrot-demo.test', 'DNSKEY'])).split('\n').filter((l) => /\sDNSKEY\s/.test(l) && !/RRSIG/.test(l));
    const file = join(dir, '..', 'foxtrot-owner.dnskey');
    writeFileSync(file, keys.join('\n') + '\n');
    const ds = (await capture('dnssec-dsfromkey', ['-2', '-f', file, 'foxtrot-demo.test'])).trim().split(/\s+/);
    expect((await fox.locator('td code').first().innerText()).trim().toLowerCase()).toBe(ds.at(-1)!.toLowerCase());
    expect(await fox.locator('td').first().innerText()).toBe(ds[3]);
    expect(await page.locator('section.tlsam-domain').evaluateAll((s) => s.map((e) => e.getAttribute('data-domain')))).toEqual(['foxtrot-demo.test']);
    await shot('demo-9-account-page-foxtrot');
    await page.goto(url!);
    await Promise.all([page.waitForLoadState('load'), page.click('a:text-is("cloud")')]);
    const cloud = await page.locator('section.tlsam-domain[data-domain="cloud-demo.test"]').innerText();
    expect(cloud).toContain('Add these records at your DNS host');
    // Issuer pins only (2 1 1): they survive AutoSSL's new key at renewal; no 3 1 1 is offered.
    expect(cloud).toMatch(/\b2 1 1 [0-9a-f]{64}\b/);
    expect(cloud).not.toMatch(/\b3 1 1 [0-9a-f]{64}\b/);
    expect(await page.locator('section.tlsam-domain').count()).toBe(1);
    expect(csp).toEqual([]);
  }, 60_000);
});
