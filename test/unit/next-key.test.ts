import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISSUER_FIXTURES, LE_SPKI, leafFrom, lookalikeCa } from '../helpers/le-chain.js';
import { nextKeyFor, type NextKey } from '../../src/cpanel/key-preference.js';
import { desiredRecords } from '../../src/plan/desired.js';
import { planZone } from '../../src/plan/plan.js';
import { parseBundle } from '../../src/tlsa/certificate.js';
import { ServerRoot } from '../../src/util/server-root.js';
import type { Endpoint } from '../../src/cpanel/scan.js';

/**
 * Issue 22, item 4: AutoSSL makes a new key at every renewal of the type the account prefers
 * (Cpanel/SSL/Auto/Provider.pm generate_key → Cpanel/SSL/DefaultKey/User.pm get), so an account
 * that prefers ECDSA and is served an RSA certificate gets an ECDSA certificate from an ECDSA
 * intermediate at the next AutoSSL run. Expected SPKI digests come from openssl reading the real
 * Let's Encrypt intermediates (test/fixtures/issuers), never from the table under test.
 */
const NOW = new Date('2026-11-29T12:00:00Z');
const nameOf = (spki: string) => Object.entries(LE_SPKI).find(([, v]) => v === spki)?.[0] ?? spki;
const ECDSA = ['E5', 'E6', 'E7', 'E8', 'E9', 'YE1', 'YE2', 'YE3'];
const RSA_SIBLINGS = ['R10', 'R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3'];

function rootWith(files: Record<string, string>): ServerRoot {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-nextkey-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return new ServerRoot(dir);
}

describe("the next AutoSSL key's kind, read as cPanel reads it", () => {
  it("the account's SSL_DEFAULT_KEY_TYPE wins", () => {
    const root = rootWith({ '/var/cpanel/users/bob': 'DNS=bob.test\nSSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\nOWNER=root\n', '/var/cpanel/cpanel.config': 'ssl_default_key_type=rsa-4096\n' });
    expect(nextKeyFor(root, 'bob')).toEqual({ type: 'ecdsa-prime256v1', keyAlgorithm: 'ec-p256', label: 'ECDSA P-256', source: 'account' });
  });

  it('`system`, empty or missing → cpanel.config ssl_default_key_type', () => {
    for (const line of ['SSL_DEFAULT_KEY_TYPE=system\n', 'SSL_DEFAULT_KEY_TYPE=\n', '']) {
      const root = rootWith({ '/var/cpanel/users/bob': `DNS=bob.test\n${line}`, '/var/cpanel/cpanel.config': 'local_nameserver_type=bind\nssl_default_key_type=ecdsa-secp384r1\n' });
      expect(nextKeyFor(root, 'bob')).toEqual({ type: 'ecdsa-secp384r1', keyAlgorithm: 'ec-p384', label: 'ECDSA P-384', source: 'server' });
    }
  });

  it("no value in cpanel.config → cPanel's shipped default rsa-2048; root always uses the server's", () => {
    const root = rootWith({ '/var/cpanel/users/bob': 'SSL_DEFAULT_KEY_TYPE=system\n', '/var/cpanel/users/root': 'SSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\n' });
    expect(nextKeyFor(root, 'bob')).toMatchObject({ type: 'rsa-2048', keyAlgorithm: 'rsa', source: 'server' });
    expect(nextKeyFor(root, 'root')).toMatchObject({ type: 'rsa-2048', source: 'server' });
  });

  it('no users file (AutoSSL cannot renew), an unknown type or a bad user name: unknown', () => {
    const root = rootWith({ '/var/cpanel/users/odd': 'SSL_DEFAULT_KEY_TYPE=dsa-1024\n', '/var/cpanel/users/proto': 'SSL_DEFAULT_KEY_TYPE=__proto__\n', '/var/cpanel/cpanel.config': 'ssl_default_key_type=ecdsa-prime256v1\n' });
    expect(nextKeyFor(root, 'nobody-here')).toBeNull();
    expect(nextKeyFor(root, 'odd')).toBeNull();
    expect(nextKeyFor(root, 'proto')).toBeNull();
    expect(nextKeyFor(root, '../../etc')).toBeNull();
  });
});

// An RSA leaf whose issuer is the real R12 (Let's Encrypt-shaped chain).
const r12Look = lookalikeCa('R12', 'rsa');
const rsaLeaf = leafFrom(r12Look, 'mail.switch.test', 'rsa').cert;
const chain = parseBundle(readFileSync(rsaLeaf, 'utf8') + readFileSync(join(ISSUER_FIXTURES, 'r12.pem'), 'utf8'), 'test').certificates;
const policy = { ports: [25, 465, 587], records: ['3 1 1', '2 1 1'], ttl: 3600 };

function served(nextKey: NextKey | null): Endpoint {
  return { host: 'mail.switch.test', domains: ['switch.test'], served: { source: '/var/cpanel/ssl/domain_tls/mail.switch.test/combined', rule: 'exact', chain }, problems: [], ...(nextKey ? { nextKey } : {}) };
}

/** The 2 1 1 pins the plan creates at _25 within the default budget of 10, in priority order. */
function pinnedWithinBudget(nextKey: NextKey | null) {
  const desired = desiredRecords([served(nextKey)], policy, () => 'switch.test', NOW).byZone.get('switch.test')!;
  const p = planZone({ zone: 'switch.test', provider: 'cpanel', desired, published: [], ledger: { publishedSince: () => null, createdByUs: () => false }, stillServed: () => false, now: NOW.getTime(), ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10 });
  const at25 = p.changes.filter((c) => c.kind === 'create' && c.record.owner === '_25._tcp.mail.switch.test');
  return { all: at25, pins: at25.filter((c) => c.record.usage === 2).map((c) => nameOf(c.record.data!)), left: p.overBudget.filter((o) => o.record.owner === '_25._tcp.mail.switch.test').map((o) => nameOf(o.record.data)) };
}

describe("the next key's kind is pinned within the budget", () => {
  it("RSA from R12, account prefers ecdsa-prime256v1: R12, then Let's Encrypt's ECDSA intermediates, before R12's RSA siblings", () => {
    const root = rootWith({ '/var/cpanel/users/sw': 'SSL_DEFAULT_KEY_TYPE=ecdsa-prime256v1\n' });
    const r = pinnedWithinBudget(nextKeyFor(root, 'sw'));
    expect(r.all).toHaveLength(9); // 3 1 1 + 8 pins; one slot stays free for the next 3 1 1
    expect(r.pins[0]).toBe('R12');
    const rest = r.pins.slice(1);
    expect(rest).toHaveLength(7);
    for (const n of rest) expect(ECDSA).toContain(n);
    expect(r.left.filter((n) => RSA_SIBLINGS.includes(n)).sort()).toEqual([...RSA_SIBLINGS].sort());
    const desired = desiredRecords([served(nextKeyFor(root, 'sw'))], policy, () => 'switch.test', NOW).byZone.get('switch.test')!;
    expect(desired.find((d) => d.usage === 2 && ECDSA.includes(nameOf(d.data)))!.reason).toMatch(/next key is ECDSA/);
  });

  it('rsa-2048 (own setting, or system with rsa-2048 in cpanel.config): no ECDSA pin, the RSA siblings as before', () => {
    const own = rootWith({ '/var/cpanel/users/sw': 'SSL_DEFAULT_KEY_TYPE=rsa-2048\n' });
    const sys = rootWith({ '/var/cpanel/users/sw': 'SSL_DEFAULT_KEY_TYPE=system\n', '/var/cpanel/cpanel.config': 'ssl_default_key_type=rsa-2048\n' });
    const none = pinnedWithinBudget(null).pins;
    expect(none).toEqual(['R12', 'R10', 'R11', 'R13', 'R14', 'YR1', 'YR2', 'YR3']);
    for (const root of [own, sys]) expect(pinnedWithinBudget(nextKeyFor(root, 'sw')).pins).toEqual(none);
  });
});
