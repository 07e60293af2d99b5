import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore, deliverDue, queueReminders, recordEvents } from '../../src/alerts/notify.js';
import { watchdogTick } from '../../src/alerts/watchdog.js';
import { CHECK_KIND, schedule } from '../../src/checks/scheduled.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';

const H = 3_600_000;
const T = Date.UTC(2026, 10, 29, 12);
const SECRET = 'outbox-secret-0123456789abcdef';
let up = true;
const got: { event: string; kind: string }[] = [];
let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!up) return void res.writeHead(502).end();
      got.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: string; kind: string });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function rootWith(extra: Record<string, unknown> = {}): string {
  const pki = makePki();
  const host = 'mail.pub.test';
  return makeFakeRoot({
    domains: { 'pub.test': 'pub' },
    local: ['pub.test'],
    zones: { 'pub.test': cpanelZone('pub.test', ['pub.test. IN MX 10 mail.pub.test.', 'mail IN A 192.0.2.10']) },
    domainTls: { [host]: readFileSync(pki.leaf(host).combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { ttl: 300 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, alerts: { cpanelNotifications: false, webhook: { url, secret: SECRET } }, ...extra }) },
  });
}

function ctxAt(root: string, at: number): AppContext {
  const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
  c.now = () => at;
  return c;
}

const noSleep = { webhookSleep: async () => undefined };
const incident = { key: 'domain:x.test', kind: 'domain-degraded' as const, severity: 'critical' as const, subject: 'x.test', domain: 'x.test', title: 'DANE broke for x.test', detail: 'd' };

describe('alert outbox', () => {
  it('a channel that fails is retried with back-off (1, 2, 4 min) and shown as failing; nothing is lost', async () => {
    const root = rootWith();
    got.length = 0;
    up = false;
    recordEvents(ctxAt(root, T), [{ type: 'raise', incident }]);
    expect(await deliverDue(ctxAt(root, T), { now: T, ...noSleep })).toEqual({ delivered: 0, failed: 1, held: 0 });
    const store = alertStore(ctxAt(root, T));
    expect(store.failingChannels()).toMatchObject([{ channel: 'webhook', pending: 1, attempts: 1, nextAttemptAt: T + 60_000 }]);
    expect(store.failingChannels()[0]!.lastError).toMatch(/HTTP 502 from 127\.0\.0\.1:\d+ \(after 3 attempts\)/);
    expect(store.failingChannels()[0]!.lastError).not.toContain(SECRET);
    expect(await deliverDue(ctxAt(root, T + 30_000), { now: T + 30_000, ...noSleep })).toEqual({ delivered: 0, failed: 0, held: 0 });
    expect(await deliverDue(ctxAt(root, T + 60_000), { now: T + 60_000, ...noSleep })).toEqual({ delivered: 0, failed: 1, held: 0 });
    expect(store.failingChannels()[0]!.nextAttemptAt).toBe(T + 60_000 + 120_000);
    up = true;
    expect(await deliverDue(ctxAt(root, T + 180_000), { now: T + 180_000, ...noSleep })).toEqual({ delivered: 1, failed: 0, held: 0 });
    expect(got.map((g) => g.event)).toEqual(['raised']);
    expect(store.failingChannels()).toEqual([]);
  });

  it('the timer and the daemon delivering at the same moment send each message once', async () => {
    const root = rootWith();
    got.length = 0;
    recordEvents(ctxAt(root, T), [{ type: 'raise', incident }]);
    const [a, b] = await Promise.all([deliverDue(ctxAt(root, T), { now: T }), deliverDue(ctxAt(root, T), { now: T })]);
    expect(a.delivered + b.delivered).toBe(1);
    expect(got.map((g) => g.event)).toEqual(['raised']);
  });

  it('re-notifies an open alert once a day, not more', async () => {
    const root = rootWith();
    got.length = 0;
    recordEvents(ctxAt(root, T), [{ type: 'raise', incident }]);
    recordEvents(ctxAt(root, T + H), [{ type: 'raise', incident }]); // still open: deduplicated
    await deliverDue(ctxAt(root, T), { now: T });
    expect(queueReminders(ctxAt(root, T + 23 * H), T + 23 * H)).toBe(0);
    expect(queueReminders(ctxAt(root, T + 24 * H), T + 24 * H)).toBe(1);
    expect(queueReminders(ctxAt(root, T + 25 * H), T + 25 * H)).toBe(0);
    await deliverDue(ctxAt(root, T + 25 * H), { now: T + 25 * H });
    expect(got.map((g) => g.event)).toEqual(['raised', 'reminder']);
  });

  it('the daemon raises "timer stalled" after two missed intervals, once, and resolves when it runs again', async () => {
    const root = rootWith();
    got.length = 0;
    const c = ctxAt(root, T);
    c.state().setMeta('lastReconcile', new Date(T - 9 * 60_000).toISOString());
    await watchdogTick(c, T - H);
    expect(alertStore(c).open()).toEqual([]);
    const later = ctxAt(root, T + 2 * 60_000);
    await watchdogTick(later, T - H);
    await watchdogTick(later, T - H);
    expect(alertStore(later).open().map((a) => a.kind)).toEqual(['timer-stalled']);
    later.state().setMeta('lastReconcile', new Date(T + 2 * 60_000).toISOString());
    await watchdogTick(later, T - H);
    expect(alertStore(later).open()).toEqual([]);
    expect(got.map((g) => `${g.event}:${g.kind}`)).toEqual(['raised:timer-stalled', 'resolved:timer-stalled']);
  });

  it('a publish that fails twice raises one alert, a good publish resolves it and schedules a check when senders can see it', async () => {
    const root = rootWith();
    got.length = 0;
    const configFile = join(root, 'etc/tlsa-manager/config.json');
    const cfg = JSON.parse(readFileSync(configFile, 'utf8'));
    const publish = async (reload: string[], at: number) => {
      writeFileSync(configFile, JSON.stringify({ ...cfg, cpanel: { ...cfg.cpanel, reloadCommand: reload } }), { mode: 0o600 });
      const c = ctxAt(root, at);
      const providers = new Providers(c);
      const results = await applyPlan(c, providers, await makePlan(c, providers), 'test');
      return { c, results };
    };
    const first = await publish(['false'], T);
    expect(first.results[0]!.problem).toBeDefined();
    expect(alertStore(first.c).open()).toEqual([]);
    const second = await publish(['false'], T + 60_000);
    expect(alertStore(second.c).open().map((a) => [a.kind, a.subject])).toEqual([['publish-failed', 'pub.test']]);
    const ok = await publish(['true'], T + 120_000);
    expect(ok.results[0]!.problem).toBeUndefined();
    expect(alertStore(ok.c).open()).toEqual([]);
    // Only new records: a cached "no such record" lives for the zone's negative TTL, min(SOA TTL 86400, minimum 86400), plus a minute.
    expect(schedule(ok.c).get(CHECK_KIND, 'pub.test')).toMatchObject({ dueAt: T + 120_000 + 86_400_000 + 60_000, reason: 'after publish' });
    await deliverDue(ok.c, { now: T + 120_000 });
    expect(got.map((g) => `${g.event}:${g.kind}`)).toEqual(['raised:publish-failed', 'resolved:publish-failed']);
  });
});
