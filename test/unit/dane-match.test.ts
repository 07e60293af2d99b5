import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, execSync } from 'node:child_process';
import { matchTlsa } from '../../src/dane/match.js';
import type { TlsaRdata } from '../../src/tlsa/types.js';
import { makePki, type TestPki } from '../fakes/smtp-server.js';

// Every expected association value is computed by openssl, never by the code under test.
let pki: TestPki;
let tmp: string;
const f = (n: string): string => path.join(tmp, n);
const sh = (cmd: string): string => execSync(cmd, { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const digest = (input: string, alg: 'sha256' | 'sha512'): string => sh(`${input} | openssl dgst -${alg} -r`).split(/\s/)[0]!;
const spki = (pem: string): string => `openssl x509 -in ${pem} -noout -pubkey | openssl pkey -pubin -outform DER`;
const certDer = (pem: string): string => `openssl x509 -in ${pem} -outform DER`;
const rec = (usage: number, selector: number, matchingType: number, data: string): TlsaRdata => ({ usage, selector, matchingType, data }) as TlsaRdata;

const NOW = new Date(Date.now() + 3600_000); // after the certificates are made in beforeAll
const LATER = new Date(Date.now() + 60 * 86400_000); // the test certificates live 30 days
const HOSTS = { hostnames: ['mail.example.test'], now: NOW };

let chain: Buffer[];
let leaf311: string;
let int211: string;
let root201: string;
let other211: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dane-match-'));
  pki = makePki(tmp);
  chain = [pki.der.leaf, pki.der.int];
  leaf311 = digest(spki('leaf.pem'), 'sha256');
  int211 = digest(spki('int.pem'), 'sha256');
  root201 = digest(certDer('root.pem'), 'sha256');
  other211 = digest(spki('other.pem'), 'sha256');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('DANE-EE (3)', () => {
  it('matches 3 1 1, 3 0 1, 3 1 2 and 3 0 0 against the leaf at depth 0', () => {
    const variants = [
      rec(3, 1, 1, leaf311.toUpperCase()),
      rec(3, 0, 1, digest(certDer('leaf.pem'), 'sha256')),
      rec(3, 1, 2, digest(spki('leaf.pem'), 'sha512')),
      rec(3, 0, 0, pki.der.leaf.toString('hex')),
    ];
    for (const r of variants) {
      const m = matchTlsa([r], chain, HOSTS);
      expect(m.matched, JSON.stringify(r).slice(0, 40)).toBe(true);
      expect(m.match).toEqual({ record: r, depth: 0 });
    }
  });

  it('ignores names and expiry', () => {
    const m = matchTlsa([rec(3, 1, 1, leaf311)], chain, { hostnames: ['other.example.test'], now: LATER });
    expect(m.matched).toBe(true);
  });

  it('does not match the intermediate key, and says why', () => {
    const m = matchTlsa([rec(3, 1, 1, int211)], chain, HOSTS);
    expect(m.matched).toBe(false);
    expect(m.reasons.join(' ')).toMatch(/does not match the server certificate/);
    expect(m.failures).toEqual([{ record: rec(3, 1, 1, int211), cause: 'ee-mismatch', depth: 0 }]);
  });
});

describe('DANE-TA (2)', () => {
  it('matches the sent intermediate at depth 1 and checks the path to it', () => {
    const r = rec(2, 1, 1, int211);
    const m = matchTlsa([r], chain, HOSTS);
    expect(m).toMatchObject({ matched: true, match: { record: r, depth: 1 } });
  });

  it('does not accept a root the server did not send, but does when it is sent', () => {
    const r = rec(2, 0, 1, root201);
    const notSent = matchTlsa([r], chain, HOSTS);
    expect(notSent.matched).toBe(false);
    expect(notSent.reasons.join(' ')).toMatch(/matches no certificate the server sent/);
    expect(notSent.failures).toEqual([{ record: r, cause: 'anchor-not-sent' }]);
    const sent = matchTlsa([r], [...chain, pki.der.root], HOSTS);
    expect(sent.match).toEqual({ record: r, depth: 2 });
  });

  it('builds the path past unrelated certificates the server sends', () => {
    const m = matchTlsa([rec(2, 1, 1, int211)], [pki.der.leaf, pki.der.other, pki.der.int], HOSTS);
    expect(m.match?.depth).toBe(2);
  });

  it('refuses an anchor that is sent but did not sign the leaf', () => {
    const m = matchTlsa([rec(2, 1, 1, other211)], [pki.der.leaf, pki.der.other, pki.der.int], HOSTS);
    expect(m.matched).toBe(false);
    expect(m.reasons.join(' ')).toMatch(/does not sign the server certificate/);
    expect(m.failures.map((x) => x.cause)).toEqual(['no-path']);
  });

  it('checks the leaf name against the reference names', () => {
    const wrong = matchTlsa([rec(2, 1, 1, int211)], chain, { hostnames: ['mx.elsewhere.test'], now: NOW });
    expect(wrong.matched).toBe(false);
    expect(wrong.reasons.join(' ')).toMatch(/not valid for mx.elsewhere.test/);
    expect(wrong.failures).toEqual([{ record: rec(2, 1, 1, int211), cause: 'name', depth: 0 }]);
    const either = matchTlsa([rec(2, 1, 1, int211)], chain, { hostnames: ['mx.elsewhere.test', 'MAIL.example.test.'], now: NOW });
    expect(either.matched).toBe(true);
  });

  it('checks expiry', () => {
    const m = matchTlsa([rec(2, 1, 1, int211)], chain, { ...HOSTS, now: LATER });
    expect(m.matched).toBe(false);
    expect(m.reasons.join(' ')).toMatch(/expired/);
    expect(m.failures.map((x) => [x.cause, x.depth])).toEqual([['expired', 0]]);
  });

  it('rejects a forged leaf whose issuer name matches the anchor but whose signature does not', () => {
    // An attacker's CA with the same subject name as the real intermediate signs a leaf. Without
    // an authority key identifier only the signature tells the two issuers apart.
    fs.writeFileSync(f('forged.ext'), 'subjectAltName=DNS:mail.example.test\nauthorityKeyIdentifier=none\nsubjectKeyIdentifier=none\n');
    const ec = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';
    sh(`openssl req -x509 ${ec} -keyout evil.key -out evil.pem -days 30 -subj "/CN=Test Intermediate" -addext basicConstraints=critical,CA:true`);
    sh(`openssl req ${ec} -keyout forged.key -out forged.csr -subj /CN=mail.example.test`);
    sh(`openssl x509 -req -in forged.csr -CA evil.pem -CAkey evil.key -set_serial 9 -out forged.pem -days 30 -extfile forged.ext`);
    expect(sh('openssl x509 -in forged.pem -noout -text')).not.toMatch(/Authority Key Identifier/);
    const forged = execFileSync('openssl', ['x509', '-in', f('forged.pem'), '-outform', 'DER']);
    const m = matchTlsa([rec(2, 1, 1, int211)], [forged, pki.der.int], HOSTS);
    expect(m.matched).toBe(false);
    expect(m.reasons.join(' ')).toMatch(/does not sign the server certificate/);
  });
});

describe('usability and bookkeeping', () => {
  it('sorts records into usable and unusable with reasons', () => {
    const records = [rec(0, 0, 1, root201), rec(1, 1, 1, leaf311), rec(3, 1, 1, 'abcd'), rec(3, 1, 1, 'zz'), rec(3, 1, 1, leaf311), rec(2, 1, 1, int211)];
    const m = matchTlsa(records, chain, HOSTS);
    expect(m.unusable).toEqual(records.slice(0, 4));
    expect(m.usable).toEqual(records.slice(4));
    expect(m.reasons.filter((r) => /unusable/.test(r))).toHaveLength(4);
    expect(m.reasons[0]).toMatch(/usage 0 \(PKIX\)/);
    expect(m.matches.map((x) => x.depth)).toEqual([0, 1]);
  });

  it('usage 1 matching the leaf still does not count for SMTP', () => {
    const m = matchTlsa([rec(1, 1, 1, leaf311)], chain, HOSTS);
    expect(m.matched).toBe(false);
  });

  it('reports an empty chain', () => {
    const m = matchTlsa([rec(3, 1, 1, leaf311)], [], HOSTS);
    expect(m.matched).toBe(false);
    expect(m.reasons).toContain('The server presented no certificate.');
  });
});
