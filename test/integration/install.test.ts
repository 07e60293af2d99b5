import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, makeSource, newRoot, REPO, sh, type Run } from '../helpers/install-fixture.js';
import { hookRegistrations } from '../../src/hooks/registrations.js';
import { parseConfig } from '../../src/state/config.js';
import { notifyCpanel } from '../../src/alerts/channels/cpanel.js';
import type { AlertMessage } from '../../src/alerts/message.js';
import { ServerRoot } from '../../src/util/server-root.js';

// install.sh / uninstall.sh run for real (as root) against cPanel-shaped roots made by
// buildDemoRoot, whose stub cPanel tools and systemctl record every call. The app installed is
// the real one, compiled from src/ into a scratch source tree.

const HOOK = `${APP}/bin/tlsa-manager-hook`;
const CGI = '/usr/local/cpanel/whostmgr/docroot/cgi/tlsa_manager/index.cgi';
const ICON = '/usr/local/cpanel/whostmgr/docroot/addon_plugins/tlsa_manager.png';
const UNITS = ['tlsa-manager.service', 'tlsa-manager-reconcile.service', 'tlsa-manager-reconcile.timer'];

let scratch: string;
let source: string;

interface Call {
  stub: string;
  argv: string[];
  time: string;
}

const at = (root: string, p: string) => join(root, p);
const mode = (root: string, p: string) => statSync(at(root, p)).mode & 0o7777;
const owner = (root: string, p: string) => `${statSync(at(root, p)).uid}:${statSync(at(root, p)).gid}`;

function calls(root: string): Call[] {
  const file = at(root, '/var/log/stub-calls.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Call);
}

type Registry = Record<string, Record<string, { hook: string; stage: string; escalateprivs: number; weight: number; id: string }[]>>;

function registry(root: string): Registry {
  const file = at(root, '/var/cpanel/hooks/demo-registry.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Registry) : {};
}

/** Our registrations as "Category Event stage escalate" strings, sorted. */
function ourHooks(root: string, hook: string): string[] {
  const out: string[] = [];
  for (const [category, events] of Object.entries(registry(root))) {
    for (const [event, list] of Object.entries(events)) {
      for (const h of list) if (h.hook === hook) out.push(`${category} ${event} ${h.stage} ${h.escalateprivs}`);
    }
  }
  return out.sort();
}

function expectedHooks(): string[] {
  return hookRegistrations('x')
    .map((r) => `${r.category} ${r.event} ${r.stage} ${r.escalateprivs ?? 0}`)
    .sort();
}

/** Every path under root with its type and mode (and the link target for symlinks). */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      const rel = p.slice(root.length);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${st.mtimeMs}`;
    }
  };
  walk(root);
  return out;
}

/** PATH with every command of /usr/bin and /bin except Node.js (node, npm...). */
function pathWithoutNode(): string {
  const bin = join(scratch, 'bin-without-node');
  if (!existsSync(bin)) {
    mkdirSync(bin);
    for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
      for (const name of readdirSync(dir)) {
        if (/^(node|nodejs|npm|npx|corepack)$/.test(name) || existsSync(join(bin, name))) continue;
        symlinkSync(join(dir, name), join(bin, name));
      }
    }
  }
  return bin;
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'install-test-'));
  chmodSync(scratch, 0o755);
  source = join(scratch, 'source');
  makeSource(source);
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
}, 600_000);

describe('install.sh on a cPanel server', () => {
  let root: string;
  let first: Run;
  let before: Call[];
  let afterInstall: Call[];

  beforeAll(async () => {
    root = await newRoot(scratch, 'server');
    // Someone else's hook must survive install and uninstall.
    const other = at(root, '/usr/local/bin/other-plugin-hook');
    mkdirSync(join(other, '..'), { recursive: true });
    writeFileSync(other, '#!/bin/sh\necho 1 ok\n', { mode: 0o755 });
    spawnSync(at(root, '/usr/local/cpanel/bin/manage_hooks'), ['add', 'script', other, '--manual', '1', '--category', 'Whostmgr', '--event', 'SSL::delssl', '--stage', 'post']);
    before = calls(root);
    // An admin's shell with umask 000: every mode must still come out right (issue 11 finding 7).
    first = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm'], {}, '000');
    afterInstall = calls(root);
  }, 180_000);

  it('succeeds and names the node it uses', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`at ${root}/opt/cpanel/ea-nodejs20/bin/node`);
  });

  it('installs the app, wrappers, CGI and icon with the right modes and owners', () => {
    expect(mode(root, APP)).toBe(0o755);
    expect(existsSync(at(root, `${APP}/dist/cli.js`))).toBe(true);
    expect(existsSync(at(root, `${APP}/package.json`))).toBe(true);
    expect(readFileSync(at(root, `${APP}/plugin/tlsa_manager.conf`), 'utf8')).toBe(readFileSync(join(REPO, 'plugin/tlsa_manager.conf'), 'utf8'));
    expect(existsSync(at(root, `${APP}.new.`))).toBe(false);
    expect(readdirSync(at(root, '/usr/local/cpanel/3rdparty'))).toEqual(['tlsa-manager']);

    const node = `${root}/opt/cpanel/ea-nodejs20/bin/node`;
    expect(mode(root, HOOK)).toBe(0o700);
    // The hook client (issue 26) with socket, Node.js, app and root fixed, in an empty environment.
    expect(readFileSync(at(root, HOOK), 'utf8')).toContain(`exec /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /usr/bin/perl '${root}${APP}/plugin/bin/tlsa-manager-hook' --socket '${root}/run/tlsa-manager/web.sock' --node '${node}' --cli '${root}${APP}/dist/cli.js' --root '${root}' "$@"`);
    expect(statSync(at(root, `${APP}/plugin/bin/tlsa-manager-hook`)).mode & 0o111).not.toBe(0);
    expect(mode(root, '/usr/local/bin/tlsa-manager')).toBe(0o755);
    expect(readFileSync(at(root, '/usr/local/bin/tlsa-manager'), 'utf8')).toContain(`exec '${node}' '${root}${APP}/dist/cli.js' "$@"`);

    expect(mode(root, CGI)).toBe(0o700);
    expect(owner(root, CGI)).toBe('0:0');
    expect(readFileSync(at(root, CGI)).equals(readFileSync(join(REPO, 'plugin/cgi/index.cgi')))).toBe(true);
    expect(mode(root, ICON)).toBe(0o644);
    expect(owner(root, ICON)).toBe('0:0');
    expect(readFileSync(at(root, ICON)).equals(readFileSync(join(REPO, 'plugin/tlsa_manager.png')))).toBe(true);
  });

  it('nothing installed is writable by group or others, whatever the caller\'s umask', () => {
    const writable: string[] = [];
    const walk = (p: string) => {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return;
      if (st.mode & 0o022) writable.push(`${p.slice(root.length)} ${(st.mode & 0o7777).toString(8)}`);
      if (st.isDirectory()) for (const n of readdirSync(p)) if (n !== 'node_modules') walk(join(p, n));
    };
    for (const p of ['/usr/local/cpanel/3rdparty', '/usr/local/bin', '/etc/systemd/system', '/usr/local/cpanel/whostmgr/docroot/addon_plugins', '/usr/local/bin/tlsa-manager', '/etc/tlsa-manager', '/var/lib/tlsa-manager', '/var/log/tlsa-manager', '/usr/local/cpanel/whostmgr/docroot/cgi/tlsa_manager', ICON, ...UNITS.map((u) => `/etc/systemd/system/${u}`)]) walk(at(root, p));
    expect(writable).toEqual([]);
  });

  it('the icon is a 48x48 PNG', () => {
    const png = readFileSync(at(root, ICON));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([48, 48]);
  });

  it('creates config, state and log directories root-only, with a valid default config', () => {
    for (const d of ['/etc/tlsa-manager', '/var/lib/tlsa-manager', '/var/log/tlsa-manager']) {
      expect(mode(root, d)).toBe(0o700);
      expect(owner(root, d)).toBe('0:0');
    }
    // The TLS-RPT spool: Exim's pipe (mailnull, group mail) drops files, only root lists and reads them.
    expect(mode(root, '/var/spool/tlsa-manager/tlsrpt')).toBe(0o1730);
    expect(owner(root, '/var/spool/tlsa-manager/tlsrpt')).toBe(`0:${spawnSync('getent', ['group', 'mail'], { encoding: 'utf8' }).stdout.split(':')[2]}`);
    const cfg = '/etc/tlsa-manager/config.json';
    expect(mode(root, cfg)).toBe(0o600);
    expect(owner(root, cfg)).toBe('0:0');
    const parsed = parseConfig(JSON.parse(readFileSync(at(root, cfg), 'utf8')), cfg);
    expect(parsed.policy.records).toEqual(['3 1 1', '2 1 1']);
  });

  it('registers the AppConfig after the CGI and icon are in place', () => {
    const reg = calls(root).filter((c) => c.stub === 'register_appconfig');
    expect(reg.map((c) => c.argv)).toEqual([[`${root}${APP}/plugin/tlsa_manager.conf`]]);
    expect(mode(root, '/var/cpanel/apps/tlsa_manager.conf')).toBe(0o600);
    expect(readFileSync(at(root, '/var/cpanel/apps/tlsa_manager.conf'), 'utf8')).toBe(readFileSync(join(REPO, 'plugin/tlsa_manager.conf'), 'utf8'));
    const registeredAt = Date.parse(reg[0]!.time);
    for (const f of [CGI, ICON, HOOK]) expect(statSync(at(root, f)).mtimeMs).toBeLessThanOrEqual(registeredAt + 1);
    const check = spawnSync(at(root, '/usr/local/cpanel/bin/is_registered_with_appconfig'), ['whostmgr', 'tlsa_manager']);
    expect(check.status).toBe(0);
  });

  it('registers exactly the hooks the app describes, for the installed hook script, without touching others', () => {
    expect(ourHooks(root, `${root}${HOOK}`)).toEqual(expectedHooks());
    expect(ourHooks(root, `${root}/usr/local/bin/other-plugin-hook`)).toEqual(['Whostmgr SSL::delssl post 0']);
    const adds = calls(root).filter((c) => c.stub === 'manage_hooks' && c.argv[0] === 'add' && c.argv[2] === `${root}${HOOK}`);
    expect(adds).toHaveLength(expectedHooks().length);
    for (const a of adds) expect(a.argv.slice(0, 5)).toEqual(['add', 'script', `${root}${HOOK}`, '--manual', '1']);
    // The installed hook script works and describes itself.
    const d = spawnSync(at(root, HOOK), ['--describe'], { encoding: 'utf8' });
    expect(d.status).toBe(0);
    const described = JSON.parse(d.stdout) as { hook: string }[];
    expect(new Set(described.map((x) => x.hook))).toEqual(new Set([`${root}${HOOK}`]));
  });

  it('the hook wrapper cPanel runs ignores the caller\'s environment (TLSA_MANAGER_ROOT, CLOUDFLARE_*)', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'tlsa-elsewhere-'));
    // NODE_OPTIONS would make the root process load the caller's code.
    writeFileSync(join(elsewhere, 'evil.cjs'), `require('fs').writeFileSync(${JSON.stringify(join(elsewhere, 'ran'))}, 'x');`);
    const env = { ...process.env, TLSA_MANAGER_ROOT: elsewhere, CLOUDFLARE_API_TOKEN: 'stolen-token-123', CLOUDFLARE_BASE_URL: 'http://127.0.0.1:9/', NODE_OPTIONS: `--require ${join(elsewhere, 'evil.cjs')}` };
    const r = spawnSync(at(root, HOOK), [], { input: JSON.stringify({ context: { category: 'Whostmgr', event: 'Env::probe', stage: 'post' }, data: {} }), encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^1 .*not an event TLSA Manager handles/);
    // The hook ran against the installed root (its activity is there), not the one from the environment.
    expect(existsSync(join(elsewhere, 'var/lib/tlsa-manager/state.db'))).toBe(false);
    expect(existsSync(join(elsewhere, 'ran'))).toBe(false);
    expect(existsSync(at(root, '/var/lib/tlsa-manager/state.db'))).toBe(true);
    // The command-line wrapper keeps honouring the environment as documented.
    const cli = readFileSync(at(root, '/usr/local/bin/tlsa-manager'), 'utf8');
    expect(cli).not.toContain('env -i');
  });

  it('installs systemd units with the node and app paths filled in, then enables and starts them', () => {
    const node = `${root}/opt/cpanel/ea-nodejs20/bin/node`;
    for (const u of UNITS) {
      const p = `/etc/systemd/system/${u}`;
      expect(mode(root, p)).toBe(0o644);
      expect(readFileSync(at(root, p), 'utf8')).not.toMatch(/@[A-Z]+@/);
    }
    const service = readFileSync(at(root, '/etc/systemd/system/tlsa-manager.service'), 'utf8');
    expect(service).toContain(`ExecStart=${node} ${root}${APP}/dist/cli.js serve --socket /run/tlsa-manager/web.sock`);
    expect(service).toContain('RuntimeDirectory=tlsa-manager\n');
    expect(service).toContain('RuntimeDirectoryMode=0700\n');
    expect(service).toContain('NoNewPrivileges=yes\n');
    expect(service).toContain('PrivateTmp=yes\n');
    expect(service).toContain(`Environment=TLSA_MANAGER_ROOT=${root}\n`);
    expect(service).toMatch(new RegExp(`ReadWritePaths=${root}/etc/tlsa-manager ${root}/var/lib/tlsa-manager ${root}/var/log/tlsa-manager -${root}/var/named`));
    const reconcile = readFileSync(at(root, '/etc/systemd/system/tlsa-manager-reconcile.service'), 'utf8');
    expect(reconcile).toContain('Type=oneshot\n');
    expect(reconcile).toContain(`ExecStart=${node} ${root}${APP}/dist/cli.js reconcile\n`);
    const timer = readFileSync(at(root, '/etc/systemd/system/tlsa-manager-reconcile.timer'), 'utf8');
    expect(timer).toContain('OnUnitActiveSec=5min\n');
    expect(timer).toMatch(/RandomizedDelaySec=\d+/);

    const sys = calls(root).filter((c) => c.stub === 'systemctl');
    expect(sys.map((c) => c.argv)).toEqual([['daemon-reload'], ['enable', '--now', 'tlsa-manager.service', 'tlsa-manager-reconcile.timer']]);
    const enabledAt = Date.parse(sys[1]!.time);
    for (const u of UNITS) expect(statSync(at(root, `/etc/systemd/system/${u}`)).mtimeMs).toBeLessThanOrEqual(enabledAt + 1);
    const state = JSON.parse(readFileSync(at(root, '/var/lib/demo-systemctl/state.json'), 'utf8')) as { units: Record<string, { enabled: boolean; active: boolean }> };
    expect(state.units['tlsa-manager.service']).toEqual({ enabled: true, active: true });
    expect(state.units['tlsa-manager-reconcile.timer']).toEqual({ enabled: true, active: true });
  });

  it('the units pass systemd-analyze verify', () => {
    const units = UNITS.map((u) => at(root, `/etc/systemd/system/${u}`));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...units], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'notice' } });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('calls the cPanel tools in a sensible order', () => {
    const seq = afterInstall
      .slice(before.length)
      .map((c) => [c.stub, ...c.argv.slice(0, 1)].join(' '))
      .filter((s, i, all) => s !== all[i - 1]);
    expect(seq).toEqual(['whmapi1 --output=json', 'register_appconfig ' + `${root}${APP}/plugin/tlsa_manager.conf`, 'install_plugin ' + `${root}${APP}/plugin/cpanel`, 'manage_hooks list', 'manage_hooks add', 'buildeximconf', 'restartsrv_exim', 'systemctl daemon-reload', 'systemctl enable']);
  });

  it('gives our cPanel notifications High importance: a contact method set to "High only" receives a critical alert (it did not before)', async () => {
    const importances = () => JSON.parse(readFileSync(at(root, '/var/cpanel/icontact_event_importance.json'), 'utf8')) as Record<string, Record<string, number>>;
    // Whostmgr/API/1/Contact.pm set_application_contact_importance: the application's '*' entry, High = 1.
    expect(importances().TLSAManager).toEqual({ '*': 1 });
    expect(calls(root).filter((c) => c.stub === 'whmapi1').map((c) => c.argv)).toContainEqual(['--output=json', 'set_application_contact_importance', 'app=TLSAManager', 'importance=High']);
    expect(first.stdout).toContain('cPanel notifications of TLSA Manager have importance High');
    // Server contacts: e-mail (receives All) and a pager set to "High only" in Contact Manager.
    writeFileSync(at(root, '/etc/wwwacct.conf'), 'CONTACTEMAIL admin@example.net\nCONTACTPAGER pager@example.net\n');
    writeFileSync(at(root, '/var/cpanel/clevels.conf'), 'CONTACTPAGER 1\n');
    const critical: AlertMessage = { event: 'raised', kind: 'domain-broken', severity: 'critical', alertId: 1, title: 'DANE broken for example.net', detail: 'TLSA mismatch', domain: 'example.net', host: 'mail.example.net', verdict: { old: null, new: null, oldLabel: null, newLabel: null }, time: new Date(0).toISOString(), openedAt: new Date(0).toISOString(), server: 'server.example.net', text: 'x' };
    const sentTo = async () => {
      await notifyCpanel(new ServerRoot(root), critical);
      const last = calls(root).filter((c) => c.stub === 'Cpanel::iContact::icontact').pop() as unknown as { args: { event_name: string; importance: number; sent_to: string[] } };
      return last.args;
    };
    expect(await sentTo()).toMatchObject({ event_name: 'DomainBroken', importance: 1, sent_to: ['Email', 'Pager'] });
    // Without the importance (what cPanel does for an application it does not list: Low), the pager drops it.
    const saved = readFileSync(at(root, '/var/cpanel/icontact_event_importance.json'));
    rmSync(at(root, '/var/cpanel/icontact_event_importance.json'));
    try {
      expect(await sentTo()).toMatchObject({ importance: 3, sent_to: ['Email'] });
    } finally {
      writeFileSync(at(root, '/var/cpanel/icontact_event_importance.json'), saved);
    }
  });

  it('the installed command line wrapper runs the app', () => {
    const r = spawnSync(at(root, '/usr/local/bin/tlsa-manager'), ['--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: tlsa-manager');
  });

  describe('run again (upgrade in place)', () => {
    let second: Run;
    let registryBefore: Registry;
    let customConfig: string;
    let callsBefore: number;

    beforeAll(() => {
      customConfig = JSON.stringify({ resolver: '127.0.0.9:53', policy: { ttl: 600 }, alerts: { cpanelImportance: 'medium' } }, null, 1) + '\n';
      // An admin tuned one event in Contact Manager: an upgrade leaves it alone.
      const imp = at(root, '/var/cpanel/icontact_event_importance.json');
      writeFileSync(imp, JSON.stringify({ ...(JSON.parse(readFileSync(imp, 'utf8')) as object), TLSAManager: { '*': 1, TlsrptRouteLost: 3 } }));
      writeFileSync(at(root, '/etc/tlsa-manager/config.json'), customConfig);
      chmodSync(at(root, '/etc/tlsa-manager/config.json'), 0o644); // an admin's slip
      writeFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'state');
      writeFileSync(at(root, `${APP}/dist/stale-file-from-old-version.js`), '');
      registryBefore = registry(root);
      callsBefore = calls(root).length;
      second = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm']);
    }, 180_000);

    it('succeeds, keeps config content and state, fixes the config mode', () => {
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(readFileSync(at(root, '/etc/tlsa-manager/config.json'), 'utf8')).toBe(customConfig);
      expect(mode(root, '/etc/tlsa-manager/config.json')).toBe(0o600);
      expect(readFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'utf8')).toBe('state');
      expect(second.stdout).toContain('kept the existing configuration');
    });

    it("sets the admin's importance from the kept config and keeps the per-event entries", () => {
      const imp = JSON.parse(readFileSync(at(root, '/var/cpanel/icontact_event_importance.json'), 'utf8')) as Record<string, Record<string, number>>;
      expect(imp.TLSAManager).toEqual({ '*': 2, TlsrptRouteLost: 3 });
      expect(second.stdout).toContain('have importance Medium');
    });

    it('replaces the app files (nothing left from the old version)', () => {
      expect(existsSync(at(root, `${APP}/dist/stale-file-from-old-version.js`))).toBe(false);
      expect(existsSync(at(root, `${APP}/dist/cli.js`))).toBe(true);
      expect(readdirSync(at(root, '/usr/local/cpanel/3rdparty'))).toEqual(['tlsa-manager']);
    });

    it('does not duplicate or re-create hooks', () => {
      expect(registry(root)).toEqual(registryBefore);
      const hookCalls = calls(root)
        .slice(callsBefore)
        .filter((c) => c.stub === 'manage_hooks');
      expect(hookCalls.map((c) => c.argv[0])).toEqual(['list']);
    });

    it('restarts the running service on the new code', () => {
      const sys = calls(root)
        .slice(callsBefore)
        .filter((c) => c.stub === 'systemctl')
        .map((c) => c.argv);
      expect(sys).toEqual([['daemon-reload'], ['enable', '--now', 'tlsa-manager.service', 'tlsa-manager-reconcile.timer'], ['restart', 'tlsa-manager.service']]);
    });
  });

  describe('uninstall.sh', () => {
    let out: Run;
    beforeAll(() => {
      out = sh(join(source, 'uninstall.sh'), ['--root', root]);
    });

    it('removes the plugin, hooks, units and app but keeps config, state and logs', () => {
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      for (const p of [CGI, ICON, APP, '/usr/local/bin/tlsa-manager', '/var/cpanel/apps/tlsa_manager.conf', ...UNITS.map((u) => `/etc/systemd/system/${u}`)]) {
        expect(existsSync(at(root, p)), p).toBe(false);
      }
      expect(existsSync(at(root, '/usr/local/cpanel/whostmgr/docroot/cgi/tlsa_manager'))).toBe(false);
      expect(ourHooks(root, `${root}${HOOK}`)).toEqual([]);
      expect(ourHooks(root, `${root}/usr/local/bin/other-plugin-hook`)).toEqual(['Whostmgr SSL::delssl post 0']);
      expect(readFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'utf8')).toBe('state');
      expect(existsSync(at(root, '/etc/tlsa-manager/config.json'))).toBe(true);
      expect(existsSync(at(root, '/var/log/tlsa-manager'))).toBe(true);
      const state = JSON.parse(readFileSync(at(root, '/var/lib/demo-systemctl/state.json'), 'utf8')) as { units: Record<string, { enabled: boolean; active: boolean }> };
      expect(state.units['tlsa-manager.service']).toEqual({ enabled: false, active: false });
      expect(state.units['tlsa-manager-reconcile.timer']).toEqual({ enabled: false, active: false });
      const un = calls(root).filter((c) => c.stub === 'unregister_appconfig');
      expect(un.map((c) => c.argv)).toEqual([['tlsa_manager']]);
    });

    it('stops the service before removing its files, and deletes each hook of ours', () => {
      const mine = calls(root).filter((c) => Date.parse(c.time) >= 0);
      const lastInstall = mine.map((c) => c.argv.join(' ')).lastIndexOf('restart tlsa-manager.service');
      const seq = mine.slice(lastInstall + 1);
      expect(seq[0]).toMatchObject({ stub: 'systemctl', argv: ['disable', '--now', 'tlsa-manager.service', 'tlsa-manager-reconcile.timer'] });
      const deletes = seq.filter((c) => c.stub === 'manage_hooks' && c.argv[0] === 'delete');
      expect(deletes).toHaveLength(expectedHooks().length);
      for (const d of deletes) expect(d.argv.slice(0, 3)).toEqual(['delete', 'script', `${root}${HOOK}`]);
    });

    it('--purge also removes config, state and logs; running it again is harmless', () => {
      const purge = sh(join(source, 'uninstall.sh'), ['--root', root, '--purge']);
      expect(purge.code).toBe(0);
      for (const d of ['/etc/tlsa-manager', '/var/lib/tlsa-manager', '/var/log/tlsa-manager', '/var/spool/tlsa-manager']) expect(existsSync(at(root, d)), d).toBe(false);
      expect(ourHooks(root, `${root}/usr/local/bin/other-plugin-hook`)).toEqual(['Whostmgr SSL::delssl post 0']);
      const again = sh(join(source, 'uninstall.sh'), ['--root', root, '--purge']);
      expect(again.code).toBe(0);
    });
  });
});

describe('install.sh when the app cannot describe its hooks', () => {
  it('registers the built-in list (which matches the app’s own) and says so', async () => {
    const root = await newRoot(scratch, 'fallback');
    const src = join(scratch, 'source-broken');
    cpSync(source, src, { recursive: true, verbatimSymlinks: true });
    writeFileSync(join(src, 'dist/cli.js'), 'process.exit(3);\n');
    const r = sh(join(src, 'install.sh'), ['--root', root, '--skip-npm']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('did not answer; registering the built-in hook list');
    expect(ourHooks(root, `${root}${HOOK}`)).toEqual(expectedHooks());
  }, 120_000);
});

describe('install.sh with npm', () => {
  it('runs npm ci --omit=dev (the npm next to the chosen node) in the new copy; a failing npm leaves the installed version as it was', async () => {
    const root = await newRoot(scratch, 'npm');
    const log = join(scratch, 'npm-calls.txt');
    const npm = join(root, 'opt/cpanel/ea-nodejs20/bin/npm');
    writeFileSync(npm, `#!/bin/sh\nprintf '%s|%s\\n' "$PWD" "$*" >> '${log}'\n[ -e '${log}.fail' ] && exit 1\nln -s '${REPO}/node_modules' node_modules\n`, { mode: 0o755 });
    const ok = sh(join(source, 'install.sh'), ['--root', root]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const [cwd, args] = readFileSync(log, 'utf8').trim().split('|');
    expect(cwd).toMatch(new RegExp(`^${root}${APP}\\.new\\.\\d+$`));
    expect(args).toBe('ci --omit=dev --no-audit --no-fund --loglevel=error');
    expect(readlinkSync(at(root, `${APP}/node_modules`))).toBe(join(REPO, 'node_modules'));

    writeFileSync(`${log}.fail`, '');
    writeFileSync(at(root, `${APP}/dist/marker-of-installed-version.js`), '');
    const bad = sh(join(source, 'install.sh'), ['--root', root]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('npm ci failed; the installed version (if any) is unchanged');
    expect(existsSync(at(root, `${APP}/dist/marker-of-installed-version.js`))).toBe(true);
    expect(readdirSync(at(root, '/usr/local/cpanel/3rdparty'))).toEqual(['tlsa-manager']);
  }, 180_000);
});

describe('install.sh refuses clearly and writes nothing', () => {
  it('without cPanel', () => {
    const root = join(scratch, 'no-cpanel');
    mkdirSync(join(root, 'etc'), { recursive: true });
    const before = snapshot(root);
    const r = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cPanel & WHM was not found (${root}/usr/local/cpanel does not exist)`);
    expect(snapshot(root)).toEqual(before);
  });

  it('without Node.js', async () => {
    const root = await newRoot(scratch, 'no-node');
    rmSync(join(root, 'opt/cpanel'), { recursive: true });
    rmSync(join(root, 'etc/cpanel/ea4/passenger.nodejs'));
    const before = snapshot(root);
    const r = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm'], { PATH: pathWithoutNode() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Node.js was not found');
    expect(r.stderr).toContain('ea-nodejs20');
    expect(snapshot(root)).toEqual(before);
  }, 120_000);

  it('with only an old Node.js', async () => {
    const root = await newRoot(scratch, 'old-node');
    rmSync(join(root, 'opt/cpanel/ea-nodejs20'), { recursive: true });
    mkdirSync(join(root, 'opt/cpanel/ea-nodejs18/bin'), { recursive: true });
    writeFileSync(join(root, 'opt/cpanel/ea-nodejs18/bin/node'), '#!/bin/sh\nprintf 18.19.1\n', { mode: 0o755 });
    writeFileSync(join(root, 'etc/cpanel/ea4/passenger.nodejs'), '/opt/cpanel/ea-nodejs18/bin/node\n');
    const before = snapshot(root);
    const r = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm'], { PATH: pathWithoutNode() });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`needs Node.js 20 or newer; found only: ${root}/opt/cpanel/ea-nodejs18/bin/node (version 18.19.1)`);
    expect(r.stderr).toContain('ea-nodejs20');
    expect(snapshot(root)).toEqual(before);
  }, 120_000);

  it('when not run as root', () => {
    const root = join(scratch, 'not-root');
    mkdirSync(join(root, 'usr/local/cpanel'), { recursive: true });
    const before = snapshot(root);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', join(source, 'install.sh'), '--root', root], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('must be run as root');
    expect(snapshot(root)).toEqual(before);
  });
});

describe('release tarball (npm run package)', () => {
  const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  const name = `tlsa-manager-${version}`;
  let out: string;
  let release: string;
  let entries: string[];
  /** PATH with only node and the basic tools install.sh and the cPanel stubs use. */
  let tools: string;
  let packaged: Run;

  /** The same tree (hard links: 20,000 files) with one change, for installs that must fail or differ. */
  const variant = (label: string, change: (dir: string) => void): string => {
    const dir = join(scratch, `release-${label}`);
    mkdirSync(dir);
    expect(spawnSync('cp', ['-al', release, dir]).status).toBe(0);
    change(join(dir, name));
    return join(dir, name);
  };
  /** Replace a file of a hard-linked tree without writing through to the original. */
  const replace = (file: string, content: string) => {
    rmSync(file);
    writeFileSync(file, content);
  };
  const install = (dir: string, root: string, path = tools) => {
    const r = spawnSync('bash', [join(dir, 'install.sh'), '--root', root], { encoding: 'utf8', env: { PATH: path, HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' }, timeout: 300_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr } as Run;
  };
  const loadsSqlite = (dir: string) =>
    spawnSync(process.execPath, ['-e', 'const D = require(process.argv[1]); const db = new D(":memory:"); process.stdout.write(String(db.prepare("select 6*7 as x").get().x));', join(dir, 'node_modules/better-sqlite3')], { encoding: 'utf8' });

  beforeAll(() => {
    out = join(scratch, 'dist-out');
    mkdirSync(out);
    const r = spawnSync('bash', [join(REPO, 'scripts/package.sh'), '--out', out], { encoding: 'utf8', timeout: 900_000 });
    packaged = { code: r.status, stdout: r.stdout, stderr: r.stderr };
    if (r.status !== 0) throw new Error(`package.sh failed: ${r.stderr}`);
    const tarball = join(out, `${name}.tar.gz`);
    entries = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout.split('\n').filter(Boolean);
    const unpacked = join(scratch, 'unpacked');
    mkdirSync(unpacked);
    expect(spawnSync('tar', ['xzf', tarball, '-C', unpacked]).status).toBe(0);
    release = join(unpacked, name);

    tools = join(scratch, 'only-node-and-basic-tools');
    mkdirSync(tools);
    const basic = ['bash', 'sh', 'env', 'cp', 'mv', 'rm', 'mkdir', 'ln', 'chmod', 'chown', 'install', 'dirname', 'basename', 'cat', 'sed', 'grep', 'awk', 'mktemp', 'perl', 'tr', 'head', 'tail', 'sort', 'timeout', 'readlink', 'id', 'find', 'date'];
    for (const t of basic) {
      const found = spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
      if (!found.startsWith('/')) throw new Error(`${t} not found on this machine`);
      symlinkSync(found, join(tools, t));
    }
    symlinkSync(process.execPath, join(tools, 'node'));
  }, 900_000);

  it('holds the compiled app, views, public, plugin, the scripts and production node_modules only', () => {
    expect(packaged.stdout).toContain(`${name}.tar.gz`);
    expect(entries.every((e) => e === `${name}/` || e.startsWith(`${name}/`))).toBe(true);
    const files = new Set(entries.map((e) => e.slice(name.length + 1)));
    for (const f of ['dist/cli.js', 'dist/web/app.js', 'views/login.ejs', 'public/app.css', 'plugin/tlsa_manager.conf', 'plugin/cgi/index.cgi', 'install.sh', 'uninstall.sh', 'package.json', 'release.json', 'node_modules/better-sqlite3/build/Release/better_sqlite3.node']) {
      expect(files.has(f), f).toBe(true);
    }
    const outside = [...files].filter((f) => !f.startsWith('node_modules/'));
    expect(outside.filter((f) => /^(src|demo|test|bench|scripts)\//.test(f) || /\.(ts|map)$/.test(f) || /(^|\/)demo/.test(f))).toEqual([]);
    // Against the lock file: every production package is there, no dev package is.
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const pkgs = Object.entries(lock.packages).filter(([p]) => p.startsWith('node_modules/'));
    const shipped = (p: string) => files.has(`${p}/package.json`);
    const missing = pkgs.filter(([p, v]) => !v.dev && !shipped(p)).map(([p]) => p);
    const dev = pkgs.filter(([p, v]) => v.dev && shipped(p)).map(([p]) => p);
    expect(missing).toEqual([]);
    expect(dev).toEqual([]);
    for (const p of ['vitest', 'typescript', '@peculiar/x509', 'reflect-metadata', 'playwright-core']) expect(shipped(`node_modules/${p}`), p).toBe(false);
  });

  it('states the Node.js ABI and the glibc/libstdc++ versions the native module needs (as objdump -T reads them)', () => {
    const info = JSON.parse(readFileSync(join(release, 'release.json'), 'utf8')) as { version: string; nodeAbi: string; nativeModule: { needs: string[] } };
    expect(info.version).toBe(version);
    expect(info.nodeAbi).toBe(process.versions.modules);
    const syms = spawnSync('objdump', ['-T', join(release, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')], { encoding: 'utf8', maxBuffer: 16 << 20 }).stdout;
    const newest = (prefix: string) =>
      [...new Set(syms.match(new RegExp(`${prefix}_[0-9.]+`, 'g')) ?? [])].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
    expect(info.nativeModule.needs).toEqual([newest('GLIBC'), newest('GLIBCXX')]);
  });

  it('the PATH used below has node and basic tools but no npm, compiler or build tool', () => {
    for (const t of ['npm', 'npx', 'gcc', 'cc', 'g++', 'c++', 'make', 'python3', 'tsc']) {
      expect(spawnSync('bash', ['-c', `command -v ${t}`], { env: { PATH: tools } }).status, t).not.toBe(0);
    }
    expect(spawnSync('bash', ['-c', 'command -v node'], { env: { PATH: tools } }).status).toBe(0);
  });

  it('installs from the unpacked tarball without npm or a compiler', async () => {
    const root = await newRoot(scratch, 'release');
    const r = install(release, root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no npm needed');
    const app = at(root, APP);
    expect(lstatSync(join(app, 'node_modules')).isDirectory()).toBe(true);
    expect(loadsSqlite(app).stdout).toBe('42');
    for (const gone of ['src', 'demo', 'test']) expect(existsSync(join(app, gone)), gone).toBe(false);
    const help = spawnSync(at(root, '/usr/local/bin/tlsa-manager'), ['--help'], { encoding: 'utf8', env: { PATH: tools } });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: tlsa-manager');
    expect(ourHooks(root, `${root}${HOOK}`)).toEqual(expectedHooks());
  }, 300_000);

  describe('upgrades in place: checkout install → older tarball → this tarball', () => {
    let root: string;
    const config = JSON.stringify({ resolver: '127.0.0.9:53', policy: { ttl: 900 } }, null, 1) + '\n';

    beforeAll(async () => {
      root = await newRoot(scratch, 'upgrade');
      const fromCheckout = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm']);
      if (fromCheckout.code !== 0) throw new Error(fromCheckout.stderr);
      writeFileSync(at(root, '/etc/tlsa-manager/config.json'), config, { mode: 0o600 });
      writeFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'state from the first install');
    }, 300_000);

    it('an older release replaces the checkout install and keeps config and state', () => {
      expect(lstatSync(at(root, `${APP}/node_modules`)).isSymbolicLink()).toBe(true);
      const older = variant('older', (dir) => {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
        replace(join(dir, 'package.json'), JSON.stringify({ ...pkg, version: '0.0.1' }));
        writeFileSync(join(dir, 'dist/only-in-the-older-release.js'), '');
      });
      const r = install(older, root);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('kept the existing configuration');
      expect(readFileSync(at(root, '/etc/tlsa-manager/config.json'), 'utf8')).toBe(config);
      expect(readFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'utf8')).toBe('state from the first install');
      expect(lstatSync(at(root, `${APP}/node_modules`)).isDirectory()).toBe(true);
      expect(existsSync(at(root, `${APP}/dist/only-in-the-older-release.js`))).toBe(true);
    }, 300_000);

    it('this release replaces the older one, keeps config and state, restarts the service', () => {
      const callsBefore = calls(root).length;
      writeFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'state before the upgrade');
      const r = install(release, root);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(readFileSync(at(root, '/etc/tlsa-manager/config.json'), 'utf8')).toBe(config);
      expect(mode(root, '/etc/tlsa-manager/config.json')).toBe(0o600);
      expect(readFileSync(at(root, '/var/lib/tlsa-manager/state.db'), 'utf8')).toBe('state before the upgrade');
      expect(existsSync(at(root, `${APP}/dist/only-in-the-older-release.js`))).toBe(false);
      expect((JSON.parse(readFileSync(at(root, `${APP}/package.json`), 'utf8')) as { version: string }).version).toBe(version);
      expect(readdirSync(at(root, '/usr/local/cpanel/3rdparty'))).toEqual(['tlsa-manager']);
      expect(ourHooks(root, `${root}${HOOK}`)).toEqual(expectedHooks());
      const sys = calls(root)
        .slice(callsBefore)
        .filter((c) => c.stub === 'systemctl')
        .map((c) => c.argv);
      expect(sys).toContainEqual(['restart', 'tlsa-manager.service']);
    }, 300_000);

    it('stops with a clear message when the native module does not load and nothing can rebuild it; the installed version stays', () => {
      const broken = variant('broken', (dir) => replace(join(dir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), 'not a shared object'));
      writeFileSync(at(root, `${APP}/dist/marker-of-installed-version.js`), '');
      const appBefore = statSync(at(root, APP)).ino;
      const r = install(broken, root);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('better-sqlite3 does not load on this system');
      expect(r.stderr).toContain('cannot be rebuilt here: missing make python3 g++ npm; nothing was changed');
      expect(r.stderr).toContain('dnf install gcc-c++ make python3');
      expect(statSync(at(root, APP)).ino).toBe(appBefore);
      expect(existsSync(at(root, `${APP}/dist/marker-of-installed-version.js`))).toBe(true);
      expect(readdirSync(at(root, '/usr/local/cpanel/3rdparty'))).toEqual(['tlsa-manager']);
      expect(loadsSqlite(at(root, APP)).stdout).toBe('42');
    }, 300_000);

    it('rebuilds the native module in the new copy when npm and the build tools are there', () => {
      const broken = join(scratch, 'release-broken', name);
      const withTools = join(scratch, 'tools-with-compiler');
      cpSync(tools, withTools, { recursive: true, verbatimSymlinks: true });
      for (const t of ['make', 'python3', 'g++']) writeFileSync(join(withTools, t), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      // A stand-in for `npm rebuild`: records how it was called, then puts a working module in place.
      const log = join(scratch, 'rebuild-calls.txt');
      const good = join(release, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
      writeFileSync(join(withTools, 'npm'), `#!/bin/sh\nprintf '%s|%s\\n' "$PWD" "$*" >> '${log}'\ncp '${good}' node_modules/better-sqlite3/build/Release/better_sqlite3.node\n`, { mode: 0o755 });
      const r = install(broken, root, withTools);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('better-sqlite3 rebuilt for this system');
      const [cwd, args] = readFileSync(log, 'utf8').trim().split('|');
      expect(cwd).toMatch(new RegExp(`^${root}${APP}\\.new\\.\\d+$`));
      expect(args).toMatch(/^rebuild better-sqlite3 --build-from-source /);
      expect(loadsSqlite(at(root, APP)).stdout).toBe('42');
    }, 300_000);
  });
});
