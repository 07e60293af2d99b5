import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { createContext, createLogger } from '../../src/context.js';
import { recordEvents } from '../../src/alerts/notify.js';
import { MtaStsStore } from '../../src/mtasts/store.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const CONTRIB = join(process.cwd(), 'contrib');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The real promtool (Debian package prometheus); lints names, HELP/TYPE, label syntax. */
function promtoolCheck(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const NOW = Date.UTC(2026, 10, 29, 12);
const DAY = 86_400_000;

function check(domain: string, verdict: string, dnssec: { signed: boolean | null; ds: boolean | null }, mx: unknown[] = []) {
  return { domain, time: new Date(NOW - 3_600_000).toISOString(), verdict, message: '', fix: '', mxSecure: true, dnssec, mx };
}

function seededRoot(): string {
  const root = makeFakeRoot({
    hostname: 'cp1.metrics.test',
    domains: { 'ok.test': 'a', 'bad.test': 'a', 'plain.test': 'b', 'new.test': 'b' },
    local: ['ok.test', 'bad.test', 'plain.test', 'new.test'],
    zones: { 'ok.test': cpanelZone('ok.test', ['ok.test. IN MX 10 mail.ok.test.', 'mail IN A 192.0.2.10']) },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  ctx.now = () => NOW;
  const state = ctx.state();
  const port = (notAfter: string) => ({ port: 25, address: '192.0.2.10', verdict: 'valid', message: '', presentedNotAfter: notAfter });
  state.saveCheck('ok.test', 'valid', check('ok.test', 'valid', { signed: true, ds: true }, [{ host: 'mail.ok.test', tlsa: [{ usage: 2, selector: 1, matchingType: 1, data: 'aa' }], ports: [port(new Date(NOW + 30 * DAY).toISOString())] }]), new Date(NOW - 3_600_000).toISOString());
  state.saveCheck('bad.test', 'tlsa-mismatch', check('bad.test', 'tlsa-mismatch', { signed: true, ds: true }), new Date(NOW - 7_200_000).toISOString());
  state.saveCheck('plain.test', 'no-dnssec', check('plain.test', 'no-dnssec', { signed: false, ds: false }), new Date(NOW - 7_200_000).toISOString());
  state.recordApplied('ok.test', [1, 2, 3].map((i) => ({ owner: `_${i}._tcp.mail.ok.test`, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data: `0${i}` })), [], NOW);
  state.setMeta('lastReconcile', new Date(NOW - 600_000).toISOString());
  state.setMeta('publishFailuresTotal', '4');
  const sts = new MtaStsStore(state.db);
  sts.ensure('ok.test', 'testing', new Date(NOW).toISOString());
  sts.setMode('ok.test', 'enforce', new Date(NOW).toISOString());
  sts.ensure('bad.test', 'testing', new Date(NOW).toISOString());
  // A row for a domain no account holds is not a customer domain: not counted.
  sts.ensure('gone.test', 'enforce', new Date(NOW).toISOString());
  state.setMeta('publishStreak:bad.test', '2');
  recordEvents(ctx, [{ type: 'raise', incident: { key: 'domain:bad.test', kind: 'domain-degraded', severity: 'critical', subject: 'bad.test', domain: 'bad.test', title: 't', detail: 'd' } }], NOW);
  state.close();
  return root;
}

describe('Prometheus exposition', () => {
  it('`tlsa-manager metrics` prints what the state database holds, and promtool accepts it', () => {
    const root = seededRoot();
    const r = cli(['metrics', '--root', root]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const text = r.stdout;
    const lint = promtoolCheck(text);
    expect(lint.out).toBe('');
    expect(lint.status).toBe(0);
    const sample = (name: string, labels: string) => new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text)?.[1];
    const s = 'server="cp1.metrics.test"';
    expect(sample('tlsa_manager_domains', `verdict="valid",${s}`)).toBe('1');
    expect(sample('tlsa_manager_domains', `verdict="tlsa-mismatch",${s}`)).toBe('1');
    expect(sample('tlsa_manager_domains', `verdict="no-dnssec",${s}`)).toBe('1');
    expect(sample('tlsa_manager_domains', `verdict="unchecked",${s}`)).toBe('1');
    expect(sample('tlsa_manager_domains_dnssec', `state="secure",${s}`)).toBe('2');
    expect(sample('tlsa_manager_domains_dnssec', `state="unsigned",${s}`)).toBe('1');
    expect(sample('tlsa_manager_tlsa_records_managed', s)).toBe('3');
    expect(sample('tlsa_manager_mta_sts_domains', `state="enforce",${s}`)).toBe('1');
    expect(sample('tlsa_manager_mta_sts_domains', `state="testing",${s}`)).toBe('1');
    expect(sample('tlsa_manager_mta_sts_domains', `state="off",${s}`)).toBe('2');
    expect(sample('tlsa_manager_publish_failures_total', s)).toBe('4');
    expect(sample('tlsa_manager_zones_publish_failing', s)).toBe('1');
    expect(sample('tlsa_manager_alerts_open', `kind="domain-degraded",severity="critical",${s}`)).toBe('1');
    expect(sample('tlsa_manager_alerts_open', `kind="domain-degraded",severity="warning",${s}`)).toBe('0');
    expect(sample('tlsa_manager_alerts_open', `kind="timer-failed",severity="critical",${s}`)).toBe('0');
    // lastReconcile set by hand, no outcome recorded: not known to have succeeded.
    expect(sample('tlsa_manager_last_reconcile_success', s)).toBe('0');
    expect(sample('tlsa_manager_last_reconcile_timestamp_seconds', s)).toBe(String((NOW - 600_000) / 1000));
    expect(sample('tlsa_manager_last_check_timestamp_seconds', s)).toBe(String((NOW - 3_600_000) / 1000));
    expect(sample('tlsa_manager_certificate_expiry_timestamp_seconds', `host="mail.ok.test",${s}`)).toBe(String((NOW + 30 * DAY) / 1000));
    expect(text).toMatch(/^# TYPE tlsa_manager_publish_failures_total counter$/m);
  });

  it('`reconcile --metrics-file` writes the file atomically (0644, no temp file left) for the textfile collector', () => {
    const root = seededRoot();
    const dir = join(root, 'var/lib/node_exporter');
    execFileSync('mkdir', ['-p', dir]);
    const file = join(dir, 'tlsa_manager.prom');
    const r = cli(['reconcile', '--root', root, '--metrics-file', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(['tlsa_manager.prom']);
    const text = readFileSync(file, 'utf8');
    expect(promtoolCheck(text).status).toBe(0);
    // the reconcile that just ran is what the file reports
    const last = Number(/^tlsa_manager_last_reconcile_timestamp_seconds\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(60);

    const bad = cli(['reconcile', '--root', root, '--metrics-file', join(root, 'no/such/dir/x.prom')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--metrics-file .*no\/such\/dir\/x\.prom: cannot be written/);
  });

  it('the shipped alert rules pass promtool test rules, and use only names the exposition has', () => {
    const r = spawnSync('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: join(CONTRIB, 'prometheus'), encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    const text = cli(['metrics', '--root', seededRoot()]).stdout;
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    for (const f of ['prometheus/alerts.yml', 'grafana/dashboard.json']) {
      const used = new Set([...readFileSync(join(CONTRIB, f), 'utf8').matchAll(/\b(tlsa_manager_[a-z_]+)/g)].map((m) => m[1]));
      expect(used.size).toBeGreaterThan(3);
      for (const name of used) expect(exposed, `${f} uses ${name}`).toContain(name);
    }
    expect(existsSync(join(CONTRIB, 'grafana/dashboard.json'))).toBe(true);
    expect(() => JSON.parse(readFileSync(join(CONTRIB, 'grafana/dashboard.json'), 'utf8'))).not.toThrow();
  });
});
