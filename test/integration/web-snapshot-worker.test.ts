import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { demoFixture, http, type DemoFixture } from './web-fixture.js';

/**
 * Issue 26: the service (dist, `serve --socket`) builds its snapshot's plan in a worker thread
 * (src/web/snapshot-build.ts), the sources under test build it in-process. Both on the same demo
 * root must show root the same pages and exports, byte for byte once the per-response values are
 * masked (CSP nonce, CSRF token, times and durations).
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const TOKEN = '/cpsess0123456789';
let fx: DemoFixture;
let inProcess: RunningServer;
let service: ChildProcess;
let serviceLog = '';
let sockA: string;
let sockB: string;

beforeAll(async () => {
  fx = await demoFixture();
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  sockA = join(fx.dir, 'run/a.sock');
  sockB = join(fx.dir, 'run/b.sock');
  inProcess = await startServer(fx.context(), { kind: 'socket', path: sockA });
  service = spawn(process.execPath, [CLI, 'serve', '--socket', sockB, '--root', fx.root], { env: { ...process.env, TLSA_MANAGER_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'ignore', 'pipe'] });
  service.stderr!.on('data', (d: Buffer) => (serviceLog += d.toString()));
  for (let i = 0; i < 300 && !existsSync(sockB); i++) await sleep(50);
}, 60_000);

afterAll(async () => {
  await inProcess?.close();
  if (service && service.exitCode === null) {
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
  }
  fx?.cleanup();
});

const mask = (s: string) =>
  s
    .replace(/nonce-[A-Za-z0-9+/=_-]+/g, 'nonce-X')
    .replace(/nonce="[^"]*"/g, 'nonce="X"')
    .replace(/name="_csrf" value="[^"]*"/g, 'csrf')
    .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?Z| UTC)/g, 'TIME')
    .replace(/\d+(\.\d+)? ?(ms|s)\b/g, 'DUR');

const page = async (sock: string, path: string) => {
  const r = await http({ socketPath: sock }, 'GET', path, { headers: { 'x-tlsa-remote-user': 'root', 'x-tlsa-security-token': TOKEN, accept: 'text/html' } });
  return `${r.status}\n${mask(r.body)}`;
};

describe('the snapshot built in a worker thread (the service) and in-process (the sources)', () => {
  it('shows root the same pages and exports', async () => {
    expect(existsSync(join(process.cwd(), 'dist/web/snapshot-worker.js'))).toBe(true);
    const paths = ['/', '/domains', '/domains?page=2', '/domains?category=unprotected', '/domains?sort=expiry&dir=desc', '/export/audit.csv', '/export/audit.json', ...fx.manifest.domains.map((d) => `/domains/${encodeURIComponent(d.name)}`)];
    for (const p of paths) {
      const a = await page(sockA, p);
      const b = await page(sockB, p);
      expect(a.startsWith('200\n'), p).toBe(true);
      expect(b, p).toBe(a);
    }
    expect(serviceLog).toContain('snapshot plan built in a worker thread');
  }, 180_000);
});
