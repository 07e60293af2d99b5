import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, makeSource, newRoot, sh, type Run } from '../helpers/install-fixture.js';

// Issue 14, receiving side: install.sh puts a router and a transport for tlsrpt@<hostname> into
// cPanel's /etc/exim.conf.local (the Advanced Editor's file), rebuilds Exim's config with
// /scripts/buildeximconf, and uninstall.sh takes exactly those lines out again. Real install.sh
// and uninstall.sh (as root) on demo roots whose cPanel tools are stubs that log their calls.

const LOCAL = '/etc/exim.conf.local';
const SPOOL = '/var/spool/tlsa-manager/tlsrpt';

let scratch: string;
let source: string;

const at = (root: string, p: string) => join(root, p);
const install = (root: string) => sh(join(source, 'install.sh'), ['--root', root, '--skip-npm']);
const uninstall = (root: string) => sh(join(at(root, APP), 'uninstall.sh'), ['--root', root]);
const stubCalls = (root: string, stub: string) =>
  existsSync(at(root, '/var/log/stub-calls.jsonl'))
    ? readFileSync(at(root, '/var/log/stub-calls.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { stub: string })
        .filter((c) => c.stub === stub).length
    : 0;
const backups = (root: string) => readdirSync(at(root, '/etc')).filter((n) => n.startsWith('exim.conf.local.tlsa-manager-'));
const mailGid = Number(spawnSync('getent', ['group', 'mail'], { encoding: 'utf8' }).stdout.split(':')[2]);

// What WHM's Advanced Editor leaves: every section, some with the admin's own lines.
const ADMIN_FILE = `@AUTH@

@BEGINACL@

@CONFIG@
message_size_limit = 50M

@DIRECTOREND@

@DIRECTORMIDDLE@

@DIRECTORSTART@

@ENDACL@

@POSTMAILCOUNT@

@PREDOTFORWARD@

@PRENOALIASDISCARD@

@PREROUTERS@

@PREVALIASNOSTAR@

@RETRYEND@

@RETRYSTART@

@REWRITE@

@ROUTEREND@

@ROUTERMIDDLE@

@ROUTERSTART@
smart_route:
    driver = manualroute
    domains = !+local_domains
    transport = remote_smtp
    route_list = * relay.example.net

@TRANSPORTEND@

@TRANSPORTMIDDLE@

@TRANSPORTSTART@
relay_smtp:
    driver = smtp
`;

// Written out by hand from the router and transport install.sh must add.
const ROUTER = (_root: string) => `# BEGIN tlsa-manager tlsrpt
# TLS reports (RFC 8460) mailed to tlsrpt@<this server's hostname>: to TLSA Manager.
tlsa_manager_tlsrpt:
    driver = accept
    domains = $primary_hostname
    local_parts = tlsrpt
    transport = tlsa_manager_tlsrpt_pipe
# END tlsa-manager tlsrpt`;
const TRANSPORT = (root: string) => `# BEGIN tlsa-manager tlsrpt
tlsa_manager_tlsrpt_pipe:
    driver = pipe
    command = ${root}${APP}/bin/tlsa-manager-tlsrpt-ingest
    user = mailnull
    group = mail
    temp_errors = 75
    timeout = 2m
    log_output
    return_fail_output = false
    return_output = false
# END tlsa-manager tlsrpt`;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'install-tlsrpt-'));
  chmodSync(scratch, 0o755);
  source = join(scratch, 'source');
  makeSource(source);
}, 300_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
}, 300_000);

describe('install.sh and uninstall.sh: the Exim route for tlsrpt@<hostname>', () => {
  let root: string;
  let first: Run;
  let afterFirst: string;
  beforeAll(async () => {
    root = await newRoot(scratch, 'with-local');
    writeFileSync(at(root, LOCAL), ADMIN_FILE, { mode: 0o640 });
    chmodSync(at(root, LOCAL), 0o640);
    first = install(root);
    afterFirst = readFileSync(at(root, LOCAL), 'utf8');
  }, 300_000);

  it('adds our router first in ROUTERSTART and our transport in TRANSPORTSTART; every other line stays where it was', () => {
    expect(first.code, first.stderr).toBe(0);
    const expected = ADMIN_FILE.replace('@ROUTERSTART@\n', `@ROUTERSTART@\n${ROUTER(root)}\n`).replace('@TRANSPORTSTART@\n', `@TRANSPORTSTART@\n${TRANSPORT(root)}\n`);
    expect(afterFirst).toBe(expected);
    expect(statSync(at(root, LOCAL)).mode & 0o777).toBe(0o640);
    expect(first.stdout).toContain('Exim delivers tlsrpt@<hostname> to TLSA Manager');
  });

  it('keeps a copy of the file as it was, and applies the change with buildeximconf and restartsrv_exim', () => {
    expect(backups(root)).toHaveLength(1);
    expect(readFileSync(at(root, `/etc/${backups(root)[0]}`), 'utf8')).toBe(ADMIN_FILE);
    expect(stubCalls(root, 'buildeximconf')).toBe(1);
    expect(stubCalls(root, 'restartsrv_exim')).toBe(1);
    // The rebuilt exim.conf (the stub splices sections as cPanel does) routes with our router.
    const conf = readFileSync(at(root, '/etc/exim.conf'), 'utf8');
    expect(conf.indexOf('tlsa_manager_tlsrpt:')).toBeGreaterThan(conf.indexOf('begin routers'));
    expect(conf.indexOf('tlsa_manager_tlsrpt_pipe:')).toBeGreaterThan(conf.indexOf('begin transports'));
  });

  it('the spool belongs to root and the pipe\'s group (mail), 1730; the wrapper Exim runs is executable by the pipe user', () => {
    const st = statSync(at(root, SPOOL));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o1730, 0, mailGid]);
    const wrapper = at(root, `${APP}/bin/tlsa-manager-tlsrpt-ingest`);
    expect(statSync(wrapper).mode & 0o777).toBe(0o755);
    // As Exim runs it: an unprivileged uid in group mail drops the message; outside it, deferred.
    const as = (gid: number) => spawnSync('setpriv', ['--reuid=65534', `--regid=${gid}`, '--clear-groups', wrapper], { input: 'Subject: t\r\n\r\nx\r\n', encoding: 'utf8' });
    const ok = as(mailGid);
    expect([ok.status, ok.stdout]).toEqual([0, expect.stringMatching(/^tlsa-manager tlsrpt: spooled \d+ bytes as /)]);
    const refused = as(65534);
    expect(refused.status).toBe(75);
    expect(readdirSync(at(root, SPOOL))).toHaveLength(1);
  });

  it('a second install changes nothing: no duplicate, no new copy, no rebuild', () => {
    const again = install(root);
    expect(again.code, again.stderr).toBe(0);
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe(afterFirst);
    expect(afterFirst.match(/tlsa_manager_tlsrpt:/g)).toHaveLength(1);
    expect(backups(root)).toHaveLength(1);
    expect(stubCalls(root, 'buildeximconf')).toBe(1);
    expect(again.stdout).toContain('exim.conf.local unchanged');
  });

  it('uninstall.sh removes exactly our lines: the file is the admin\'s again, mode included, and Exim is rebuilt', () => {
    const un = uninstall(root);
    expect(un.code, un.stderr).toBe(0);
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe(ADMIN_FILE);
    expect(statSync(at(root, LOCAL)).mode & 0o777).toBe(0o640);
    expect(stubCalls(root, 'buildeximconf')).toBe(2);
    expect(readFileSync(at(root, '/etc/exim.conf'), 'utf8')).not.toContain('tlsa_manager');
  });
});

describe('install.sh when cPanel has no exim.conf.local yet', () => {
  it('creates it with the two sections; uninstall.sh leaves it empty', async () => {
    const root = await newRoot(scratch, 'no-local');
    const r = install(root);
    expect(r.code, r.stderr).toBe(0);
    const routerLines = ROUTER(root).replace('# BEGIN tlsa-manager tlsrpt', '# BEGIN tlsa-manager tlsrpt +section');
    const transportLines = TRANSPORT(root).replace('# BEGIN tlsa-manager tlsrpt', '# BEGIN tlsa-manager tlsrpt +section');
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe(`@ROUTERSTART@\n${routerLines}\n@TRANSPORTSTART@\n${transportLines}\n`);
    expect(statSync(at(root, LOCAL)).mode & 0o777).toBe(0o644);
    expect(uninstall(root).code).toBe(0);
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe('');
  }, 300_000);
});

describe('install.sh when Exim refuses the rebuilt configuration', () => {
  it('puts exim.conf.local back as it was, rebuilds again and says so; the rest of the install stands', async () => {
    const root = await newRoot(scratch, 'refused');
    writeFileSync(at(root, LOCAL), ADMIN_FILE);
    writeFileSync(at(root, '/var/cpanel/buildeximconf-fail'), '');
    const r = install(root);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('buildeximconf refused the Exim configuration');
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe(ADMIN_FILE);
    expect(stubCalls(root, 'buildeximconf')).toBe(2);
    expect(existsSync(at(root, '/usr/local/bin/tlsa-manager'))).toBe(true);
  }, 300_000);

  it('leaves a file with a broken block of ours alone and says why', async () => {
    const root = await newRoot(scratch, 'broken');
    const broken = `${ADMIN_FILE}# BEGIN tlsa-manager tlsrpt\nhalf:\n`;
    writeFileSync(at(root, LOCAL), broken);
    const r = install(root);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('unterminated');
    expect(readFileSync(at(root, LOCAL), 'utf8')).toBe(broken);
    expect(stubCalls(root, 'buildeximconf')).toBe(0);
  }, 300_000);
});
