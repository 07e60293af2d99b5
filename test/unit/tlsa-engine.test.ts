import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBundle, certificateCoversHost, findIssuer } from '../../src/tlsa/certificate.js';
import { computeRdata } from '../../src/tlsa/records.js';
import { lintRecord } from '../../src/tlsa/lint.js';
import type { MatchingType, Selector, Usage } from '../../src/tlsa/types.js';
import { ProblemError } from '../../src/problem.js';
import { makePki, openssl, opensslTlsaData, type KeyType, type TestPki } from '../helpers/openssl.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

const keyTypes: KeyType[] = ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384', 'ed25519'];

describe('TLSA data matches openssl for every key type and parameter', () => {
  for (const keyType of keyTypes) {
    it(keyType, () => {
      const leaf = pki.leaf(`mail.${keyType}.example`, { keyType });
      const { certificates, hadPrivateKey } = parseBundle(readFileSync(leaf.combined), leaf.combined);
      expect(hadPrivateKey).toBe(true);
      expect(certificates).toHaveLength(2);
      for (const usage of [0, 1, 2, 3] as Usage[]) {
        for (const selector of [0, 1] as Selector[]) {
          for (const matchingType of [0, 1, 2] as MatchingType[]) {
            const rd = computeRdata(certificates, { usage, selector, matchingType });
            const subjectPath = usage === 0 || usage === 2 ? pki.interCert : leaf.cert;
            expect('data' in rd && rd.data, `${usage} ${selector} ${matchingType}`).toBe(opensslTlsaData(subjectPath, selector, matchingType));
          }
        }
      }
    });
  }
});

describe('certificate parsing', () => {
  it('reads names, validity, key type and fingerprints like openssl does', () => {
    const leaf = pki.leaf('mail.names.example', { keyType: 'rsa2048', sans: ['mail.names.example', '*.names.example'], days: 10 });
    const [c] = parseBundle(readFileSync(leaf.cert, 'utf8'), leaf.cert).certificates;
    expect(c!.dnsNames).toEqual(['mail.names.example', '*.names.example']);
    expect(c!.keyAlgorithm).toBe('rsa');
    const endDate = openssl(['x509', '-in', leaf.cert, '-noout', '-enddate']).toString().trim().replace('notAfter=', '');
    expect(c!.notAfter.getTime()).toBe(new Date(endDate).getTime());
    const fp = openssl(['x509', '-in', leaf.cert, '-noout', '-fingerprint', '-sha256']).toString().split('=')[1]!.trim().replace(/:/g, '').toLowerCase();
    expect(c!.sha256).toBe(fp);
    expect(c!.subject).toBe('CN=mail.names.example');
    expect(c!.issuer).toBe('CN=Test Intermediate R1');
  });

  it('accepts DER input', () => {
    const leaf = pki.leaf('der.example', { keyType: 'p384' });
    const der = openssl(['x509', '-in', leaf.cert, '-outform', 'DER']);
    const [c] = parseBundle(der, 'x.der').certificates;
    expect(c!.keyAlgorithm).toBe('ec-p384');
    expect(c!.spkiSha256).toBe(opensslTlsaData(leaf.cert, 1, 1));
  });

  it('finds the issuer in the chain and covers hosts by RFC 6125 rules', () => {
    const leaf = pki.leaf('x.wild.example', { sans: ['*.wild.example'] });
    const chain = parseBundle(readFileSync(leaf.combined), 'c').certificates;
    expect(findIssuer(chain[0]!, chain)?.subject).toBe('CN=Test Intermediate R1');
    expect(certificateCoversHost(chain[0]!, 'mail.wild.example')).toBe(true);
    expect(certificateCoversHost(chain[0]!, 'wild.example')).toBe(false);
    expect(certificateCoversHost(chain[0]!, 'a.b.wild.example')).toBe(false);
  });

  it('never keeps private key material', () => {
    const leaf = pki.leaf('secret.example');
    const parsed = parseBundle(readFileSync(leaf.combined), 'c');
    const keyB64 = readFileSync(leaf.key, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    expect(JSON.stringify(parsed)).not.toContain(keyB64.slice(10, 60));
    // What is kept is exactly the two certificates' DER, nothing from the key block.
    const expected = [leaf.cert, pki.interCert].map((f) => openssl(['x509', '-in', f, '-outform', 'DER']).toString('hex'));
    expect(parsed.certificates.map((c) => c.der.toString('hex'))).toEqual(expected);
  });

  it('explains broken input with the file name', () => {
    expect(() => parseBundle('not a cert', '/var/cpanel/ssl/domain_tls/x.example/combined')).toThrow(/domain_tls\/x.example\/combined: no certificate found/);
    const truncated = '-----BEGIN CERTIFICATE-----\nMIIBkzCCATmgAwIBAgIUQ\n-----END CERTIFICATE-----\n';
    try {
      parseBundle(truncated, 'bad.pem');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemError);
      expect((e as ProblemError).problem.code).toBe('cert-unreadable');
      expect((e as ProblemError).problem.message).toContain('bad.pem: certificate #1');
    }
  });
});

describe('usage 2 needs the issuer in the chain', () => {
  it('reports a problem for a leaf without chain', () => {
    const leaf = pki.leaf('nochain.example');
    const chain = parseBundle(readFileSync(leaf.cert), 'c').certificates;
    const rd = computeRdata(chain, { usage: 2, selector: 1, matchingType: 1 });
    expect('code' in rd && rd.code).toBe('issuer-not-in-chain');
  });
});

describe('lint', () => {
  const now = new Date();
  it('flags PKIX usages, selector 0, missing anchor, names and expiry', () => {
    const leaf = pki.leaf('mail.lint.example', { days: 3 });
    const chain = parseBundle(readFileSync(leaf.combined), 'c').certificates;
    const codes = (u: Usage, s: Selector, host: string, c = chain) => lintRecord({ usage: u, selector: s, matchingType: 1 }, c, { host, now }).map((p) => p.code);
    expect(codes(3, 1, 'mail.lint.example')).toEqual(['cert-expiring']);
    expect(codes(1, 1, 'mail.lint.example')).toContain('usage-unusable-smtp');
    expect(codes(3, 0, 'mail.lint.example')).toContain('selector-full-cert');
    expect(codes(2, 1, 'other.example')).toContain('name-mismatch');
    expect(codes(3, 1, 'other.example')).not.toContain('name-mismatch');
    expect(codes(2, 1, 'mail.lint.example', chain.slice(0, 1))).toContain('anchor-not-in-chain');
    const later = new Date(Date.now() + 40 * 86_400_000);
    const expired = lintRecord({ usage: 3, selector: 1, matchingType: 1 }, chain, { now: later });
    expect(expired.map((p) => [p.code, p.severity])).toEqual([['cert-expired', 'warning']]);
  });
});
