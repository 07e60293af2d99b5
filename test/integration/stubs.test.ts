import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot, type DemoManifest } from '../../demo/build-root.js';

// The stubs are run as executables, the way the product runs the real cPanel tools.
// Zone results are cross-checked with named-checkzone, certificate data with openssl.

let root: string;
let m: DemoManifest;
let scratch: string;
const calls: { stub: string; argv: string[] }[] = [];

function run(stub: string, args: string[], opts: { input?: string } = {}): { code: number; stdout: string; stderr: string } {
  const exe = join(root, m.stubs[stub]!);
  const r = spawnSync(exe, args, { encoding: 'utf8', input: opts.input });
  calls.push({ stub, argv: args });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

interface Envelope {
  data: Record<string, any>;
  metadata: { command: string; reason: string; result: 0 | 1; version: number };
}

function whm(fn: string, ...params: string[]): Envelope {
  const r = run('whmapi1', ['--output=json', fn, ...params]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Envelope;
}

const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const zoneFile = (zone: string) => join(root, 'var/named', `${zone}.db`);

function checkzone(zone: string): string[] {
  const r = spawnSync('named-checkzone', ['-i', 'local', '-D', '-o', '-', zone, zoneFile(zone)], { encoding: 'utf8' });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  return r.stdout.split('\n').map((l) => l.replace(/\s+/g, ' ').trim().replace(/^(\S+ \d+ IN TLSA \d \d \d) (.*)$/, (_, h: string, hex: string) => `${h} ${hex.replace(/ /g, '')}`));
}

/** The SOA serial as named-checkzone reports it (independent of the stub's parser). */
function servedSerial(zone: string): string {
  const r = spawnSync('named-checkzone', ['-i', 'local', zone, zoneFile(zone)], { encoding: 'utf8' });
  return /loaded serial (\d+)/.exec(r.stdout)![1]!;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'stubs-scratch-'));
  root = join(mkdtempSync(join(tmpdir(), 'stubs-root-')), 'root');
  m = await buildDemoRoot(root);
});

afterAll(() => {
  rmSync(join(root, '..'), { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

describe('whmapi1', () => {
  it('envelope and unknown function', () => {
    const r = whm('no_such_function');
    expect(Object.keys(r).sort()).toEqual(['data', 'metadata']);
    expect(r.metadata).toMatchObject({ command: 'no_such_function', result: 0, version: 1 });
    expect(r.metadata.reason).toMatch(/no_such_function/);
  });

  it('listips reports mainip and /etc/ips addresses', () => {
    const r = whm('listips');
    expect(r.metadata).toEqual({ command: 'listips', reason: 'OK', result: 1, version: 1 });
    expect(r.data.ip.map((x: { ip: string }) => x.ip)).toEqual(['192.0.2.10', '192.0.2.11']);
    expect(r.data.ip[0].mainaddr).toBe(1);
  });

  it('parse_dns_zone: base64 names/data, line_index pointing at the line, SOA serial at data_b64[2]', () => {
    const zone = 'tlsa-demo.test';
    const lines = readFileSync(zoneFile(zone), 'utf8').split('\n');
    const r = whm('parse_dns_zone', `zone=${zone}`);
    expect(r.metadata.result).toBe(1);
    const payload = r.data.payload as any[];
    const soa = payload.find((e) => e.record_type === 'SOA');
    expect(unb64(soa.data_b64[2])).toBe(servedSerial(zone));
    expect(soa.data_b64).toHaveLength(7);
    expect(payload[0]).toMatchObject({ line_index: 0, type: 'comment' });
    expect(unb64(payload[0].text_b64)).toBe(lines[0]);
    expect(payload.some((e) => e.type === 'control' && unb64(e.text_b64) === '$TTL 14400')).toBe(true);
    for (const e of payload.filter((x) => x.type === 'record')) {
      const owner = unb64(e.dname_b64);
      expect(lines[e.line_index]!.startsWith(owner), `line ${e.line_index}`).toBe(true);
      expect(typeof e.ttl).toBe('number');
    }
    const tlsa = payload.filter((e) => e.record_type === 'TLSA');
    expect(tlsa).toHaveLength(2);
    const host = m.domains.find((d) => d.name === zone)!.mx[0]!.host;
    const fromDig = checkzone(zone).filter((l) => l.includes(' TLSA '));
    for (const t of tlsa) {
      const data = t.data_b64.map(unb64);
      expect(data.slice(0, 3)).toEqual(['3', '1', '1']);
      expect(fromDig).toContain(`_25._tcp.${host}. ${t.ttl} IN TLSA 3 1 1 ${data[3].toUpperCase()}`);
    }
    const txt = payload.find((e) => e.type === 'record' && e.record_type === 'TXT' && unb64(e.dname_b64) === 'default._domainkey');
    expect(txt.data_b64.length).toBe(2); // a long DKIM key in two quoted strings, without quotes
    expect(unb64(txt.data_b64[0])).toMatch(/^v=DKIM1; k=rsa; p=/);
  });

  it('parse_dns_zone refuses unknown zones and path tricks', () => {
    expect(whm('parse_dns_zone', 'zone=nope-demo.test').metadata.result).toBe(0);
    expect(whm('parse_dns_zone', 'zone=../../etc/passwd').metadata.result).toBe(0);
    expect(whm('parse_dns_zone').metadata).toMatchObject({ result: 0, reason: expect.stringMatching(/zone/) });
  });

  it('mass_edit_dns_zone: stale serial fails and names the current one; nothing changes', () => {
    const zone = 'alpha-demo.test';
    const before = readFileSync(zoneFile(zone), 'utf8');
    const current = servedSerial(zone);
    const r = whm('mass_edit_dns_zone', `zone=${zone}`, 'serial=1999010101', `add=${JSON.stringify({ dname: '_25._tcp', ttl: 3600, record_type: 'TLSA', data: ['3', '1', '1', 'ab'.repeat(32)] })}`);
    expect(r.metadata.result).toBe(0);
    expect(r.metadata.reason).toContain(current);
    expect(readFileSync(zoneFile(zone), 'utf8')).toBe(before);
  });

  it('mass_edit_dns_zone: bad TLSA data is refused and changes nothing', () => {
    const zone = 'alpha-demo.test';
    const before = readFileSync(zoneFile(zone), 'utf8');
    for (const data of [['3', '1', '1', 'xyz'], ['4', '1', '1', 'ab'.repeat(32)], ['3', '1', '1', 'ab'.repeat(31)], ['3', '1']]) {
      const r = whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${servedSerial(zone)}`, `add=${JSON.stringify({ dname: '_25._tcp', ttl: 3600, record_type: 'TLSA', data })}`);
      expect(r.metadata.result, JSON.stringify(data)).toBe(0);
    }
    const evil = whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${servedSerial(zone)}`, `add=${JSON.stringify({ dname: 'x\nevil 1 IN A 1.2.3.4', record_type: 'A', data: ['192.0.2.1'] })}`);
    expect(evil.metadata.result).toBe(0);
    expect(readFileSync(zoneFile(zone), 'utf8')).toBe(before);
  });

  it('mass_edit_dns_zone round trip: replace the stale TLSA, serial bumped, zone still valid', () => {
    const zone = 'tlsa-demo.test';
    const existing = m.existingTlsa.find((t) => t.zone === zone)!;
    const host = existing.owner.replace(/^_25\._tcp\./, '');
    const parsed = whm('parse_dns_zone', `zone=${zone}`).data.payload as any[];
    const serial = unb64(parsed.find((e) => e.record_type === 'SOA').data_b64[2]);
    const stale = parsed.find((e) => e.record_type === 'TLSA' && unb64(e.data_b64[3]) === existing.stale);
    const newHex = 'cd'.repeat(32);
    const add = [
      { dname: '_465._tcp.mail', ttl: 3600, record_type: 'TLSA', data: ['3', '1', '1', newHex] },
      { dname: `_587._tcp.${host}.`, ttl: 3600, record_type: 'TLSA', data: ['2', '1', '1', newHex] },
    ];
    const r = whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${serial}`, ...add.map((a) => `add=${JSON.stringify(a)}`), `remove=${stale.line_index}`);
    expect(r.metadata, r.metadata.reason).toMatchObject({ result: 1, command: 'mass_edit_dns_zone' });
    const newSerial = r.data.new_serial;
    expect(Number(newSerial)).toBeGreaterThan(Number(serial));
    expect(servedSerial(zone)).toBe(String(newSerial));
    const tlsa = checkzone(zone).filter((l) => l.includes(' TLSA '));
    expect(tlsa.sort()).toEqual(
      [
        `_25._tcp.${host}. 3600 IN TLSA 3 1 1 ${existing.correct.toUpperCase()}`,
        `_465._tcp.${host}. 3600 IN TLSA 3 1 1 ${newHex.toUpperCase()}`,
        `_587._tcp.${host}. 3600 IN TLSA 2 1 1 ${newHex.toUpperCase()}`,
      ].sort(),
    );
    // The SOA keeps cPanel's multi-line layout.
    expect(readFileSync(zoneFile(zone), 'utf8')).toMatch(new RegExp(`^\\s+${newSerial}\\s+;Serial Number$`, 'm'));
    // The old serial is now stale.
    const again = whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${serial}`, `remove=${stale.line_index}`);
    expect(again.metadata.result).toBe(0);
    expect(again.metadata.reason).toContain(String(newSerial));
  });

  it('mass_edit_dns_zone edit replaces one record and refuses non-record lines', () => {
    const zone = 'bravo-demo.test';
    const parsed = whm('parse_dns_zone', `zone=${zone}`).data.payload as any[];
    const serial = unb64(parsed.find((e) => e.record_type === 'SOA').data_b64[2]);
    const comment = parsed.find((e) => e.type === 'comment');
    expect(whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${serial}`, `remove=${comment.line_index}`).metadata.result).toBe(0);
    const ftp = parsed.find((e) => e.type === 'record' && unb64(e.dname_b64) === 'ftp');
    const edit = { line_index: ftp.line_index, dname: 'ftp', ttl: 300, record_type: 'A', data: ['192.0.2.99'] };
    const r = whm('mass_edit_dns_zone', `zone=${zone}`, `serial=${serial}`, `edit=${JSON.stringify(edit)}`);
    expect(r.metadata.result, r.metadata.reason).toBe(1);
    const lines = checkzone(zone);
    expect(lines).toContain('ftp.bravo-demo.test. 300 IN A 192.0.2.99');
    expect(lines.filter((l) => l.startsWith('ftp.'))).toHaveLength(1);
  });

  it('fetch_ssl_vhosts reports vhosts with domains, owner and certificate facts matching openssl', () => {
    const r = whm('fetch_ssl_vhosts');
    expect(r.metadata.result).toBe(1);
    const alpha = r.data.vhosts.find((v: any) => v.servername === 'alpha-demo.test');
    expect(alpha.user).toBe('alpha');
    expect(alpha.domains).toEqual(expect.arrayContaining(['alpha-demo.test', 'mail.alpha-demo.test', 'parked-demo.test']));
    expect(alpha.crt.issuer.commonName).toBe('Demo R10');
    const certFile = join(root, 'var/cpanel/ssl/apache_tls/alpha-demo.test/certificates');
    const end = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-enddate'], { encoding: 'utf8' }).trim().replace('notAfter=', '');
    expect(alpha.crt.not_after).toBe(Math.floor(Date.parse(end) / 1000));
    const self = r.data.vhosts.find((v: any) => v.servername === 'selfsigned-demo.test');
    expect(self.crt.is_self_signed).toBe(1);
    expect(alpha.crt.is_self_signed).toBe(0);
  });
});

describe('AppConfig registration stubs', () => {
  const good = ['name=tlsa_manager', 'service=whostmgr', 'url=/cgi/tlsa_manager/index.cgi', 'acls=all', 'user=root', 'displayname=TLSA Manager', 'entryurl=tlsa_manager/index.cgi', 'target=_self', ''].join('\n');

  it('register_appconfig validates and writes /var/cpanel/apps/<name>.conf with mode 0600', () => {
    const file = join(scratch, 'tlsa_manager.conf');
    writeFileSync(file, good);
    const r = run('register_appconfig', [file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('tlsa_manager registered\n');
    const installed = join(root, 'var/cpanel/apps/tlsa_manager.conf');
    expect(statSync(installed).mode & 0o777).toBe(0o600);
    expect(readFileSync(installed, 'utf8')).toBe(good);
    expect(run('is_registered_with_appconfig', ['whostmgr', 'tlsa_manager']).code).toBe(0);
    expect(run('is_registered_with_appconfig', ['cpanel', 'tlsa_manager']).code).toBe(1);
  });

  it.each([
    ['bad name', good.replace('name=tlsa_manager', 'name=tlsa manager')],
    ['internal name', good.replace('name=tlsa_manager', 'name=internal_x')],
    ['relative url', good.replace('url=/cgi/', 'url=cgi/')],
    ['unknown service', good.replace('service=whostmgr', 'service=nope')],
    ['missing url', good.replace(/^url=.*$/m, '')],
  ])('register_appconfig refuses a file with %s and writes nothing', (_label, content) => {
    const file = join(scratch, 'bad.conf');
    writeFileSync(file, content.replace('name=tlsa_manager', 'name=bad_app').replace('name=tlsa manager', 'name=bad app'));
    const r = run('register_appconfig', [file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not valid/);
    expect(existsSync(join(root, 'var/cpanel/apps/bad_app.conf'))).toBe(false);
    expect(existsSync(join(root, 'var/cpanel/apps/bad app.conf'))).toBe(false);
  });

  it('unregister_appconfig removes the registration (by name)', () => {
    const r = run('unregister_appconfig', ['tlsa_manager']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(root, 'var/cpanel/apps/tlsa_manager.conf'))).toBe(false);
    expect(run('is_registered_with_appconfig', ['whostmgr', 'tlsa_manager']).code).toBe(1);
    expect(run('unregister_appconfig', ['tlsa_manager']).code).toBe(1);
  });
});

describe('manage_hooks', () => {
  const listJson = () => JSON.parse(run('manage_hooks', ['list', '--output=JSON']).stdout);

  it('add --manual, add via --describe, list, delete', () => {
    const script = join(scratch, 'hook.sh');
    writeFileSync(
      script,
      `#!/bin/sh\nif [ "$1" = "--describe" ]; then echo '[{"category":"Whostmgr","event":"SSL::installssl","stage":"post","hook":"${script}"},{"category":"Cpanel","event":"UAPI::SSL::install_ssl","stage":"post","hook":"${script}"}]'; exit 0; fi\necho "1 ok"\n`,
    );
    chmodSync(script, 0o755);
    const manual = run('manage_hooks', ['add', 'script', script, '--manual', '1', '--category', 'Whostmgr', '--event', 'AutoSSL::installssl', '--stage', 'post']);
    expect(manual.code, manual.stderr).toBe(0);
    const described = run('manage_hooks', ['add', 'script', script]);
    expect(described.code, described.stderr).toBe(0);
    const reg = listJson();
    expect(reg.Whostmgr['AutoSSL::installssl']).toEqual([expect.objectContaining({ hook: script, stage: 'post' })]);
    expect(reg.Whostmgr['SSL::installssl']).toEqual([expect.objectContaining({ hook: script, stage: 'post' })]);
    expect(reg.Cpanel['UAPI::SSL::install_ssl']).toHaveLength(1);
    // Same registration twice is not duplicated.
    run('manage_hooks', ['add', 'script', script, '--manual', '--category', 'Whostmgr', '--event', 'AutoSSL::installssl', '--stage', 'post']);
    expect(listJson().Whostmgr['AutoSSL::installssl']).toHaveLength(1);

    const del = run('manage_hooks', ['delete', 'script', script, '--manual', '1', '--category', 'Whostmgr', '--event', 'AutoSSL::installssl', '--stage', 'post']);
    expect(del.code, del.stderr).toBe(0);
    expect(listJson().Whostmgr['AutoSSL::installssl']).toBeUndefined();
    expect(listJson().Whostmgr['SSL::installssl']).toHaveLength(1);
    expect(run('manage_hooks', ['delete', 'script', script]).code).toBe(0);
    expect(listJson()).toEqual({});
    expect(run('manage_hooks', ['delete', 'script', script]).code).toBe(1);
  });

  it('refuses bad registrations', () => {
    const notExec = join(scratch, 'plain.sh');
    writeFileSync(notExec, '#!/bin/sh\n');
    chmodSync(notExec, 0o644);
    const args = ['--manual', '1', '--category', 'Whostmgr', '--event', 'AutoSSL::installssl', '--stage', 'post'];
    expect(run('manage_hooks', ['add', 'script', notExec, ...args]).code).toBe(1);
    const exec = join(scratch, 'exec.sh');
    writeFileSync(exec, '#!/bin/sh\n');
    chmodSync(exec, 0o755);
    expect(run('manage_hooks', ['add', 'script', exec, ...args.slice(0, -1), 'during']).code).toBe(1);
    expect(run('manage_hooks', ['add', 'script', exec, '--manual', '--category', 'Nope', '--event', 'X', '--stage', 'pre']).code).toBe(1);
    expect(listJson()).toEqual({});
  });
});

describe('systemctl stub and call log', () => {
  it('systemctl keeps unit state', () => {
    expect(run('systemctl', ['is-active', 'tlsa-manager.service'])).toMatchObject({ code: 3, stdout: 'inactive\n' });
    expect(run('systemctl', ['enable', '--now', 'tlsa-manager.service']).code).toBe(0);
    expect(run('systemctl', ['is-active', 'tlsa-manager.service'])).toMatchObject({ code: 0, stdout: 'active\n' });
    expect(run('systemctl', ['is-enabled', 'tlsa-manager.service'])).toMatchObject({ code: 0, stdout: 'enabled\n' });
    expect(run('systemctl', ['daemon-reload']).code).toBe(0);
  });

  it('every stub call is one JSON line with stub, argv and time, in order', () => {
    const lines = readFileSync(join(root, m.callLog), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    // manage_hooks --describe runs the hook script (not a stub), so lines == our calls.
    expect(lines.map((l) => ({ stub: l.stub, argv: l.argv }))).toEqual(calls);
    for (const l of lines) expect(Number.isNaN(Date.parse(l.time))).toBe(false);
  });
});
