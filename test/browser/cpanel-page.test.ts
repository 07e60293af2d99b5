import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnssecStore } from '../../src/dnssec/watch.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { requireComponents } from '../helpers/components.js';
import { demoFixture, testServices, type DemoFixture } from '../integration/web-fixture.js';

/**
 * The account owners' cPanel page (issue 28) as an account sees it: the Jupiter template
 * (plugin/cpanel/tlsa_manager/index.html.tt) rendered by Template Toolkit inside a stand-in of
 * Jupiter's master.html.tt, with the UAPI result the service gives the account, shown in
 * Chromium under a strict CSP. foxtrot's zone is signed without a DS at the registry: the page
 * hands over the DS that `dnssec-dsfromkey` computes for its key; cloud's DNS is elsewhere: the
 * page lists the records to add there.
 */
const REPO = resolve('.');
// Like the walk's: README's docs/cpanel-account-page.png is copied from here by hand when the page
// changes (each run hands over a fresh DS, so writing docs/ would dirty the tree at every run).
const SHOTS = join(REPO, 'test-output', 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'";
let fx: DemoFixture;
let srv: RunningServer;
let sock: string;
let web: Server;
let base = '';
let pages: string;
let browser: BrowserContext;
let profile: string;
let ds = { keyTag: 0, algorithm: 0, digestType: 0, digest: '' };

/** The DS of a fresh key for foxtrot's zone, by BIND's own tools (not ours). */
function independentDs(dir: string): typeof ds {
  const keygen = spawnSync('dnssec-keygen', ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', '-n', 'ZONE', 'foxtrot-demo.test'], { encoding: 'utf8' });
  const key = join(dir, `${keygen.stdout.trim()}.key`);
  const line = spawnSync('dnssec-dsfromkey', ['-2', key], { encoding: 'utf8' }).stdout.trim();
  const [, , , tag, alg, type, digest] = line.split(/\s+/);
  return { keyTag: Number(tag), algorithm: Number(alg), digestType: Number(type), digest: digest!.toLowerCase() };
}

async function accountAnswer(user: string): Promise<unknown> {
  const body = JSON.stringify({ action: 'status' });
  const { request } = await import('node:http');
  return new Promise((done, fail) => {
    const req = request({ socketPath: sock, method: 'POST', path: '/account', headers: { 'x-tlsa-account-client': '1', 'x-tlsa-account': user, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done(JSON.parse(text)));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** The page for `user` rendered as cPanel would, into `pages/<user>.html`. */
async function render(user: string): Promise<void> {
  const answer = (await accountAnswer(user)) as { ok: boolean; data?: unknown; message?: string };
  const results = join(pages, `${user}.json`);
  writeFileSync(results, JSON.stringify({ 'TLSAManager::status': answer.ok ? { status: 1, data: answer.data, errors: [] } : { status: 0, data: null, errors: [answer.message] } }));
  const theme = join(pages, 'theme');
  const r = spawnSync('perl', [join(REPO, 'test/fakes/jupiter/render.pl'), theme, 'tlsa_manager/index.html.tt', results], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  writeFileSync(join(pages, `${user}.html`), r.stdout);
}

beforeAll(async () => {
  requireComponents('cPanel page', ['perl', 'dnssec-keygen', 'dnssec-dsfromkey', CHROMIUM]);
  expect(spawnSync('perl', ['-MTemplate', '-e', '1']).status, 'Template Toolkit (libtemplate-perl)').toBe(0);
  fx = await demoFixture();
  ds = independentDs(fx.dir);
  const ctx = fx.context();
  new DnssecStore(ctx.state().db).put({ zone: 'foxtrot-demo.test', state: 'signed-no-ds', reason: null, signing: null, ds: [ds], parentDs: [], dnskey: [], parent: 'test', message: '', fix: '', failed: [], signer: 'cpanel', time: new Date().toISOString() } as never);
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  sock = join(fx.dir, 'run', 'web.sock');
  srv = await startServer(ctx, { kind: 'socket', path: sock }, { services: testServices(ctx) });
  // The theme: Jupiter's chrome stand-in and our page, as install_plugin would place it.
  pages = mkdtempSync(join(tmpdir(), 'tlsa-jupiter-'));
  mkdirSync(join(pages, 'theme/_assets'), { recursive: true });
  mkdirSync(join(pages, 'theme/tlsa_manager'), { recursive: true });
  copyFileSync(join(REPO, 'test/fakes/jupiter/_assets/master.html.tt'), join(pages, 'theme/_assets/master.html.tt'));
  for (const f of readdirSync(join(REPO, 'plugin/cpanel/tlsa_manager'))) copyFileSync(join(REPO, 'plugin/cpanel/tlsa_manager', f), join(pages, 'theme/tlsa_manager', f));
  await render('foxtrot');
  await render('cloud');
  web = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const files: Record<string, [string, string]> = {
      '/foxtrot.html': [join(pages, 'foxtrot.html'), 'text/html; charset=utf-8'],
      '/cloud.html': [join(pages, 'cloud.html'), 'text/html; charset=utf-8'],
      '/jupiter.css': [join(REPO, 'test/fakes/jupiter/jupiter.css'), 'text/css'],
      '/tlsa_manager/index.css': [join(REPO, 'plugin/cpanel/tlsa_manager/index.css'), 'text/css'],
      '/tlsa_manager/index.js': [join(REPO, 'plugin/cpanel/tlsa_manager/index.js'), 'text/javascript'],
    };
    const f = files[url.pathname];
    // Browsers ask for a favicon on their own; cPanel serves one.
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': f[1], 'Content-Security-Policy': CSP });
    res.end(readFileSync(f[0]));
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  profile = mkdtempSync(join(tmpdir(), 'tlsa-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'], viewport: { width: 1280, height: 900 } });
  await browser.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => web?.close(r));
  await srv?.close();
  fx?.cleanup();
  if (pages) rmSync(pages, { recursive: true, force: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open(user: string) {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && problems.push(`console ${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${base}/${user}.html`);
  return { page, problems };
}

describe('the Jupiter page an account owner sees (issue 28)', () => {
  it("foxtrot: its own domain only, the DS hand-off with the DS BIND computes for the zone's key, copy buttons; no CSP violation, no console error", async () => {
    const { page, problems } = await open('foxtrot');
    expect(await page.title()).toBe('cPanel - Email Security (DANE)');
    const domains = await page.locator('section.tlsam-domain h2').allTextContents();
    expect(domains.map((d) => d.trim().split(/\s/)[0])).toEqual(fx.manifest.accounts.find((a) => a.user === 'foxtrot')!.domains);
    const todo = page.locator('[data-ds-waiting="1"]');
    await expect.poll(() => todo.count()).toBe(1);
    const cells = await todo.locator('tbody td').allTextContents();
    expect(cells.slice(0, 3).map((c) => c.trim())).toEqual([String(ds.keyTag), String(ds.algorithm), String(ds.digestType)]);
    expect(cells[3]).toContain(ds.digest);
    expect(await todo.locator('button.tlsam-copy').getAttribute('data-copy')).toBe(ds.digest);
    expect(await todo.textContent()).toContain('Waiting for your registrar');
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'cpanel-account-page.png'), fullPage: true });
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('cloud (DNS elsewhere): no DS hand-off; the page never shows another account\'s domain', async () => {
    const { page, problems } = await open('cloud');
    const text = (await page.locator('#tlsam-account').textContent()) ?? '';
    expect(text).toContain('cloud-demo.test');
    for (const other of fx.manifest.accounts.filter((a) => a.user !== 'cloud').flatMap((a) => a.domains)) expect(text).not.toContain(other);
    expect(await page.locator('[data-ds-waiting="1"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });
});
