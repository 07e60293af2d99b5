import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ServerRoot } from '../../src/util/server-root.js';
import { readParsedZone, readServiceRecords } from '../../src/cpanel/local-zones.js';
import { scanServer } from '../../src/cpanel/scan.js';
import { StateDb } from '../../src/state/db.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { hookEvent } from '../helpers/cpanel-fixtures.js';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';

/**
 * Issue 15 (a zone we do not edit is never refused in silence; types BIND knows are kept) and
 * issue 11 finding 4 ($INCLUDE and certificate files read as root: confined, regular, capped,
 * never echoed).
 */

const CLI = join(process.cwd(), 'dist/cli.js');
const CONFIG = JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } });
const SECRET = 'hunter2SECRET';

function cli(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

/** Two domains with MX hosts served here: ok.test (a plain zone) and the zone under test. */
function rootWith(zoneText: string, extra: { files?: Record<string, string> } = {}): string {
  const ok = pki.leaf('mail.ok.test');
  const bad = pki.leaf('mail.odd.test');
  return makeFakeRoot({
    domains: { 'ok.test': 'oka', 'odd.test': 'odd' },
    local: ['ok.test', 'odd.test'],
    zones: {
      'ok.test': cpanelZone('ok.test', ['ok.test. IN MX 10 mail.ok.test.', 'mail IN A 192.0.2.10']),
      'odd.test': zoneText,
    },
    domainTls: { 'mail.ok.test': readFileSync(ok.combined, 'utf8'), 'mail.odd.test': readFileSync(bad.combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': CONFIG, ...(extra.files ?? {}) },
  });
}

const oddZone = (records: string[]) => cpanelZone('odd.test', ['odd.test. IN MX 10 mail.odd.test.', 'mail IN A 192.0.2.10', ...records]);

describe('a refused zone is named with its reason in plan and apply, and apply fails while it holds mail served here', () => {
  it('$INCLUDE outside the zone directory: refused by design, MX host here known from the rest of the zone; exit 1; activity logged', () => {
    const root = rootWith(oddZone(['$INCLUDE /root/.my.cnf']), { files: { '/root/.my.cnf': `[client]\npassword=${SECRET}\n` } });
    const plan = cli(['plan', '--root', root]);
    expect(plan.status).toBe(0);
    expect(plan.stdout).toMatch(/zone odd\.test: REFUSED — Zone odd\.test is refused, nothing in it is changed: \/var\/named\/odd\.test\.db line 13: \$INCLUDE \/root\/\.my\.cnf is outside the zone directory \/var\/named/);
    expect(plan.stdout).toContain('its MX host mail.odd.test is served here');
    expect(plan.stdout).not.toContain(SECRET);
    const json = JSON.parse(cli(['plan', '--json', '--root', root]).stdout);
    expect(json.refused).toEqual([expect.objectContaining({ zone: 'odd.test', code: 'zone-syntax', domains: ['odd.test'], mxHere: ['mail.odd.test'] })]);

    const apply = cli(['apply', '--yes', '--root', root]);
    expect(apply.status).toBe(1);
    expect(apply.stdout).toContain('zone ok.test (cpanel): 6 change(s) applied');
    expect(apply.stdout).toMatch(/zone odd\.test \(cpanel\): FAILED, nothing changed: Zone odd\.test is refused/);
    expect(apply.stdout + apply.stderr).not.toContain(SECRET);
    const applyJson = JSON.parse(cli(['apply', '--yes', '--json', '--root', root]).stdout);
    expect(applyJson.results.find((r: { zone: string }) => r.zone === 'odd.test').problem.code).toBe('zone-refused');
    expect(applyJson.plan.refused[0].zone).toBe('odd.test');

    const db = new StateDb(join(root, 'var/lib/tlsa-manager/state.db'));
    const refusals = db.activity({ kind: 'zone-refused' });
    db.close();
    // Logged once, not at every run while nothing changed (two applies above).
    expect(refusals).toHaveLength(1);
    expect(refusals[0]!.detail).toContain('outside the zone directory');
  });

  it('a refused zone whose MX is elsewhere is listed but does not fail apply; one that cannot be told does', () => {
    const remote = rootWith(cpanelZone('odd.test', ['odd.test. IN MX 10 mx.elsewhere.example.', 'bad IN A 999.1.1.1']));
    const apply = cli(['apply', '--yes', '--root', remote]);
    expect(apply.stdout).toMatch(/zone odd\.test: REFUSED — .*line 12: .*not an IPv4 address.*\(no MX host of it is served here\)/);
    expect(apply.status).toBe(0);

    const unknown = rootWith(cpanelZone('odd.test', ['$INCLUDE odd.test.mx', 'mail IN A 192.0.2.10']), { files: { '/var/named/odd.test.mx': 'odd.test. IN MX 10 mail.odd.test.\n' } });
    writeFileSync(join(unknown, 'var/named/odd.test.db'), readFileSync(join(unknown, 'var/named/odd.test.db'), 'utf8') + 'broken IN A 1.2.3\n');
    const u = cli(['apply', '--yes', '--root', unknown]);
    expect(u.stdout).toContain('TLSA Manager cannot tell whether an MX host of it is served here');
    expect(u.status).toBe(1);
  });

  it('the hook answers 1 (never 0) with the refusal for a domain in a refused zone', () => {
    const root = rootWith(oddZone(['x IN A 1.2.3']));
    const event = hookEvent('SSL-installssl-post', { domain: 'odd.test' });
    const r = spawnSync(process.execPath, [CLI, 'hook', '--root', root], { input: event, encoding: 'utf8' });
    expect(r.stdout).toMatch(/^1 .*Zone odd\.test is refused.*line 13.*mail\.odd\.test is served here/);
  });
});

describe('record types BIND knows and the parser does not are kept, not refused', () => {
  it('BRID and HHIT (BIND 9.18 knows them): the zone is edited, their lines kept byte for byte', () => {
    const lines = ['brid IN BRID \\# 2 0000', 'hhit IN HHIT \\# 2 0000'];
    const root = rootWith(oddZone(lines));
    const before = readFileSync(join(root, 'var/named/odd.test.db'), 'utf8');
    const apply = cli(['apply', '--yes', '--root', root]);
    expect(apply.stdout).toContain('zone odd.test (cpanel): 6 change(s) applied');
    expect(apply.status).toBe(0);
    const after = readFileSync(join(root, 'var/named/odd.test.db'), 'utf8');
    for (const l of lines) expect(after).toContain(`\n${l}\n`);
    expect(after.startsWith(before.slice(0, before.indexOf('2024010101')))).toBe(true);
    const served = join(root, 'var/cpanel/ssl/domain_tls/mail.odd.test/combined');
    expect(after).toContain(`\n_25._tcp.mail.odd.test.\t3600\tIN\tTLSA\t3 1 1 ${opensslTlsaData(served, 1, 1)}\n`);
  });

  it('an unknown mnemonic named-checkzone rejects refuses the zone, naming the type and the line', () => {
    const root = rootWith(oddZone(['foo IN FOO 1 2']));
    const plan = cli(['plan', '--root', root]);
    expect(plan.stdout).toMatch(/zone odd\.test: REFUSED — .*odd\.test\.db line 13: record type FOO is not known to TLSA Manager, and named-checkzone rejects the zone/);
  });
});

describe('$INCLUDE and certificate files are confined, regular, capped, never echoed (issue 11 finding 4)', () => {
  const scanProblems = async (root: string, domain = 'odd.test') => {
    const scan = await scanServer(new ServerRoot(root));
    return scan.domains.find((d) => d.domain === domain)!.problems.map((p) => p.message).join('\n');
  };

  it('an include outside the zone directory (absolute, relative, or through a symlink) is refused by name, content never shown', async () => {
    for (const inc of ['/root/.my.cnf', '../../root/.my.cnf', 'link.inc']) {
      const root = rootWith(oddZone([`$INCLUDE ${inc}`]), { files: { '/root/.my.cnf': `${SECRET} IN A 192.0.2.1\n` } });
      symlinkSync(join(root, 'root/.my.cnf'), join(root, 'var/named/link.inc'));
      const msg = await scanProblems(root);
      expect(msg).toMatch(inc === 'link.inc' ? /leads outside the zone directory \/var\/named through a symbolic link/ : /is outside the zone directory \/var\/named/);
      expect(msg).not.toContain(SECRET);
      expect(msg).toContain('line 13');
    }
  });

  it('an include inside the zone directory that is not a zone file: line and kind only, not its content', async () => {
    const root = rootWith(oddZone(['$INCLUDE odd.inc']), { files: { '/var/named/odd.inc': `password ${SECRET}\n` } });
    const msg = await scanProblems(root);
    expect(msg).toContain('$INCLUDE file odd.inc line 1: the record data is not valid for its type');
    expect(msg).not.toContain(SECRET);
  });

  it('a FIFO include answers at once (no hang); /dev/zero and an oversized file are refused without reading them', async () => {
    const root = rootWith(oddZone(['$INCLUDE fifo.inc']));
    mkfifo(join(root, 'var/named/fifo.inc'));
    const t0 = Date.now();
    expect(await scanProblems(root)).toMatch(/\$INCLUDE fifo\.inc is not a regular file/);
    expect(Date.now() - t0).toBeLessThan(5000);

    const zero = rootWith(oddZone(['$INCLUDE zero.inc']));
    symlinkSync('/dev/zero', join(zero, 'var/named/zero.inc'));
    expect(await scanProblems(zero)).toMatch(/\$INCLUDE zero\.inc leads outside the zone directory/);

    const big = rootWith(oddZone(['$INCLUDE big.inc']));
    closeSync(openSync(join(big, 'var/named/big.inc'), 'w'));
    truncateSync(join(big, 'var/named/big.inc'), 65 * 1024 * 1024); // sparse: costs no disk
    expect(await scanProblems(big)).toMatch(/\$INCLUDE big\.inc is too large/);
  });

  it('the zone file itself as a FIFO is refused at once', async () => {
    const root = rootWith(oddZone([]));
    const file = join(root, 'var/named/odd.test.db');
    execFileSync('rm', [file]);
    mkfifo(file);
    expect(await scanProblems(root)).toMatch(/odd\.test\.db is not a regular file/);
  });

  it('a certificate file that is /dev/zero, a FIFO or oversized is a problem of that host, read no further', async () => {
    const root = rootWith(oddZone([]));
    const combined = (h: string) => join(root, 'var/cpanel/ssl/domain_tls', h, 'combined');
    execFileSync('rm', [combined('mail.odd.test')]);
    symlinkSync('/dev/zero', combined('mail.odd.test'));
    mkdirSync(join(root, 'var/cpanel/ssl/domain_tls/mail.ok.test'), { recursive: true });
    execFileSync('rm', [combined('mail.ok.test')]);
    mkfifo(combined('mail.ok.test'));
    let scan = await scanServer(new ServerRoot(root));
    const problemOf = (host: string) => scan.endpoints.find((e) => e.host === host)!.problems.map((p) => p.message).join(' ');
    expect(problemOf('mail.odd.test')).toContain('combined is not a regular file');
    expect(problemOf('mail.ok.test')).toContain('combined is not a regular file');

    execFileSync('rm', [combined('mail.odd.test')]);
    closeSync(openSync(combined('mail.odd.test'), 'w'));
    truncateSync(combined('mail.odd.test'), 2 * 1024 * 1024);
    scan = await scanServer(new ServerRoot(root));
    expect(problemOf('mail.odd.test')).toContain('combined is too large');
  });

  it('tlsa --cert /dev/zero fails at once with one line', () => {
    const r = cli(['tlsa', '--cert', '/dev/zero'], 20_000);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('tlsa-manager: /dev/zero: is not a regular file.');
  });

  it('TLSA and TXT records at underscore owners (what the providers read back) come from the scan\'s parse once, notice a changed include (same zone file), and are what a full parse holds there', () => {
    const tlsa = (n: number) => `_25._tcp.mail IN TLSA 3 1 1 ${String(n).repeat(64)}\n`;
    const root = rootWith(oddZone(['$INCLUDE odd.inc', '_465._tcp.mail IN TLSA 3 1 1 ' + 'ab'.repeat(32), '_smtp._tls IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@odd.test"', '_autodiscover._tcp IN SRV 0 0 443 cpanelemaildiscovery.cpanel.net.']), { files: { '/var/named/odd.inc': `a IN A 192.0.2.1\n${tlsa(1)}` } });
    const sr = new ServerRoot(root);
    const inInclude = (z: ReturnType<typeof readServiceRecords>) => ('code' in z ? z.message : z.records.filter((r) => r.file === 'odd.inc').map((r) => r.rdata));
    readParsedZone(sr, 'odd.test'); // the scan's parse
    const handed = readServiceRecords(sr, 'odd.test');
    expect(inInclude(handed)).toEqual([`3 1 1 ${'1'.repeat(64)}`]);
    // Handed over once: a second read is a read of its own, not the same object kept.
    const again = readServiceRecords(sr, 'odd.test');
    expect(again).not.toBe(handed);
    expect(again).toEqual(handed);
    readParsedZone(sr, 'odd.test');
    writeFileSync(join(root, 'var/named/odd.inc'), `a IN A 192.0.2.1\n${tlsa(1)}${tlsa(2)}`);
    const changed = readServiceRecords(sr, 'odd.test');
    expect(inInclude(changed)).toEqual([`3 1 1 ${'1'.repeat(64)}`, `3 1 1 ${'2'.repeat(64)}`]);
    const full = readParsedZone(sr, 'odd.test');
    if ('code' in full || 'code' in changed) throw new Error('zone refused');
    // cPanel's _autodiscover._tcp SRV (in every cPanel zone) is not read back: not a managed type.
    expect(full.records.some((r) => r.owner.startsWith('_') && r.type === 'SRV')).toBe(true);
    expect(changed.records).toEqual(full.records.filter((r) => r.owner.startsWith('_') && (r.type === 'TLSA' || r.type === 'TXT')));
    expect(readServiceRecords(sr, 'odd.test')).toEqual(changed);
    expect(changed.records.map((r) => r.owner).sort()).toEqual(['_25._tcp.mail.odd.test', '_25._tcp.mail.odd.test', '_465._tcp.mail.odd.test', '_smtp._tls.odd.test']);
  });
});
