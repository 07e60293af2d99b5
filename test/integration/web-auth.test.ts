import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { saveConfig } from '../../src/state/config.js';
import { cookieFrom, csrfFrom, demoFixture, http, testServices, type DemoFixture } from './web-fixture.js';

let fx: DemoFixture;
let standalone: RunningServer;
let port: number;
const TOKEN = 'test-login-token-0123456789abcdef';

beforeAll(async () => {
  fx = await demoFixture();
  const ctx = fx.context();
  standalone = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: TOKEN, services: testServices(ctx) });
  port = (standalone.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await standalone?.close();
  fx?.cleanup();
});

const html = { accept: 'text/html' };

const BIG = 160 * 1024;

/**
 * A form POST that announces a 160 kB body (20,000 fields) but sends only its first kilobyte and
 * waits. A body parser must have the whole body before it can run, so an answer that arrives now
 * proves the request was judged without reading or parsing the body.
 */
function halfSentPost(target: { port?: number; socketPath?: string }, path: string, headers: Record<string, string> = {}): Promise<number | 'no answer'> {
  const body = 'f=xxxxxx&'.repeat(20_000).padEnd(BIG, 'x');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', ...target, method: 'POST', path, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(BIG) } });
    const timer = setTimeout(() => {
      req.destroy();
      resolve('no answer');
    }, 10_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    req.write(body.slice(0, 1024));
  });
}

async function login(): Promise<{ cookie: string; csrf: string }> {
  const r = await http({ port }, 'GET', `/login?token=${TOKEN}`);
  expect(r.status).toBe(303);
  const cookie = cookieFrom(r);
  const page = await http({ port }, 'GET', '/settings', { headers: { cookie, ...html } });
  expect(page.status).toBe(200);
  return { cookie, csrf: csrfFrom(page.body) };
}

describe('standalone authentication', () => {
  const pages = ['/', '/domains', '/domains/alpha-demo.test', '/settings', '/activity', '/jobs', '/export/audit.csv', '/export/audit.json', '/static/app.css', '/api/jobs/abc', '/?route=/domains'];

  it.each(pages)('GET %s without a session redirects browsers to the login page and refuses others', async (path) => {
    const browser = await http({ port }, 'GET', path, { headers: html });
    if (path.startsWith('/api/')) expect(browser.status).toBe(401);
    else {
      expect(browser.status).toBe(303);
      expect(browser.headers.location).toBe('/login');
    }
    const script = await http({ port }, 'GET', path);
    expect(script.status).toBe(401);
    expect(script.body).not.toContain('alpha-demo.test');
  });

  it('refuses POSTs without a session', async () => {
    for (const path of ['/settings', '/jobs', '/rescan', '/domains/alpha-demo.test/publish']) {
      const r = await http({ port }, 'POST', path, { form: { action: 'publish', all: '1' } });
      expect(r.status).toBe(401);
    }
  });

  it('refuses a large POST without a session before reading its body', async () => {
    for (const path of ['/settings', '/jobs', '/?route=%2Fsettings']) expect(await halfSentPost({ port }, path)).toBe(401);
    // The login form is the one body read without a session; it is small, and a big one is refused by its size.
    expect(await halfSentPost({ port }, '/login')).toBe(413);
    // The server is still fine afterwards.
    expect((await http({ port }, 'GET', '/login')).status).toBe(200);
  });

  it('shows the login page without a session, and rejects a wrong token without a cookie', async () => {
    const page = await http({ port }, 'GET', '/login');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Login token');
    const wrong = await http({ port }, 'GET', '/login?token=not-the-token');
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const prefix = await http({ port }, 'POST', '/login', { form: { token: TOKEN.slice(0, -1) } });
    expect(prefix.status).toBe(401);
    expect(prefix.headers['set-cookie']).toBeUndefined();
  });

  it('logs in with the token (link or form) and sets an HttpOnly SameSite=Strict session cookie', async () => {
    const r = await http({ port }, 'GET', `/login?token=${TOKEN}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^tlsa_session=[A-Za-z0-9_-]{40,};/);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).not.toContain(TOKEN);
    const home = await http({ port }, 'GET', '/', { headers: { cookie: cookieFrom(r), ...html } });
    expect(home.status).toBe(200);
    expect(home.body).toContain('DANE status of');

    const viaForm = await http({ port }, 'POST', '/login', { form: { token: TOKEN } });
    expect(viaForm.status).toBe(303);
    const forged = await http({ port }, 'GET', '/', { headers: { cookie: 'tlsa_session=forged-session-id', ...html } });
    expect(forged.status).toBe(303);
  });

  it('logging out ends the session', async () => {
    const { cookie, csrf } = await login();
    const out = await http({ port }, 'POST', '/logout', { headers: { cookie }, form: { _csrf: csrf } });
    expect(out.status).toBe(303);
    const after = await http({ port }, 'GET', '/', { headers: { cookie } });
    expect(after.status).toBe(401);
  });

  it('sends the security headers with a per-response nonce that the page scripts carry', async () => {
    const { cookie } = await login();
    const a = await http({ port }, 'GET', '/', { headers: { cookie, ...html } });
    const b = await http({ port }, 'GET', '/', { headers: { cookie, ...html } });
    const csp = String(a.headers['content-security-policy']);
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src 'nonce-${nonce}'`);
    expect(csp).not.toContain('unsafe-inline');
    expect(String(b.headers['content-security-policy'])).not.toContain(nonce);
    expect(a.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect(a.headers['referrer-policy']).toBe('same-origin');
    const scripts = a.body.match(/<script[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) expect(s).toContain(`nonce="${nonce}"`);
    expect(a.body).not.toMatch(/\son[a-z]+\s*=/i);
  });
});

describe('CSRF', () => {
  it('rejects state-changing requests without the session-bound token and changes nothing', async () => {
    const { cookie, csrf } = await login();
    const other = await login();
    const before = readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8');
    const form = { ttl: '600', ports: '25', records: '3 1 1' };
    const none = await http({ port }, 'POST', '/settings', { headers: { cookie }, form });
    expect(none.status).toBe(403);
    const foreign = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...form, _csrf: other.csrf } });
    expect(foreign.status).toBe(403);
    const garbage = await http({ port }, 'POST', '/jobs', { headers: { cookie, 'x-csrf-token': 'x' }, form: { action: 'publish', all: '1' } });
    expect(garbage.status).toBe(403);
    expect(readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8')).toBe(before);
    expect(standalone.web.jobs.list()).toHaveLength(0);
    const ok = await http({ port }, 'POST', '/settings', { headers: { cookie }, form: { ...form, _csrf: csrf } });
    expect(ok.status).toBe(303);
    expect(JSON.parse(readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8')).policy.ttl).toBe(600);
  });

  it('never changes state on GET', async () => {
    const { cookie } = await login();
    const jobsBefore = standalone.web.jobs.list().length;
    const r = await http({ port }, 'GET', '/domains/alpha-demo.test/publish', { headers: { cookie, ...html } });
    expect(r.status).toBe(404);
    await http({ port }, 'GET', '/settings?ttl=999&ports=1', { headers: { cookie, ...html } });
    expect(JSON.parse(readFileSync(join(fx.root, 'etc/tlsa-manager/config.json'), 'utf8')).policy.ttl).not.toBe(999);
    expect(standalone.web.jobs.list().length).toBe(jobsBefore);
  });
});

describe('socket mode (behind the WHM CGI shim)', () => {
  let sock: RunningServer;
  let tcpTwin: Server;
  let twinPort: number;
  let sockPath: string;
  const whm = { 'x-tlsa-remote-user': 'root', 'x-tlsa-security-token': '/cpsess0123456789', accept: 'text/html' };

  beforeAll(async () => {
    const dir = join(fx.dir, 'run');
    mkdirSync(dir, { mode: 0o700 });
    sockPath = join(dir, 'web.sock');
    const ctx = fx.context();
    sock = await startServer(ctx, { kind: 'socket', path: sockPath }, { services: testServices(ctx) });
    // The same socket-mode app reachable over TCP: the forwarded user must not count there.
    tcpTwin = createServer(sock.web.app);
    await new Promise<void>((r) => tcpTwin.listen(0, '127.0.0.1', r));
    twinPort = (tcpTwin.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((r) => tcpTwin?.close(r));
    await sock?.close();
  });

  it('creates the socket with mode 0600', () => {
    const st = statSync(sockPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('accepts root forwarded over the socket and builds WHM links with the security token', async () => {
    const r = await http({ socketPath: sockPath }, 'GET', '/', { headers: whm });
    expect(r.status).toBe(200);
    expect(r.body).toContain('href="/cpsess0123456789/cgi/tlsa_manager/index.cgi?route=%2Fdomains"');
    const routed = await http({ socketPath: sockPath }, 'GET', '/?route=%2Fdomains&q=alpha', { headers: whm });
    expect(routed.status).toBe(200);
    expect(routed.body).toContain('alpha-demo.test');
    expect(routed.body).not.toContain('bravo-demo.test');
  });

  it('refuses users other than root, and a missing user', async () => {
    for (const user of ['alice', 'Root', 'root,root', 'nobody', '']) {
      const r = await http({ socketPath: sockPath }, 'GET', '/', { headers: { ...whm, 'x-tlsa-remote-user': user } });
      expect(r.status).toBe(403);
    }
    const none = await http({ socketPath: sockPath }, 'GET', '/', { headers: { accept: 'text/html' } });
    expect(none.status).toBe(403);
  });

  it('refuses a large POST from anyone but root before reading its body', async () => {
    expect(await halfSentPost({ socketPath: sockPath }, '/?route=%2Fsettings', { ...whm, 'x-tlsa-remote-user': 'alice' })).toBe(403);
    expect(await halfSentPost({ port: twinPort }, '/?route=%2Fsettings', whm)).toBe(403);
  });

  it('ignores the forwarded user on requests that did not come over the socket', async () => {
    const r = await http({ port: twinPort }, 'GET', '/', { headers: whm });
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('alpha-demo.test');
  });

  it('binds CSRF tokens to the WHM session token', async () => {
    const page = await http({ socketPath: sockPath }, 'GET', '/settings', { headers: whm });
    const csrf = csrfFrom(page.body);
    const otherSession = { ...whm, 'x-tlsa-security-token': '/cpsess9999999999' };
    const rejected = await http({ socketPath: sockPath }, 'POST', '/?route=%2Frescan', { headers: otherSession, form: { _csrf: csrf } });
    expect(rejected.status).toBe(403);
    const accepted = await http({ socketPath: sockPath }, 'POST', '/?route=%2Frescan', { headers: whm, form: { _csrf: csrf } });
    expect(accepted.status).toBe(303);
    expect(accepted.headers.location).toMatch(/^\/cpsess0123456789\/cgi\/tlsa_manager\/index\.cgi\?route=%2Fjobs%2F[0-9a-f]{16}$/);
    await sock.web.jobs.idle();
  });

  it('refuses to start when the socket directory is writable by others', async () => {
    const dir = join(fx.dir, 'open');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    await expect(startServer(fx.context(), { kind: 'socket', path: join(dir, 'web.sock') })).rejects.toThrow(/writable by other users/);
  });
});

describe('start-up checks', () => {
  it('refuses to run with a world-readable config that holds a token', async () => {
    const ctx = fx.context();
    const file = join(fx.dir, 'loose-config.json');
    saveConfig(file, { ...ctx.config, cloudflare: { apiToken: 'cf-secret-token-value' } });
    chmodSync(file, 0o644);
    ctx.configPath = file;
    ctx.config = { ...ctx.config, cloudflare: { apiToken: 'cf-secret-token-value' } };
    const err = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/readable by others/);
    expect((err as Error).message).not.toContain('cf-secret-token-value');
  });
});
