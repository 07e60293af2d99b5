import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createContext, type AppContext } from '../../src/context.js';
import { buildDemoRoot, type DemoManifest } from '../../demo/build-root.js';
import { CONFIG_PATH, defaultConfig, saveConfig } from '../../src/state/config.js';
import { defaultServices, type WebServices } from '../../src/web/services.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import type { DomainCheck } from '../../src/dane/verdict.js';
import { checkMtaStsNow, type StsStatusOf } from '../../src/mtasts/scheduled.js';

/** A demo root built once per test file, with a config whose resolver is loopback only. */
export interface DemoFixture {
  dir: string;
  root: string;
  manifest: DemoManifest;
  context(): AppContext;
  cleanup(): void;
}

export async function demoFixture(): Promise<DemoFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-web-'));
  const root = join(dir, 'root');
  const manifest = await buildDemoRoot(root);
  saveConfig(join(root, CONFIG_PATH), { ...defaultConfig(), resolver: '127.0.0.1:9' });
  return {
    dir,
    root,
    manifest,
    context: () => createContext({ root, logger: pino({ level: 'silent' }) }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Real scan/plan/apply; checks replaced by a fake that stores a "no DNSSEC" verdict the way
 * checkDomains does, so no test sends DNS or SMTP traffic.
 */
export function testServices(ctx: AppContext, opts: { stsStatus?: StsStatusOf } = {}): WebServices {
  const real = defaultServices(ctx);
  return {
    ...real,
    // MTA-STS checks run for real (recorded, judged) with a sender's view the test gives; none: nothing covered is checked.
    checkMtaSts: async (domains, onProgress) => (opts.stsStatus ? checkMtaStsNow(ctx, domains, { status: opts.stsStatus, onProgress }) : { covered: [], checked: [], failed: [] }),
    // No DNS from tests: the DNSSEC look that goes with "Check now" sees nothing new.
    dnssecRecheck: async () => undefined,
    async check(domains, onProgress) {
      const out: DomainCheck[] = [];
      for (const domain of domains) {
        const r: DomainCheck = { domain, time: new Date().toISOString(), verdict: 'no-dnssec', message: `The zone of ${domain} is not signed with DNSSEC, so senders ignore TLSA records.`, fix: 'Enable DNSSEC.', mxSecure: false, dnssec: { signed: false, ds: false }, mx: [] };
        ctx.state().saveCheck(domain, r.verdict, r, r.time);
        ctx.state().logActivity({ actor: 'check', kind: 'check', zone: null, subject: domain, detail: r.message, ok: true });
        out.push(r);
        onProgress(out.length, domains.length);
      }
      return out;
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Target {
  port?: number;
  socketPath?: string;
}

/** One HTTP request with full control over headers (cookies included) and no redirect following. */
export function http(target: Target, method: string, path: string, opts: { headers?: Record<string, string>; form?: Record<string, string | string[]> } = {}): Promise<Reply> {
  let body: string | undefined;
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.form) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.form)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    body = p.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', ...target, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export function cookieFrom(r: Reply): string {
  const set = r.headers['set-cookie'];
  const first = Array.isArray(set) ? set[0] : set;
  if (!first) throw new Error(`no Set-Cookie in reply ${r.status}`);
  return first.split(';')[0]!;
}

export function csrfFrom(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF token in page');
  return m[1]!;
}

/** Poll a job's JSON until it finishes. */
export async function waitForJob(target: Target, jobPath: string, headers: Record<string, string>): Promise<{ status: string; summary: string; problems: { code: string; message: string }[] }> {
  for (let i = 0; i < 600; i++) {
    const r = await http(target, 'GET', jobPath, { headers });
    const j = JSON.parse(r.body) as { status: string; summary: string; problems: { code: string; message: string }[] };
    if (j.status === 'done' || j.status === 'failed') return j;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('job did not finish');
}

/** A web server on an ephemeral loopback port with a signed-in session (the standalone token login). */
export async function signedIn(ctx: AppContext, token: string, services: WebServices = testServices(ctx)): Promise<{ srv: RunningServer; port: number; cookie: string }> {
  const srv = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port: 0 }, { loginToken: token, services });
  const port = (srv.server.address() as AddressInfo).port;
  const cookie = cookieFrom(await http({ port }, 'GET', `/login?token=${encodeURIComponent(token)}`));
  return { srv, port, cookie };
}
