import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { WHM_CHROME_KEY, WHM_SHORT_HOSTNAME, WHM_VERSION } from '../../demo/whm-chrome.js';
import { startCpsrvd, type FakeCpsrvd } from '../fakes/cpsrvd.js';
import { csrfFrom, demoFixture, http, testServices, type DemoFixture } from './web-fixture.js';

// Issue 16: every page reached through the CGI shim sits inside WHM's chrome (the fake cache in
// the demo root, shaped like the files WHM.php reads), served by a fake cpsrvd that runs the
// real shim against the real daemon on its unix socket.

const SHIM = resolve(__dirname, '../../plugin/cgi/index.cgi');
const TOKEN = '/cpsess0123456789';

let fx: DemoFixture;
let daemon: RunningServer;
let whm: FakeCpsrvd;
let plain: FakeCpsrvd;
let sock: string;

interface Got {
  status: number;
  headers: Headers;
  body: string;
}

async function get(url: string, init: RequestInit = {}): Promise<Got> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

function cspNonce(h: Headers): string {
  const m = /script-src [^;]*'nonce-([A-Za-z0-9+/=]+)'/.exec(h.get('content-security-policy') ?? '');
  if (!m) throw new Error(`no nonce in CSP: ${h.get('content-security-policy')}`);
  return m[1]!;
}

beforeAll(async () => {
  fx = await demoFixture();
  sock = join(fx.dir, 'run', 'web.sock');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  const ctx = fx.context();
  daemon = await startServer(ctx, { kind: 'socket', path: sock }, { services: testServices(ctx) });
  whm = await startCpsrvd({ shim: SHIM, socket: sock, root: fx.root });
  plain = await startCpsrvd({ shim: SHIM, socket: sock, root: fx.root, chrome: false });
});

afterAll(async () => {
  await whm?.close();
  await plain?.close();
  await daemon?.close();
  fx?.cleanup();
});

describe('the fake chrome is shaped like the cache WHM.php reads', () => {
  it('has cache_keys.json mapping root to a key, root-only header variants and footer', () => {
    const dir = join(fx.root, 'var/cpanel/caches');
    const keys = JSON.parse(readFileSync(join(dir, '_generated_header_files/cache_keys.json'), 'utf8')) as Record<string, string>;
    expect(keys.root).toBe(WHM_CHROME_KEY);
    for (const f of [`_generated_header_files/${WHM_CHROME_KEY}_0_0.html`, `_generated_header_files/${WHM_CHROME_KEY}_0_1.html`, '_generated_footer_files/footer.html']) {
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    }
    const header = readFileSync(join(dir, `_generated_header_files/${WHM_CHROME_KEY}_0_0.html`), 'utf8');
    for (const placeholder of ['/cpsess0000000000', 'cpuser00000000000', 'Results of Your Request', 'nonce="00000000000"']) expect(header).toContain(placeholder);
  });
});

describe('pages through the shim inside WHM chrome', () => {
  it('wraps the overview: WHM navigation, placeholders replaced, one document, one CSP whose nonce the chrome shares', async () => {
    const r = await get(whm.url('/'));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    const html = r.body;
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en" dir="ltr">')).toBe(true);
    expect(html.match(/<html\b/g)).toHaveLength(1);
    expect(html.match(/<body\b/g)).toHaveLength(1);
    expect(html).toContain('<div id="whm-nav">');
    // The title's gap (_defheader.tmpl L305 renders "WHM [host] [% header %] - version" with no header) gets the product's title.
    expect(html).toContain(`<title>WHM [${WHM_SHORT_HOSTNAME}] TLSA Manager - ${WHM_VERSION}</title>`);
    for (const placeholder of ['/cpsess0000000000', 'cpuser00000000000', 'Results of Your Request', '00000000000']) expect(html).not.toContain(placeholder);
    expect(html).toContain(`<link rel='stylesheet' type='text/css' href='${TOKEN}/fake-whm/chrome.css' />`);
    expect(html).toContain('<span class="whm-user">root</span>');
    // skipheader=1 variant: WHM's generic page heading is not there; the product's is.
    expect(html).not.toContain('class="pageTitle"');
    const nonce = cspNonce(r.headers);
    expect(html).toContain(`<script nonce="${nonce}">\n            window.COMMON`);
    expect(html).toContain(`<script nonce="${nonce}" src="${TOKEN}/cgi/tlsa_manager/index.cgi?route=%2Fstatic%2Fapp.js"></script>`);
    // The product inside, between WHM's header and footer.
    const start = html.indexOf('<div class="tlsam tlsam-in-whm" id="tlsa-manager">');
    expect(start).toBeGreaterThan(html.indexOf('<div id="contentContainer">'));
    expect(html.indexOf('<div id="whm-footer">')).toBeGreaterThan(start);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    // The daemon's notes to the shim stay between them.
    for (const k of r.headers.keys()) expect(k).not.toMatch(/^x-tlsa-/);
    const csp = r.headers.get('content-security-policy')!;
    // WHM's inline code without a nonce, by hash (node's sha256 over the text as served, the
    // session token filled in): the tag block, the header menu listener, the footer script, the
    // style block, and the two style attributes with 'unsafe-hashes'.
    const sha = (t: string) => `'sha256-${createHash('sha256').update(t, 'utf8').digest('base64')}'`;
    const inline = (tag: string) => [...html.slice(0, start).concat(html.slice(html.indexOf('<div id="whm-footer">'))).matchAll(new RegExp(`<${tag}(?![^>]*\\b(?:nonce|src)=)[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
    const scripts = inline('script');
    expect(scripts).toHaveLength(3);
    expect(scripts[1]).toContain(`'${TOKEN}/'`);
    const styles = inline('style');
    expect(styles).toHaveLength(1);
    const scriptHashes = scripts.map(sha).sort();
    const styleHashes = [...styles.map(sha), "'unsafe-hashes'", ...[sha('display:none;visibility:hidden'), sha('display: none;')].sort()];
    expect(csp).toContain(`script-src 'self' 'nonce-${nonce}' ${scriptHashes.join(' ')};`);
    expect(csp).toContain(`style-src 'self' 'nonce-${nonce}' ${styleHashes.join(' ')};`);
    expect(csp).toContain("font-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('puts the breadcrumb Home » Plugins » TLSA Manager » page with WHM links under the session token', async () => {
    const r = await get(whm.url('/domains'));
    expect(r.status).toBe(200);
    const crumbs = /<ol class="breadcrumb tlsam-crumbs"[^>]*>([\s\S]*?)<\/ol>/.exec(r.body)![1]!;
    const items = [...crumbs.matchAll(/<li[^>]*>([\s\S]*?)<\/li>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, '').trim());
    expect(items).toEqual(['Home', 'Plugins', 'TLSA Manager', 'Domains']);
    expect(crumbs).toContain(`href="${TOKEN}/"`);
    expect(crumbs).toContain(`href="${TOKEN}/scripts/command?PFILE=Plugins"`);
    expect(crumbs).toContain(`href="${TOKEN}/cgi/tlsa_manager/index.cgi?route=%2F"`);
    expect(r.body).toContain(`<title>WHM [${WHM_SHORT_HOSTNAME}] TLSA Manager » Domains - ${WHM_VERSION}</title>`);
    // Every product link keeps the session token.
    const links = [...r.body.slice(r.body.indexOf('id="tlsa-manager"')).matchAll(/(?:href|action)="([^"]+)"/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(10);
    for (const l of links) expect(l.startsWith(`${TOKEN}/`)).toBe(true);
  });

  it('wraps error pages too (404 in the chrome, with its status)', async () => {
    const r = await get(whm.url('/no/such/page'));
    expect(r.status).toBe(404);
    expect(r.body).toContain('id="whm-nav"');
    expect(r.body).toContain(`<title>WHM [${WHM_SHORT_HOSTNAME}] TLSA Manager » Not found - ${WHM_VERSION}</title>`);
  });

  it('leaves JSON, CSV, job progress and static files unwrapped', async () => {
    const csv = await get(whm.url('/export/audit.csv'));
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.body).not.toContain('whm-nav');
    expect(csv.body.split('\n')[0]).toMatch(/^[a-z]/i);
    const json = await get(whm.url('/export/audit.json'));
    expect(() => JSON.parse(json.body) as unknown).not.toThrow();
    const job = await get(whm.url('/api/jobs/does-not-exist'));
    expect(job.status).toBe(404);
    expect(JSON.parse(job.body)).toEqual({ error: 'no such job' });
    const css = await get(whm.url('/static/app.css'));
    expect(css.body.startsWith('/* TLSA Manager')).toBe(true);
  });

  it('keeps CSRF working: a form posted from inside the chrome starts a job and lands on a wrapped job page; without the token it is refused', async () => {
    const page = await get(whm.url('/'));
    const csrf = csrfFrom(page.body);
    const form = (extra: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(extra).toString() });
    const refused = await get(whm.url('/rescan'), form({}));
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('CSRF');
    const ok = await get(whm.url('/rescan'), form({ _csrf: csrf }));
    expect(ok.status).toBe(303);
    const loc = ok.headers.get('location')!;
    expect(loc).toMatch(new RegExp(`^${TOKEN}/cgi/tlsa_manager/index\\.cgi\\?route=%2Fjobs%2F`));
    const job = await get(`${whm.base}${loc}`);
    expect(job.status).toBe(200);
    expect(job.body).toContain('id="whm-nav"');
    expect(job.body).toMatch(/data-job="\/cpsess0123456789\/cgi\/tlsa_manager\/index\.cgi\?route=%2Fapi%2Fjobs%2F/);
  });

  it('falls back to the product layout when the chrome cache is missing', async () => {
    const r = await get(plain.url('/domains'));
    expect(r.status).toBe(200);
    expect(r.body.startsWith('<!doctype html>')).toBe(true);
    expect(r.body).toContain('<body class="tlsam tlsam-standalone">');
    expect(r.body).not.toContain('whm-nav');
    expect(r.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[^']+';/);
  });

  it('falls back to <key>_0_0.html when the skipheader variant was never generated, and to the plain layout without a footer', async () => {
    const dir = join(fx.root, 'var/cpanel/caches');
    const skip = join(dir, `_generated_header_files/${WHM_CHROME_KEY}_0_1.html`);
    const saved = readFileSync(skip);
    const { writeFileSync } = await import('node:fs');
    rmSync(skip);
    try {
      const r = await get(whm.url('/activity'));
      expect(r.body).toContain('<h1>TLSA Manager » Activity</h1>');
      expect(r.body).toContain(`<title>WHM [${WHM_SHORT_HOSTNAME}] TLSA Manager » Activity - ${WHM_VERSION}</title>`);
      expect(r.body).toContain('id="tlsa-manager"');
      const footer = join(dir, '_generated_footer_files/footer.html');
      const savedFooter = readFileSync(footer);
      rmSync(footer);
      try {
        const p = await get(whm.url('/activity'));
        expect(p.body).toContain('<body class="tlsam tlsam-standalone">');
      } finally {
        writeFileSync(footer, savedFooter, { mode: 0o600 });
      }
    } finally {
      writeFileSync(skip, saved, { mode: 0o600 });
    }
  });
});

describe('standalone mode keeps its own layout', () => {
  it('ignores a chrome request over TCP', async () => {
    const ctx = fx.context();
    const srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: 'chrome-test-token', services: testServices(ctx) });
    try {
      const port = (srv.server.address() as AddressInfo).port;
      const login = await http({ port }, 'GET', '/login?token=chrome-test-token');
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      const r = await http({ port }, 'GET', '/domains', { headers: { cookie, 'x-tlsa-chrome': 'whm' } });
      expect(r.status).toBe(200);
      expect(r.body.startsWith('<!doctype html>')).toBe(true);
      expect(r.body).toContain('<body class="tlsam tlsam-standalone">');
      expect(r.headers['x-tlsa-fragment']).toBeUndefined();
      expect(String(r.headers['content-security-policy'])).toMatch(/script-src 'nonce-[^']+';/);
    } finally {
      await srv.close();
    }
  });
});
