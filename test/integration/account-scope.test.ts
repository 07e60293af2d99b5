import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeFakeRoot, cpanelZone, type FakeRootSpec } from '../helpers/fake-root.js';
import { combined, ISSUER_FIXTURES, leafFrom, lookalikeCa, spkiOf } from '../helpers/le-chain.js';
import { openssl } from '../helpers/openssl.js';
import { accountIdentity, whmIdentity, type Identity } from '../../src/access/identity.js';
import { refusal, scopeOf, type Scope } from '../../src/access/scope.js';
import { StateDb, STATE_DB_PATH } from '../../src/state/db.js';
import { DnssecStore } from '../../src/dnssec/watch.js';
import { MtaStsStore } from '../../src/mtasts/store.js';
import { MtaStsChecks } from '../../src/mtasts/checks-store.js';
import { ServerRoot } from '../../src/util/server-root.js';

/**
 * Issue 28's foundation: one scope decides what root, a reseller and an account see. Accounts and
 * owners follow cPanel's files: `/etc/userdomains` (domain → account), `OWNER=` in
 * `/var/cpanel/users/<user>` (Cpanel/AcctUtils/Owner.pm getowner) and `/var/cpanel/resellers`
 * (`name:privileges` lines, Cpanel/Reseller.pm _load_one_reseller).
 */
const CLI = join(process.cwd(), 'dist/cli.js');

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

const ALL: Record<string, string> = {
  'alice.test': 'alice',
  'alice-away.test': 'alice',
  'bob.test': 'bob',
  'bob-two.test': 'bob',
  'res1.test': 'res1',
  'carol.test': 'carol',
};
const USERS: Record<string, string> = {
  // alice prefers ECDSA keys: AutoSSL's next key for her is ECDSA (Cpanel/SSL/DefaultKey/User.pm get).
  alice: 'DNS=alice.test\nOWNER=root\nSSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\n',
  bob: 'DNS=bob.test\nOWNER=res1\n',
  res1: 'DNS=res1.test\nOWNER=root\n',
  carol: 'DNS=carol.test\nOWNER=root\n',
};

const r12Look = lookalikeCa('R12', 'rsa');
const awayLeaf = leafFrom(r12Look, 'mail.alice-away.test', 'rsa');
const R12 = join(ISSUER_FIXTURES, 'r12.pem');

function spec(domains: Record<string, string>): FakeRootSpec {
  const files: Record<string, string> = { '/var/cpanel/resellers': 'res1:list-accts,create-acct\n' };
  for (const [u, text] of Object.entries(USERS)) files[`/var/cpanel/users/${u}`] = text;
  return {
    domains,
    local: Object.keys(domains).filter((d) => d !== 'carol.test'),
    remote: ['carol.test'],
    zones: {
      'alice.test': cpanelZone('alice.test', ['alice.test.\tIN\tMX\t10 mail.alice.test.', 'mail.alice.test.\tIN\tA\t192.0.2.10']),
      'bob.test': cpanelZone('bob.test', ['bob.test.\tIN\tMX\t10 bob.test.', 'bob.test.\tIN\tA\t192.0.2.10']),
    },
    // alice-away.test's DNS is elsewhere; its MX host is served here with a Let's Encrypt-shaped chain.
    domainTls: { 'mail.alice-away.test': combined(awayLeaf, R12) },
    files,
  };
}

/** What the product stores from earlier runs: a check that saw alice-away's MX, a signed zone without DS. */
function seedState(root: string): void {
  const db = new StateDb(join(root, STATE_DB_PATH));
  db.saveCheck('alice-away.test', 'no-dnssec', { domain: 'alice-away.test', verdict: 'no-dnssec', mx: [{ host: 'mail.alice-away.test', preference: 10, addresses: ['192.0.2.10'] }], problems: [] }, new Date(Date.now() - 60_000).toISOString());
  const ds = { keyTag: 12345, algorithm: 13, digestType: 2, digest: 'ab'.repeat(32) };
  new DnssecStore(db.db).put({ zone: 'alice.test', state: 'signed-no-ds', reason: null, signing: null, ds: [ds], parentDs: [], dnskey: [], parent: 'test', message: '', fix: '', failed: [], signer: 'cpanel', time: new Date().toISOString() } as never);
  db.close();
}

let full: string;
beforeAll(() => {
  full = makeFakeRoot(spec(ALL));
  seedState(full);
});

const names = (ds: { domain: string }[]) => ds.map((d) => d.domain).sort();
const mine = (users: string[]) => Object.keys(ALL).filter((d) => users.includes(ALL[d]!)).sort();

describe('one scope: each identity sees exactly its domains', () => {
  const table: { name: string; who: Identity; sees: string[] }[] = [
    { name: 'root', who: { kind: 'root' }, sees: Object.keys(ALL).sort() },
    { name: 'res1', who: { kind: 'reseller', name: 'res1' }, sees: mine(['res1', 'bob']) },
    { name: 'alice', who: { kind: 'account', name: 'alice' }, sees: mine(['alice']) },
    { name: 'bob', who: { kind: 'account', name: 'bob' }, sees: mine(['bob']) },
  ];

  for (const row of table) {
    it(`${row.name}: its domains, and another's domain is refused as a missing one is`, () => {
      const root = new ServerRoot(full);
      expect(whmIdentity(root, row.name)).toEqual(row.who);
      const scope = scopeOf(root, row.who);
      expect(names(scope.domains)).toEqual(row.sees);
      for (const d of Object.keys(ALL)) expect(scope.sees(d)).toBe(row.sees.includes(d));
      // Byte-identical: the refusal of another's domain on this server equals the answer for the
      // same name on a server where it does not exist at all.
      const without = new ServerRoot(makeFakeRoot(spec(Object.fromEntries(Object.entries(ALL).filter(([d]) => row.sees.includes(d))))));
      const answer = (s: Scope, d: string) => (s.sees(d) ? `data of ${d}` : JSON.stringify(refusal(row.who, d)));
      for (const d of [...Object.keys(ALL).filter((x) => !row.sees.includes(x)), 'nowhere.test']) {
        expect(answer(scope, d)).toBe(answer(scopeOf(without, row.who), d));
        expect(answer(scope, d)).toBe(JSON.stringify({ code: 'domain-not-in-scope', message: `no domain ${d} for account ${row.name}`, fix: 'Ask for one of the domains the account holds.' }));
      }
    });
  }

  for (const user of ['alice', 'bob']) {
    it(`account status --user ${user}: its domains only; another's domain exits 1 with the same bytes as a missing one`, () => {
      const r = cli(['account', 'status', '--user', user, '--json', '--root', full]);
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout) as { account: string; domains: { domain: string }[] };
      expect(out.account).toBe(user);
      expect(names(out.domains)).toEqual(mine([user]));
      expect(r.stdout).not.toMatch(new RegExp(Object.keys(ALL).filter((d) => ALL[d] !== user).map((d) => d.replace('.', '\\.')).join('|')));
      // The same server without the other accounts' domains: asking for one must answer the same.
      const without = makeFakeRoot(spec(Object.fromEntries(Object.entries(ALL).filter(([, u]) => u === user))));
      seedState(without);
      for (const [i, d] of [...Object.keys(ALL).filter((x) => ALL[x] !== user), 'nowhere.test'].entries()) {
        for (const extra of i === 0 ? [[], ['--json']] : [['--json']]) {
          const here = cli(['account', 'status', '--user', user, '--domain', d, ...extra, '--root', full]);
          const gone = cli(['account', 'status', '--user', user, '--domain', d, ...extra, '--root', without]);
          expect(here.status).toBe(1);
          expect(here.stderr).toBe(`tlsa-manager: no domain ${d} for account ${user} (Ask for one of the domains the account holds.)\n`);
          expect(here).toEqual(gone);
        }
      }
      const own = cli(['account', 'status', '--user', user, '--domain', mine([user])[0]!, '--json', '--root', full]);
      expect(own.status).toBe(0);
      expect(names(JSON.parse(own.stdout).domains)).toEqual([mine([user])[0]]);
    });
  }
});

describe('account names are checked as cPanel checks them before any path is built', () => {
  // Cpanel/Validate/Username/Core.pm is_valid: [-._a-z0-9]{1,16}, no leading - . or digit.
  const BAD = ['../x', '', 'a'.repeat(17), 'Alice', 'alice/..', '-alice', '.alice', '1alice', 'al ice', 'alice\n'];

  it('each invalid name exits 2 with one message, even when a file of that name exists', () => {
    const root = makeFakeRoot({ ...spec(ALL), files: { ...spec(ALL).files, '/var/cpanel/users/Alice': USERS.alice!, '/var/cpanel/x': USERS.alice! } });
    for (const name of BAD) {
      const r = cli(['account', 'status', `--user=${name}`, '--root', root]);
      expect(r.status, name).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')[0]).toMatch(/^tlsa-manager: no account /);
    }
    // Unknown but valid: the same exit code and words.
    const unknown = cli(['account', 'status', '--user', 'nobodyhere', '--root', root]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^tlsa-manager: no account nobodyhere /);
  });

  it('an invalid name touches no path', () => {
    const touched: string[] = [];
    class Spy extends ServerRoot {
      override path(p: string): string {
        touched.push(p);
        return super.path(p);
      }
      override readText(p: string, max?: number): string | null {
        touched.push(p);
        return super.readText(p, max);
      }
    }
    const root = new Spy(full);
    for (const name of BAD) expect(accountIdentity(root, name)).toBe('invalid');
    // Only a fixed file (cPanel's switch for leading digits), never one named after the input.
    expect(touched.filter((p) => p !== '/etc/allowstupidstuff')).toEqual([]);
    expect(accountIdentity(root, 'alice')).toEqual({ kind: 'account', name: 'alice' });
    expect(touched).toContain('/var/cpanel/users/alice');
  });
});

describe('records by hand for DNS hosted elsewhere survive AutoSSL renewals', () => {
  /** `2 1 1` data of an issuer certificate file, by openssl alone. */
  const pin = (file: string) => spkiOf(file);
  const LE = (n: string) => pin(join(ISSUER_FIXTURES, `${n.toLowerCase()}.pem`));
  const ECDSA = ['E5', 'E6', 'E7', 'E8', 'E9', 'YE1', 'YE2', 'YE3'];

  it("alice-away.test: the served issuer's pin, then the ECDSA issuers of her next key, within the owner budget; no 3 1 1", () => {
    const r = cli(['account', 'status', '--user', 'alice', '--domain', 'alice-away.test', '--json', '--root', full]);
    expect(r.status).toBe(0);
    const d = JSON.parse(r.stdout).domains[0];
    expect(d).toMatchObject({ domain: 'alice-away.test', mail: 'here', dnsHost: 'elsewhere' });
    const at25 = d.recordsByHand.filter((h: { owner: string }) => h.owner === '_25._tcp.mail.alice-away.test.');
    expect(new Set(d.recordsByHand.map((h: { owner: string }) => h.owner))).toEqual(new Set([25, 465, 587].map((p) => `_${p}._tcp.mail.alice-away.test.`)));
    expect(at25).toHaveLength(10); // policy.maxRecordsPerOwner
    for (const h of d.recordsByHand) {
      expect([h.usage, h.selector, h.matchingType, h.ttl]).toEqual([2, 1, 1, 3600]);
      expect(h.why).toMatch(/^Names /);
    }
    const data = at25.map((h: { data: string }) => h.data);
    expect(data[0]).toBe(LE('R12'));
    expect(at25[0].why).toMatch(/^Names R12, the authority that signed the certificate your mail server shows now/);
    expect(new Set(data.slice(1, 9))).toEqual(new Set(ECDSA.map(LE)));
    expect(at25[1].why).toMatch(/ECDSA P-256 key \(your AutoSSL key setting\)/);
    expect(['R10', 'R11', 'R13', 'R14'].map(LE)).toContain(data[9]);
    // No 3 1 1: the served key's own digest (openssl) is nowhere.
    expect(r.stdout).not.toContain(pin(awayLeaf.cert));

    // A simulated renewal: AutoSSL's new key, ECDSA (her setting), from an ECDSA intermediate; or
    // RSA again from R12. Each new chain's issuer pin (openssl on the fixture issuer) is among the
    // records she added, so her hand-added records validate the renewed certificate.
    for (const [cn, kind] of [['E7', 'ec'], ['YE2', 'ec'], ['R12', 'rsa']] as const) {
      const renewed = leafFrom(lookalikeCa(cn, kind), 'mail.alice-away.test', kind);
      const issuerFile = join(ISSUER_FIXTURES, `${cn.toLowerCase()}.pem`);
      expect(openssl(['x509', '-in', renewed.cert, '-noout', '-issuer']).toString()).toContain(`CN = ${cn}`);
      expect(pin(renewed.cert)).not.toBe(pin(awayLeaf.cert));
      expect(data).toContain(pin(issuerFile));
    }
    expect(readFileSync(join(ISSUER_FIXTURES, 'r12.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
  });

  it("a zone hosted here gets no records by hand; the DS hand-off is in the account's view", () => {
    const r = cli(['account', 'status', '--user', 'alice', '--domain', 'alice.test', '--json', '--root', full]);
    const d = JSON.parse(r.stdout).domains[0];
    expect(d).toMatchObject({ domain: 'alice.test', mail: 'here', dnsHost: 'here', recordsByHand: [], tlsrpt: null });
    expect(d.dnssec).toEqual({ state: 'signed-no-ds', ds: [{ keyTag: 12345, algorithm: 13, digestType: 2, digest: 'ab'.repeat(32) }], parentDs: [] });
    const text = cli(['account', 'status', '--user', 'alice', '--domain', 'alice.test', '--root', full]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('add this DS record at your registrar');
    expect(text.stdout).toContain(`digest ${'ab'.repeat(32)}`);
    // A zone elsewhere the server has never checked: no MX known, so no records, and it says why.
    const never = makeFakeRoot(spec(ALL));
    const away = cli(['account', 'status', '--user', 'alice', '--domain', 'alice-away.test', '--root', never]);
    expect(away.stdout).toContain('has not yet seen which mail server names your domain uses');
    expect(JSON.parse(cli(['account', 'status', '--user', 'alice', '--domain', 'alice-away.test', '--json', '--root', never]).stdout).domains[0].recordsByHand).toEqual([]);
  });
});

describe("what the owner must know ahead: a renewal that breaks their records, and MTA-STS", () => {
  const DAY = 86_400_000;
  /** A root whose stored check of alice-away.test saw `usages` published and a certificate ending in `days`. */
  function rootWith(usages: number[], days: number): string {
    const files = { '/etc/tlsa-manager/config.json': JSON.stringify({ mtaSts: { publish: ['alice.test', 'alice-away.test'] } }) };
    const root = makeFakeRoot({ ...spec(ALL), files: { ...spec(ALL).files, ...files } });
    const db = new StateDb(join(root, STATE_DB_PATH));
    const ends = new Date(Date.now() + days * DAY).toISOString();
    const tlsa = usages.map((usage) => ({ usage, selector: 1, matchingType: 1, data: 'cd'.repeat(32) }));
    db.saveCheck('alice-away.test', 'valid', { domain: 'alice-away.test', verdict: 'valid', mx: [{ host: 'mail.alice-away.test', preference: 10, addresses: ['192.0.2.10'], tlsa, ports: [{ port: 25, presentedNotAfter: ends }] }], problems: [] }, new Date(Date.now() - 60_000).toISOString());
    new MtaStsStore(db.db).setMode('alice.test', 'enforce', new Date().toISOString());
    const bad = { code: 'mta-sts-mx-certificate-invalid', message: 'mail.alice.test presents a self-signed certificate.', fix: 'Install a CA certificate.' };
    new MtaStsChecks(db.db).record({ domain: 'alice.test', state: 'broken', id: 'x1', policy: { mode: 'enforce', mx: ['mail.alice.test'], maxAge: 1209600 }, served: true, mx: [], problems: [bad as never] }, Date.now() - 60_000);
    // bob's domain is checked too: nothing of it reaches alice.
    new MtaStsChecks(db.db).record({ domain: 'bob.test', state: 'broken', id: 'x2', policy: null, served: false, mx: [], problems: [{ ...bad, message: 'BOB SECRET' } as never] }, Date.now() - 60_000);
    db.close();
    return root;
  }
  const status = (root: string, json = true) => cli(['account', 'status', '--user', 'alice', '--root', root, ...(json ? ['--json'] : [])]);
  const away = (root: string) => JSON.parse(status(root).stdout).domains.find((d: { domain: string }) => d.domain === 'alice-away.test');

  it('records at their DNS host that pin only the current key (3 1 1) are flagged with the date the certificate is renewed by', () => {
    const root = rootWith([3], 20);
    const d = away(root);
    expect(Date.parse(d.renewalBreaks) - Date.now()).toBeGreaterThan(19 * DAY);
    expect(Date.parse(d.renewalBreaks) - Date.now()).toBeLessThan(20 * DAY);
    expect(status(root, false).stdout).toContain(`renewed by about ${d.renewalBreaks.slice(0, 10)} with a new key`);
    // Issuer pins among them survive the renewal; a certificate far from its end is no warning yet.
    expect(away(rootWith([3, 2], 20)).renewalBreaks).toBeNull();
    expect(away(rootWith([3], 45)).renewalBreaks).toBeNull();
    expect(status(rootWith([3], 45), false).stdout).not.toContain('renewed by about');
  });

  it("MTA-STS: off where the domain is not opted in, the domain's own mode where it is", () => {
    const r = JSON.parse(status(rootWith([2], 20)).stdout);
    const mode = Object.fromEntries(r.domains.map((d: { domain: string; mtaSts: { mode: string } }) => [d.domain, d.mtaSts.mode]));
    // alice.test was moved to enforce; alice-away.test starts in the configured mode (testing).
    expect(mode['alice.test']).toBe('enforce');
    expect(mode['alice-away.test']).toBe('testing');
    const alice = r.domains.find((d: { domain: string }) => d.domain === 'alice.test').mtaSts;
    expect(alice).toMatchObject({ mode: 'enforce', state: 'broken', problems: [{ code: 'mta-sts-mx-certificate-invalid', message: 'mail.alice.test presents a self-signed certificate.', fix: 'Install a CA certificate.' }] });
    expect(r.domains.find((d: { domain: string }) => d.domain === 'alice-away.test').mtaSts).toEqual({ mode: 'testing', state: null, checkedAt: null, problems: [] });
    const text = status(rootWith([2], 20), false).stdout;
    expect(text).toContain('a check found what makes those senders refuse your mail');
    expect(text).not.toContain('BOB SECRET');
    expect(Object.entries(mode).filter(([k]) => k !== 'alice.test' && k !== 'alice-away.test').every(([, m]) => m === 'off')).toBe(true);
    expect(JSON.parse(status(full).stdout).domains.every((d: { mtaSts: { mode: string } }) => d.mtaSts.mode === 'off')).toBe(true);
  });
});
