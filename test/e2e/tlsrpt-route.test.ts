// Issue 23 with real Exim: the TLS-RPT route install.sh adds to /etc/exim.conf.local is watched
// and repaired. The Exim configuration is built the cPanel way, by the buildeximconf stand-in
// (demo/stubs/buildeximconf.mjs) from a cPanel-shaped template and exim.conf.local, checked with
// `exim4 -bV`; mail is submitted locally (`exim4 -C <built> -odi`, no daemon) and the pipe (as
// Debian-exim) runs `tlsrpt ingest` into the spool. Remove our lines the way WHM's Advanced
// Editor does → the timer raises exactly one tlsrpt-route-lost alert (also on its next run) →
// `tlsrpt repair-route` → a report reaches the spool again and the alert clears.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installStubs } from '../../demo/stubs-install.js';
import { buildeximconfTemplate, eximUser } from '../lab/exim.js';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';
import { requireComponents } from '../helpers/components.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const HOST = 'server.route.test';
const ADDRESS = `tlsrpt@${HOST}`;
const APP_BIN = '/usr/local/cpanel/3rdparty/tlsa-manager/bin';
let root: string;
let eximDir: string;
const at = (p: string) => join(root, p);
const spool = () => at('/var/spool/tlsa-manager/tlsrpt');

/** The CLI as root runs it; the lab's pipe user replaces cPanel's mailnull:mail. */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8', env: { ...process.env, TLSA_MANAGER_TLSRPT_PIPE_USER: 'Debian-exim', TLSA_MANAGER_TLSRPT_PIPE_GROUP: 'Debian-exim' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let reportNo = 0;
/** A TLS report to tlsrpt@<hostname>, submitted to the built configuration; Exim delivers at once. */
function sendReport(): number | null {
  reportNo += 1;
  const id = `route-${reportNo}`;
  const report = rfcReport({ org: 'Lab Sender', reportId: id, domain: 'example.net', start: '2026-12-01T00:00:00Z', end: '2026-12-01T23:59:59Z', ok: 10, failures: [] });
  const r = spawnSync('exim4', ['-C', at('/etc/exim.conf'), '-odi', '-oi', '-f', 'reports@sender.test', '--', ADDRESS], { input: tlsrptMail(report, { from: 'reports@sender.test', domain: 'example.net', submitter: 'sender.test', reportId: id, type: 'json' }) });
  return r.status;
}

/** The route incidents in the state database (read-only, as the overview reads them). */
function routeAlerts(): { state: string; title: string; detail: string }[] {
  const db = new Database(at('/var/lib/tlsa-manager/state.db'), { readonly: true });
  try {
    return db.prepare("SELECT title, detail, CASE WHEN resolved_at IS NULL THEN 'open' ELSE 'resolved' END AS state FROM alerts WHERE kind = 'tlsrpt-route-lost' ORDER BY id").all() as { state: string; title: string; detail: string }[];
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  requireComponents('TLS-RPT route lab', ['/usr/sbin/exim4']);
  root = mkdtempSync(join(tmpdir(), 'tlsa-route-'));
  chmodSync(root, 0o755);
  await installStubs(root);
  const ids = await eximUser();
  eximDir = at('/var/lab-exim');
  for (const d of ['spool', 'log', 'mailbox']) {
    mkdirSync(join(eximDir, d), { recursive: true });
    chownSync(join(eximDir, d), ids.uid, ids.gid);
  }
  mkdirSync(at('/etc/tlsa-manager'), { recursive: true });
  writeFileSync(at('/etc/hostname'), `${HOST}\n`);
  // cPanel's buildeximconf template and its validity check (exim -bV on the generated file).
  mkdirSync(at('/var/cpanel/buildeximconf'), { recursive: true });
  writeFileSync(at('/var/cpanel/buildeximconf/template'), buildeximconfTemplate({ dir: eximDir, hostname: HOST }));
  writeFileSync(at('/var/cpanel/buildeximconf/check.json'), JSON.stringify(['exim4', '-bV', '-C']));
  // The server's Exim is this lab's exim4 with the built configuration (config key tlsrpt.eximCommand).
  mkdirSync(at('/usr/sbin'), { recursive: true });
  symlinkSync('/usr/sbin/exim4', at('/usr/sbin/exim4'));
  writeFileSync(at('/etc/tlsa-manager/config.json'), JSON.stringify({ tlsrpt: { eximCommand: ['/usr/sbin/exim4', '-C', at('/etc/exim.conf')] } }), { mode: 0o600 });
  writeFileSync(at('/etc/wwwacct.conf'), 'CONTACTEMAIL admin@route.test\n');
  // What install.sh installs: the ingest wrapper Exim's pipe runs, and the spool (root:<pipe group> 1730).
  mkdirSync(at(APP_BIN), { recursive: true });
  writeFileSync(at(`${APP_BIN}/tlsa-manager-tlsrpt-ingest`), `#!/bin/sh\nexec ${process.execPath} ${CLI} tlsrpt ingest --root ${root}\n`, { mode: 0o755 });
  mkdirSync(spool(), { recursive: true });
  for (const d of ['/var', '/var/spool', '/var/spool/tlsa-manager', '/usr', '/usr/local', '/usr/local/cpanel', '/usr/local/cpanel/3rdparty', '/usr/local/cpanel/3rdparty/tlsa-manager', APP_BIN]) chmodSync(at(d), 0o755);
  chownSync(spool(), 0, ids.gid);
  chmodSync(spool(), 0o1730);
}, 60_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the TLS-RPT route, watched and repaired (real Exim, configuration built by buildeximconf)', () => {
  it('repair-route on a server without the route adds exactly our lines like install.sh, and a report reaches the spool', () => {
    const r = cli(['tlsrpt', 'repair-route', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'repaired' });
    const local = readFileSync(at('/etc/exim.conf.local'), 'utf8');
    expect(local).toMatch(/^@ROUTERSTART@\n# BEGIN tlsa-manager tlsrpt \+section\n[\s\S]*tlsa_manager_tlsrpt:\n[\s\S]*# END tlsa-manager tlsrpt\n@TRANSPORTSTART@\n/);
    // Exim itself (not our code) says where the address goes.
    expect(spawnSync('exim4', ['-C', at('/etc/exim.conf'), '-bt', ADDRESS], { encoding: 'utf8' }).stdout).toContain('router = tlsa_manager_tlsrpt, transport = tlsa_manager_tlsrpt_pipe');
    expect(sendReport()).toBe(0);
    expect(readdirSync(spool())).toHaveLength(1);
    // Run again: nothing to add, the route is fine.
    const again = cli(['tlsrpt', 'repair-route', '--json']);
    expect([again.code, JSON.parse(again.stdout).state]).toEqual([0, 'ok']);
    // The timer imports what the pipe spooled and finds the route fine.
    expect(cli(['reconcile']).code).toBe(0);
    expect(readdirSync(spool())).toHaveLength(0);
    expect(routeAlerts()).toEqual([]);
  });

  it('our lines removed (WHM Advanced Editor) → one alert with cause and fix; repair → delivered to the spool again, the alert clears', () => {
    // The Advanced Editor saves exim.conf.local without our lines; WHM rebuilds exim.conf.
    const without = spawnSync('perl', ['plugin/lib/exim-local.pl', 'remove', at('/etc/exim.conf.local')], { encoding: 'utf8' });
    writeFileSync(at('/etc/exim.conf.local'), without.stdout);
    expect(spawnSync(at('/usr/local/cpanel/scripts/buildeximconf'), { encoding: 'utf8' }).status).toBe(0);
    expect(spawnSync('exim4', ['-C', at('/etc/exim.conf'), '-bt', ADDRESS], { encoding: 'utf8' }).stdout).toContain('router = lab_mailbox, transport = lab_mailbox');
    // A report now goes elsewhere: the spool gets nothing.
    expect(sendReport()).toBe(0);
    expect(readdirSync(spool())).toHaveLength(0);
    // The timer notices, once, however often it runs.
    expect(cli(['reconcile']).code).toBe(0);
    expect(cli(['reconcile']).code).toBe(0);
    const open = routeAlerts();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ state: 'open', title: `TLS reports to ${ADDRESS} no longer reach TLSA Manager` });
    expect(open[0]!.detail).toContain('routes it by lab_mailbox to lab_mailbox');
    expect(open[0]!.detail).toContain('Advanced Editor');
    expect(open[0]!.detail).toContain('Fix: as root run /usr/local/bin/tlsa-manager tlsrpt repair-route');
    // Raised to the server contacts as cPanel event TlsrptRouteLost.
    const icontact = readFileSync(at('/var/log/stub-calls.jsonl'), 'utf8').split('\n').filter((l) => l.includes('TlsrptRouteLost'));
    expect(icontact).toHaveLength(1);

    const backupsBefore = readdirSync(at('/etc')).filter((f) => f.startsWith('exim.conf.local.tlsa-manager-'));
    const r = cli(['tlsrpt', 'repair-route', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'repaired' });
    // The old file was kept as a backup first.
    expect(readdirSync(at('/etc')).filter((f) => f.startsWith('exim.conf.local.tlsa-manager-')).length).toBe(backupsBefore.length + 1);
    expect(sendReport()).toBe(0);
    expect(readdirSync(spool())).toHaveLength(1);
    expect(routeAlerts()).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('a rebuild that fails leaves exim.conf.local as it was; repair-route says failed and exits 1', () => {
    rmSync(at('/etc/exim.conf.local')); // WHM's "Reset to defaults" (Cpanel/Exim/Reset.pm)
    expect(spawnSync(at('/usr/local/cpanel/scripts/buildeximconf')).status).toBe(0);
    writeFileSync(at('/var/cpanel/buildeximconf-fail'), '');
    try {
      const r = cli(['tlsrpt', 'repair-route', '--json']);
      expect(r.code).toBe(1);
      const out = JSON.parse(r.stdout) as { state: string; detail: string };
      expect(out.state).toBe('failed');
      expect(out.detail).toContain('buildeximconf refused');
      expect(existsSync(at('/etc/exim.conf.local'))).toBe(false);
      expect(cli(['tlsrpt', 'repair-route', 'extra']).code).toBe(2);
    } finally {
      rmSync(at('/var/cpanel/buildeximconf-fail'));
    }
  });
});
