import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveConfig } from '../../src/state/config.js';
import { startServer, type RunningServer } from '../../src/web/server.js';
import { demoFixture, http, testServices, type DemoFixture } from './web-fixture.js';

/**
 * The account owners' page data path (issue 28), run as cPanel runs it: the UAPI module
 * (plugin/cpanel/Cpanel/API/TLSAManager.pm) in a process of the account's uid calls
 * Cpanel::AdminBin::Call, cpwrapd (a stand-in after Cpanel/AdminBin/Server/Backend.pm) learns
 * that uid from the socket's peer credentials and runs our root AdminBin
 * (plugin/cpanel/bin/admin/TLSAManager/Account) with it, the AdminBin's base class (a stand-in
 * after Cpanel/AdminBin/Script*.pm) turns it into the user name, and the service answers for that
 * account only. The caller runs as uid 65534 (setpriv), named "bravo" through the stand-in's
 * passwd map: the identity comes from the uid, never from what the caller sends.
 */
const REPO = process.cwd();
const CALLER_UID = 65534;
let fx: DemoFixture;
let srv: RunningServer;
let cpwrapd: ChildProcess;
let pub: string;
let bravo: string[] = [];

beforeAll(async () => {
  fx = await demoFixture();
  bravo = fx.manifest.accounts.find((a) => a.user === 'bravo')!.domains;
  mkdirSync(join(fx.dir, 'run'), { mode: 0o700 });
  const sock = join(fx.dir, 'run', 'web.sock');
  const ctx = fx.context();
  srv = await startServer(ctx, { kind: 'socket', path: sock }, { services: testServices(ctx) });
  // What the unprivileged caller may read: the UAPI module and the stand-ins, and cpwrapd's socket.
  pub = mkdtempSync(join(tmpdir(), 'tlsa-cpanel-'));
  chmodSync(pub, 0o755);
  spawnSync('cp', ['-r', join(REPO, 'test/fakes/cpanel-perl'), join(pub, 'lib')]);
  spawnSync('cp', ['-r', join(REPO, 'plugin/cpanel/Cpanel/API'), join(pub, 'lib/Cpanel/API')]);
  spawnSync('chmod', ['-R', 'a+rX', pub]);
  const passwd = join(fx.dir, 'passwd');
  writeFileSync(passwd, `${CALLER_UID}:bravo\n65533:nosuchacct\n`);
  cpwrapd = spawn(process.env.PERL ?? 'perl', [join(pub, 'lib/cpwrapd.pl'), join(pub, 'cpwrapd.sock'), join(REPO, 'plugin/cpanel/bin/admin')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PERL5LIB: join(pub, 'lib'), TLSA_TEST_PASSWD: passwd, TLSA_MANAGER_SOCKET: sock, TLSA_MANAGER_TEST_ADMINBIN: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    cpwrapd.stdout!.once('data', () => resolve());
    cpwrapd.once('exit', (c) => reject(new Error(`cpwrapd exited ${c}`)));
  });
});

afterAll(async () => {
  if (cpwrapd?.pid) process.kill(cpwrapd.pid);
  await srv?.close();
  fx?.cleanup();
  if (pub) rmSync(pub, { recursive: true, force: true });
});

/** `uapi TLSAManager <fn> key=value…` as the account's uid: cPanel's UAPI dispatch reduced to calling the function. */
async function uapi(fn: string, args: Record<string, string> = {}, uid = CALLER_UID): Promise<{ status: number; data: unknown; errors: string[] }> {
  const script = `use strict; use JSON::PP; use Cpanel::Args; use Cpanel::Result; use Cpanel::API::TLSAManager;
    my %a = map { split /=/, $_, 2 } @ARGV[1..$#ARGV]; my $r = Cpanel::Result->new;
    my $fn = Cpanel::API::TLSAManager->can($ARGV[0]) or die "no such function";
    my $ok = eval { $fn->(Cpanel::Args->new(\\%a), $r) }; push @{$r->{errors}}, "$@" if $@;
    print JSON::PP->new->utf8->canonical->encode({ status => $ok ? 1 : 0, data => $r->data, errors => $r->{errors} });`;
  // Asynchronous: the service answering the AdminBin runs in this process.
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', 'perl', '-e', script, fn, ...Object.entries(args).map(([k, v]) => `${k}=${v}`)], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PERL5LIB: join(pub, 'lib'), TLSA_TEST_CPWRAPD: join(pub, 'cpwrapd.sock') },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise((resolve) => child.on('close', resolve));
  expect(err, 'uapi stderr').toBe('');
  return JSON.parse(out) as { status: number; data: unknown; errors: string[] };
}

describe('UAPI TLSAManager → AdminBin → service, for the caller cPanel names (issue 28)', () => {
  it("status answers for the caller's account: its domains and nothing else", async () => {
    const r = await uapi('status');
    expect(r.status).toBe(1);
    const data = r.data as { account: string; domains: { domain: string }[] };
    expect(data.account).toBe('bravo');
    expect(data.domains.map((d) => d.domain).sort()).toEqual([...bravo].sort());
  });

  it("another account's domain is refused exactly like a missing one; arguments cannot name another account", async () => {
    const other = await uapi('status', { domain: 'alpha-demo.test', user: 'alpha', account: 'alpha' });
    const missing = await uapi('status', { domain: 'nosuch-demo.test' });
    expect(other.status).toBe(0);
    expect(other.errors).toEqual(['no domain alpha-demo.test for account bravo Ask for one of the domains the account holds.']);
    expect(missing.errors).toEqual(['no domain nosuch-demo.test for account bravo Ask for one of the domains the account holds.']);
    expect(JSON.stringify(other.data)).toBe(JSON.stringify(missing.data));
  });

  it('a uid cPanel knows no account for gets no data', async () => {
    const r = await uapi('status', {}, 65533);
    expect(r.status).toBe(0);
    expect(r.errors.join(' ')).toContain('no account nosuchacct');
  });

  it('"Check now" runs a check of one own domain and then refuses a second within the minute', async () => {
    const first = await uapi('check', { domain: bravo[0]! });
    expect(first.status).toBe(1);
    expect((first.data as { domains: { domain: string }[] }).domains.map((d) => d.domain)).toEqual([bravo[0]]);
    const again = await uapi('check', { domain: bravo[0]! });
    expect(again.status).toBe(0);
    expect(again.errors.join(' ')).toMatch(/was checked less than a minute ago; try again in \d+ seconds/);
    const foreign = await uapi('check', { domain: 'alpha-demo.test' });
    expect(foreign.errors).toEqual(['no domain alpha-demo.test for account bravo Ask for one of the domains the account holds.']);
    // Refused before anything ran: no check of another account's domain was made or stored.
    const state = fx.context().state();
    expect(state.latestCheckOf(bravo[0]!)).not.toBeNull();
    expect(state.latestCheckOf('alpha-demo.test')).toBeNull();
  });

  it("the owner's e-mail switch (set_notify) is kept for the caller's account only", async () => {
    expect((await uapi('status')).data).toMatchObject({ notify: { offered: false, enabled: true } });
    const off = await uapi('set_notify', { enabled: '0', user: 'alpha' });
    expect(off.status).toBe(1);
    expect(off.data).toMatchObject({ account: 'bravo', notify: { enabled: false } });
    expect((await uapi('status')).data).toMatchObject({ notify: { enabled: false } });
    const bad = await uapi('set_notify', { enabled: 'yes' });
    expect(bad.status).toBe(0);
    expect(bad.errors).toEqual(['Say enabled=1 or enabled=0.']);
    // Stored per account in the state database: bravo's switch, nobody else's.
    const rows = fx.context().state().db.prepare('SELECT account, notify FROM owner_prefs').all();
    expect(rows).toEqual([{ account: 'bravo', notify: 0 }]);
    expect((await uapi('set_notify', { enabled: '1' })).data).toMatchObject({ notify: { enabled: true } });
  });

  it('the account door cannot be reached through the WHM shim (it always names a WHM user)', async () => {
    const r = await http({ socketPath: join(fx.dir, 'run', 'web.sock') }, 'POST', '/account', { headers: { 'x-tlsa-account-client': '1', 'x-tlsa-account': 'bravo', 'x-tlsa-remote-user': 'root', 'content-type': 'application/json' } });
    expect(r.body).not.toContain('"account":"bravo"');
    expect([403, 404]).toContain(r.status);
  });

  it('accountView.enabled false turns the page off for every account', () => {
    const file = join(fx.root, 'etc/tlsa-manager/config.json');
    const before = readFileSync(file, 'utf8');
    const cfg = JSON.parse(before);
    saveConfig(file, { ...cfg, accountView: { enabled: false, notify: false } });
    // The running service holds its config: a new one reads the file.
    return (async () => {
      const ctx = fx.context();
      const sock2 = join(fx.dir, 'run', 'web2.sock');
      const s2 = await startServer(ctx, { kind: 'socket', path: sock2 }, { services: testServices(ctx) });
      try {
        const r = await http({ socketPath: sock2 }, 'POST', '/account', { headers: { 'x-tlsa-account-client': '1', 'x-tlsa-account': 'bravo', 'content-type': 'application/json' } });
        expect(JSON.parse(r.body)).toMatchObject({ ok: false, code: 'account-view-off' });
      } finally {
        await s2.close();
        writeFileSync(file, before, { mode: 0o600 });
      }
    })();
  });
});
