// (5) Web list pages on the large root, timed in the server: from the request's arrival at the
// HTTP server to the response's 'finish' (an in-process node:http server in front of the app,
// requests sent with fetch over loopback). Then the WHM CGI shim's added latency: the same page
// through plugin/cgi/index.cgi vs a direct request over the same unix socket.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, createLogger } from '../dist/context.js';
import { createWebApp } from '../dist/web/app.js';
import { startServer } from '../dist/web/server.js';
import { maxRssKB, REPO } from './lib.mjs';
import { freshCopy, median, percentile } from './work-root.mjs';

const source = process.argv[2];
const REQUESTS = 50;
const WARMUP = 3;
// The app opens its state database in the root: use a copy, not the shared root.
const root = freshCopy(source, 'web');
const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });

// ---- list pages, standalone -------------------------------------------------------------------
// The app takes a reusable password (as TLSA_MANAGER_WEB_TOKEN gives it) and logs in with it.
const PASSWORD = 'bench-login-token-0123456789';
const web = createWebApp(ctx, { mode: 'standalone', loginToken: PASSWORD });
let t0 = performance.now();
const data = await web.snapshot.refresh();
const snapshotMs = performance.now() - t0;

const serverTimes = [];
const server = createServer((req, res) => {
  const start = process.hrtime.bigint();
  res.on('finish', () => serverTimes.push(Number(process.hrtime.bigint() - start) / 1e6));
  web.app(req, res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const login = await fetch(`${base}/login?token=${PASSWORD}`, { redirect: 'manual' });
const cookie = login.headers.get('set-cookie')?.split(';')[0];
if (!cookie) throw new Error(`login failed: ${login.status}`);

const someDomain = data.rows[Math.floor(data.rows.length / 2)].domain;
const pages = {
  first: '/domains',
  search: `/domains?q=${encodeURIComponent(someDomain.slice(0, 6))}`,
  filtered: '/domains?category=unprotected',
  sorted: '/domains?sort=expiry&dir=desc&page=3',
};
const results = {};
for (const [name, path] of Object.entries(pages)) {
  const get = async () => {
    const r = await fetch(`${base}${path}`, { headers: { cookie, accept: 'text/html' } });
    const body = await r.text();
    if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${body.slice(0, 300)}`);
    return body.length;
  };
  serverTimes.length = 0;
  await get();
  const cold = serverTimes[0];
  for (let i = 1; i < WARMUP; i++) await get();
  serverTimes.length = 0;
  let bytes = 0;
  for (let i = 0; i < REQUESTS; i++) bytes = await get();
  results[name] = { path, coldMs: round(cold), p50: round(percentile(serverTimes, 50)), p95: round(percentile(serverTimes, 95)), max: round(Math.max(...serverTimes)), kB: Math.round(bytes / 1024) };
}
await new Promise((r) => server.close(r));

// ---- CGI shim vs direct, over the app's unix socket (socket mode) ------------------------------
const dir = mkdtempSync(join(tmpdir(), 'tlsa-bench-sock-'));
const sock = join(dir, 'web.sock');
const running = await startServer(ctx, { kind: 'socket', path: sock });
await running.web.snapshot.refresh();
const TOKEN = '/cpsess0123456789';
const ROUTE = '/domains';

function direct() {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request({ socketPath: sock, method: 'GET', path: `/?route=${encodeURIComponent(ROUTE)}`, headers: { host: 'tlsa-manager', connection: 'close', 'x-tlsa-remote-user': 'root', 'x-tlsa-security-token': TOKEN } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - start) / 1e6) : reject(new Error(`direct: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

function viaShim() {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const env = { PATH: '/usr/bin:/bin', REMOTE_USER: 'root', cp_security_token: TOKEN, REQUEST_METHOD: 'GET', QUERY_STRING: `route=${encodeURIComponent(ROUTE)}`, TLSA_MANAGER_SOCKET: sock };
    const child = spawn(join(REPO, 'plugin/cgi/index.cgi'), [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let head = '';
    child.stdout.on('data', (c) => {
      if (head.length < 200) head += c.toString('latin1');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0 || /^Status: (?!200)/m.test(head.split('\r\n\r\n')[0])) reject(new Error(`shim: exit ${code}, head ${head.slice(0, 200)}`));
      else resolve(ms);
    });
  });
}

for (let i = 0; i < WARMUP; i++) {
  await direct();
  await viaShim();
}
const directMs = [];
const shimMs = [];
for (let i = 0; i < REQUESTS; i++) {
  directMs.push(await direct());
  shimMs.push(await viaShim());
}
await running.close();
rmSync(dir, { recursive: true, force: true });

console.log(JSON.stringify({
  domains: data.rows.length,
  snapshotMs: Math.round(snapshotMs),
  requests: REQUESTS,
  pages: results,
  shim: {
    route: ROUTE,
    directP50: round(median(directMs)),
    directP95: round(percentile(directMs, 95)),
    shimP50: round(median(shimMs)),
    shimP95: round(percentile(shimMs, 95)),
    overheadP50: round(median(shimMs) - median(directMs)),
    overheadP95: round(percentile(shimMs, 95) - percentile(directMs, 95)),
  },
  maxRssKB: maxRssKB(),
}));

function round(x) {
  return Math.round(x * 10) / 10;
}
