import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { listenProblem } from '../../src/web/server.js';
import { testContext } from '../helpers/context.js';
import { openssl } from '../helpers/openssl.js';
import { http, testServices } from '../integration/web-fixture.js';

/**
 * Issue 11, finding 6: the standalone login link works once, for 15 minutes; `tlsa-manager
 * login-link` makes a new one for the running server; TLSA_MANAGER_WEB_TOKEN stays a reusable
 * password; TLS with a Secure cookie; no clear-text listening beyond loopback without --insecure.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
let srv: RunningServer;
let port: number;
let root: string;

beforeAll(async () => {
  const ctx = testContext({});
  root = ctx.root.root;
  srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { services: testServices(ctx) });
  port = (srv.server.address() as AddressInfo).port;
});
afterAll(async () => {
  await srv?.close();
});

const login = (token: string) => http({ port }, 'GET', `/login?token=${encodeURIComponent(token)}`);

describe('one-time login links', () => {
  it('a link signs in once; the second use is refused', async () => {
    const token = srv.web.newLoginLink();
    const first = await login(token);
    expect(first.status).toBe(303);
    expect(first.headers['set-cookie']?.[0]).toMatch(/^tlsa_session=[^;]+;/);
    const again = await login(token);
    expect(again.status).toBe(401);
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('a link older than 15 minutes is refused', async () => {
    const token = srv.web.newLoginLink();
    const db = new Database(join(root, 'var/lib/tlsa-manager/state.db'));
    db.prepare('UPDATE login_links SET expires = ?').run(Date.now() - 1);
    db.close();
    expect((await login(token)).status).toBe(401);
  });

  it('`tlsa-manager login-link` prints a fresh link for the running server', async () => {
    const out = spawnSync(process.execPath, [CLI, 'login-link', '--root', root], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    const url = new URL(out.stdout.trim());
    expect(url.origin).toBe(`http://127.0.0.1:${port}`);
    expect((await login(url.searchParams.get('token')!)).status).toBe(303);
    expect((await login(url.searchParams.get('token')!)).status).toBe(401);
  });

  it('no server ever started: login-link says so (exit 2)', () => {
    const other = testContext({});
    const out = spawnSync(process.execPath, [CLI, 'login-link', '--root', other.root.root], { encoding: 'utf8' });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('No standalone server');
  });
});

describe('TLSA_MANAGER_WEB_TOKEN is a reusable password', () => {
  it('works again and again', async () => {
    const ctx = testContext({});
    const s = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: 'a-long-admin-password-123', services: testServices(ctx) });
    const p = (s.server.address() as AddressInfo).port;
    try {
      for (let i = 0; i < 2; i++) expect((await http({ port: p }, 'GET', '/login?token=a-long-admin-password-123')).status).toBe(303);
    } finally {
      await s.close();
    }
  });
});

describe('transport', () => {
  it('serves over TLS with --tls-cert/--tls-key and marks the session cookie Secure', async () => {
    const ctx = testContext({});
    const dir = root;
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'tls.key'), '-out', join(dir, 'tls.crt'), '-subj', '/CN=127.0.0.1', '-days', '2', '-addext', 'subjectAltName=IP:127.0.0.1']);
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--root', ctx.root.root], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 200 && !/\/login\?token=\S+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const link = new URL(/(https:\/\/\S+\/login\?token=\S+)/.exec(out)![1]!);
      const res = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
        const req = request(link, { ca: readFileSync(join(dir, 'tls.crt')) }, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, cookie: String(r.headers['set-cookie']?.[0] ?? '') });
        });
        req.on('error', reject);
        req.end();
      });
      expect(res.status).toBe(303);
      expect(res.cookie).toMatch(/; Secure/);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('refuses a non-loopback listen address without TLS unless --insecure', () => {
    const ctx = testContext({});
    const r = spawnSync(process.execPath, [CLI, 'serve', '--listen', '0.0.0.0:0', '--root', ctx.root.root], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('not a loopback address');
    expect(listenProblem('192.0.2.1', false, false)).toMatch(/clear text/);
    expect(listenProblem('192.0.2.1', true, false)).toBeNull();
    expect(listenProblem('192.0.2.1', false, true)).toBeNull();
    expect(listenProblem('127.0.0.1', false, false)).toBeNull();
    expect(listenProblem('::1', false, false)).toBeNull();
  });
});
