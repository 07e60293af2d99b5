// Issue 21 part 6: `tlsa-manager alerts list [--json]` prints the open alerts with the webhook's
// field names (README "Alerts"), acknowledgement fields once acknowledged, exit 0.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { alertStore, recordEvents } from '../../src/alerts/notify.js';
import { createContext, createLogger } from '../../src/context.js';
import { makeFakeRoot } from '../helpers/fake-root.js';

const CLI = join(process.cwd(), 'dist/cli.js');
beforeAll(() => {
  if (spawnSync('test', ['-e', CLI]).status !== 0) spawnSync('npm', ['run', 'build'], { stdio: 'ignore' });
});

function cli(root: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('alerts list', () => {
  it('prints the open alerts (JSON with the webhook field names), resolved ones not, exit 0', () => {
    const root = makeFakeRoot({ domains: { 'a.test': 'u' }, files: { '/etc/tlsa-manager/config.json': JSON.stringify({ alerts: { cpanelNotifications: false } }) } });
    expect(cli(root, ['alerts', 'list'])).toMatchObject({ code: 0, stdout: 'no open alerts\n' });
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    const t0 = Date.UTC(2026, 11, 1, 10);
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'domain:a.test', kind: 'domain-degraded', severity: 'critical', subject: 'a.test', domain: 'a.test', title: 'DANE broke for a.test', detail: 'd' } }], t0);
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'expiry:mail.a.test', kind: 'ta-cert-expiring', severity: 'warning', subject: 'mail.a.test', host: 'mail.a.test', title: 'Certificate of mail.a.test expires \u001b[2Jsoon', detail: 'd' } }], t0 + 60_000);
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'publish:gone.test', kind: 'publish-failed', severity: 'critical', subject: 'gone.test', title: 'gone', detail: 'd' } }], t0);
    recordEvents(ctx, [{ type: 'resolve', key: 'publish:gone.test', detail: 'ok' }], t0 + 1000);
    const id = alertStore(ctx).open().find((a) => a.kind === 'domain-degraded')!.id;
    expect(alertStore(ctx).acknowledge(id, 'admin@example.test', t0 + 120_000)).toBe(true);

    const r = cli(root, ['alerts', 'list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { alertId: id, kind: 'domain-degraded', severity: 'critical', domain: 'a.test', host: null, title: 'DANE broke for a.test', openedAt: '2026-12-01T10:00:00.000Z', acknowledgedAt: '2026-12-01T10:02:00.000Z', acknowledgedBy: 'admin@example.test' },
      { alertId: expect.any(Number), kind: 'ta-cert-expiring', severity: 'warning', domain: null, host: 'mail.a.test', title: 'Certificate of mail.a.test expires \u001b[2Jsoon', openedAt: '2026-12-01T10:01:00.000Z' },
    ]);
    const text = cli(root, ['alerts', 'list']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(text.stdout).toContain('acknowledged by admin@example.test');
    expect(text.stdout).toContain('expires ?[2Jsoon');
    expect(cli(root, ['alerts', 'nope']).code).toBe(2);
  });
});
