// Issue 21, "the timer's health is measured at its end": lastReconcile and the outcome are
// written when a run finishes; a failed run, a phase that overruns its bound and a run killed in
// the middle raise `timer-failed` (by the next run and by the daemon's watchdog) and set the
// success metric to 0; a good run resolves it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertStore, recordEvents } from '../../src/alerts/notify.js';
import { watchdogTick } from '../../src/alerts/watchdog.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { lastOutcome } from '../../src/hooks/timer-health.js';
import { metricsText } from '../../src/metrics/metrics.js';
import { makeFakeRoot } from '../helpers/fake-root.js';

const CLI = join(process.cwd(), 'dist/cli.js');
let hang: Server;
let hanging = true;
let hangUrl = '';
beforeAll(async () => {
  if (spawnSync('test', ['-e', CLI]).status !== 0) spawnSync('npm', ['run', 'build'], { stdio: 'ignore' });
  // A webhook receiver that accepts and never answers: delivery hangs until its own timeout.
  hang = createServer((_req, res) => {
    if (!hanging) res.writeHead(204).end();
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`;
});
afterAll(() => {
  hang.closeAllConnections();
  return new Promise<void>((r) => hang.close(() => r()));
});

function rootWith(config: Record<string, unknown> = {}): string {
  return makeFakeRoot({ domains: { 'pub.test': 'pub' }, local: ['pub.test'], files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, alerts: { cpanelNotifications: false }, ...config }) } });
}

function ctxOf(root: string): AppContext {
  return createContext({ root, logger: createLogger({ level: 'silent' }) });
}

const openKinds = (ctx: AppContext) => alertStore(ctx).open().map((a) => a.kind);
const success = async (ctx: AppContext) => /^tlsa_manager_last_reconcile_success\{[^}]*\} (\d)$/m.exec(await metricsText(ctx))?.[1];

describe('timer health', () => {
  it('a run with a failing phase finishes, records its outcome at the end and raises timer-failed; the next good run resolves it', async () => {
    const root = rootWith();
    // The import phase cannot make its directory (a file is in the way): that phase fails alone.
    mkdirSync(join(root, 'var/spool/tlsa-manager'), { recursive: true });
    writeFileSync(join(root, 'var/spool/tlsa-manager/import'), 'in the way');
    const ctx = ctxOf(root);
    const before = Date.now();
    const r = await reconcile(ctx, { force: true });
    expect(r.failed).toBe(true);
    expect(r.summary).toMatch(/^import: /m);
    expect(Date.parse(ctx.state().getMeta('lastReconcile')!)).toBeGreaterThanOrEqual(before);
    expect(lastOutcome(ctx)).toMatchObject({ ok: false, how: 'finished', failures: [expect.stringMatching(/^import: /)] });
    expect(openKinds(ctx)).toEqual(['timer-failed']);
    expect(await success(ctx)).toBe('0');

    rmSync(join(root, 'var/spool/tlsa-manager/import'));
    const good = await reconcile(ctxOf(root), { force: true });
    expect(good.failed).toBe(false);
    expect(lastOutcome(ctx)).toMatchObject({ ok: true });
    expect(openKinds(ctx)).toEqual([]);
    expect(await success(ctx)).toBe('1');
  });

  it('a phase that overruns its bound is left behind: the run goes on, finishes, and counts as failed', async () => {
    const root = rootWith({ alerts: { cpanelNotifications: false, webhook: { url: hangUrl, secret: 'hang-secret-0123456789abcdef' } } });
    const ctx = ctxOf(root);
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'domain:x.test', kind: 'domain-degraded', severity: 'critical', subject: 'x.test', domain: 'x.test', title: 't', detail: 'd' } }]);
    const t0 = Date.now();
    const r = await reconcile(ctx, { force: true, phaseLimitsMs: { alerts: 300 } });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.summary).toMatch(/^alerts: took longer than 0 s; left for the next run$/m);
    expect(lastOutcome(ctx)).toMatchObject({ ok: false, failures: ['alerts: took longer than 0 s; left for the next run'] });
    expect(openKinds(ctx).sort()).toEqual(['domain-degraded', 'timer-failed']);
  });

  it('a run killed in the middle is noticed by the daemon (metric at once, alert at its tick); the next good run resolves it', async () => {
    const root = rootWith({ alerts: { cpanelNotifications: false, webhook: { url: hangUrl, secret: 'hang-secret-0123456789abcdef' } } });
    const ctx = ctxOf(root);
    await reconcile(ctx, { force: true });
    expect(await success(ctx)).toBe('1');
    // Something to deliver, to a receiver that never answers: the run sits in its alerts phase.
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'domain:y.test', kind: 'domain-degraded', severity: 'critical', subject: 'y.test', domain: 'y.test', title: 't', detail: 'd' } }]);
    const child = spawn(process.execPath, [CLI, 'reconcile', '--force', '--root', root], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    while (!ctx.state().getMeta('reconcileRunning') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(ctx.state().getMeta('reconcileRunning')).toContain(`"pid":${child.pid}`);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;

    // The daemon's view at once (metrics), and its watchdog tick raises the alert.
    expect(await success(ctx)).toBe('0');
    hanging = false;
    hang.closeAllConnections();
    await watchdogTick(ctx, Date.now());
    expect(openKinds(ctx)).toContain('timer-failed');
    expect(alertStore(ctx).open().find((a) => a.kind === 'timer-failed')!.detail).toMatch(/stopped without finishing \(it crashed or was killed\)/);

    // The next run finishes well: the incident is resolved, the marker cleared.
    const r = await reconcile(ctxOf(root), { force: true });
    expect(r.failed).toBe(false);
    expect(openKinds(ctx)).not.toContain('timer-failed');
    expect(ctx.state().getMeta('reconcileRunning')).toBe('');
    expect(await success(ctx)).toBe('1');
  });

  it('without the daemon, the next run notices a run that died and raises timer-failed before its own work', async () => {
    const root = rootWith();
    const ctx = ctxOf(root);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    ctx.state().setMeta('reconcileRunning', JSON.stringify({ startedAt: new Date(Date.now() - 60_000).toISOString(), pid: Number(dead.stdout) }));
    await reconcile(ctx, { force: true });
    const rows = ctx.state().db.prepare("SELECT detail, resolved_at FROM alerts WHERE kind = 'timer-failed'").all() as { detail: string; resolved_at: number | null }[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.detail).toMatch(/stopped without finishing \(it crashed or was killed\)/);
    // This run itself finished well, so it also closed the incident.
    expect(rows[0]!.resolved_at).not.toBeNull();
  });
});
