import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, execSync } from 'node:child_process';
import { KNOWN_ISSUERS, issuerFamily, siblingIssuers } from '../../src/tlsa/known-issuers.js';
import { parseBundle } from '../../src/tlsa/certificate.js';

// Every expectation about a certificate comes from openssl reading the fixture PEM, never from
// the code under test: the table in known-issuers.ts must agree with the certificates themselves.
const DIR = path.resolve(import.meta.dirname, '../fixtures/issuers');
const fixture = (name: string): string => path.join(DIR, name);
const sh = (cmd: string): string => execSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const x509 = (file: string, ...args: string[]): string =>
  execFileSync('openssl', ['x509', '-in', file, '-noout', ...args], { encoding: 'utf8' }).trim();

// Published SHA-256 fingerprints of the ISRG roots (letsencrypt.org/certificates and the Mozilla
// root store); the roots in the fixtures must be exactly these certificates.
const ISRG_ROOT_X1_SHA256 = '96:BC:EC:06:26:49:76:F3:74:60:77:9A:CF:28:C5:A7:CF:E8:A3:C0:AA:E1:1A:8F:FC:EE:05:C0:BD:DF:08:C6';
const ISRG_ROOT_X2_SHA256 = '69:72:9B:8E:15:A8:6E:FC:17:7A:57:AF:B7:17:1D:FC:64:AD:D2:8C:2F:CA:8C:F1:50:7E:34:45:3C:CB:14:70';

const intermediates = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.pem') && !f.startsWith('isrg-root-') && !f.startsWith('root-'))
  .sort();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'known-issuers-'));
const roots = path.join(tmp, 'roots.pem');
const cross = path.join(tmp, 'cross.pem');
fs.writeFileSync(roots, fs.readFileSync(fixture('isrg-root-x1.pem'), 'utf8') + fs.readFileSync(fixture('isrg-root-x2.pem'), 'utf8'));
fs.writeFileSync(cross, fs.readFileSync(fixture('root-yr-by-x1.pem'), 'utf8') + fs.readFileSync(fixture('root-ye-by-x2.pem'), 'utf8'));

/** openssl verify against these roots only (not the system store); signatures and chain, not dates (checked against the table separately). */
function verify(file: string, caFile: string, untrusted?: string): { ok: boolean; output: string } {
  const args = ['verify', '-no_check_time', '-no-CApath', '-no-CAstore', '-CAfile', caFile, ...(untrusted ? ['-untrusted', untrusted] : []), file];
  try {
    return { ok: true, output: execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    return { ok: false, output: String((e as { stderr?: unknown }).stderr ?? e) };
  }
}

describe('fixture roots', () => {
  it('are ISRG Root X1 and X2 by their published SHA-256 fingerprints', () => {
    expect(x509(fixture('isrg-root-x1.pem'), '-fingerprint', '-sha256')).toBe(`sha256 Fingerprint=${ISRG_ROOT_X1_SHA256}`);
    expect(x509(fixture('isrg-root-x2.pem'), '-fingerprint', '-sha256')).toBe(`sha256 Fingerprint=${ISRG_ROOT_X2_SHA256}`);
  });

  it('the generation Y cross-certificates verify against X1 / X2 alone', () => {
    expect(verify(fixture('root-yr-by-x1.pem'), fixture('isrg-root-x1.pem')).ok).toBe(true);
    expect(verify(fixture('root-ye-by-x2.pem'), fixture('isrg-root-x2.pem')).ok).toBe(true);
  });
});

describe('KNOWN_ISSUERS matches the fixture certificates', () => {
  it('has exactly one entry per intermediate fixture', () => {
    expect(intermediates.length).toBeGreaterThanOrEqual(16);
    expect(KNOWN_ISSUERS.map((i) => `${i.name.toLowerCase()}.pem`).sort()).toEqual(intermediates);
    expect(new Set(KNOWN_ISSUERS.map((i) => i.spkiSha256)).size).toBe(KNOWN_ISSUERS.length);
  });

  it.each(KNOWN_ISSUERS.map((i) => [i.name, i] as const))('%s: SPKI SHA-256, subject, key type, generation, expiry', (_name, entry) => {
    const file = fixture(`${entry.name.toLowerCase()}.pem`);
    const spki = sh(`openssl x509 -in '${file}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r`).split(/\s/)[0];
    expect(entry.spkiSha256).toBe(spki);
    expect(entry.spkiSha256).toMatch(/^[0-9a-f]{64}$/);

    const subject = x509(file, '-subject', '-nameopt', 'RFC2253').replace(/^subject=/, '').replace(/([^\\]),/g, '$1, ');
    expect(entry.subject).toBe(subject);
    expect(x509(file, '-subject', '-nameopt', 'RFC2253')).toContain(`CN=${entry.name},`);
    // The generation is the issuing root, as openssl reads it from the certificate.
    expect(x509(file, '-issuer', '-nameopt', 'RFC2253')).toMatch(new RegExp(`^issuer=CN=${entry.generation},`));

    const notAfter = new Date(x509(file, '-enddate').replace(/^notAfter=/, ''));
    expect(Number.isNaN(notAfter.getTime())).toBe(false);
    expect(Date.parse(entry.notAfter)).toBe(notAfter.getTime());

    const text = x509(file, '-text');
    const alg = text.includes('rsaEncryption') ? 'rsa' : text.includes('secp384r1') ? 'ec-p384' : text.includes('prime256v1') ? 'ec-p256' : 'unknown';
    expect(entry.keyAlgorithm).toBe(alg);
  });

  it.each(intermediates)('%s verifies up to an ISRG root', (name) => {
    const result = verify(fixture(name), roots, cross);
    expect(result.output).toContain(': OK');
    expect(result.ok).toBe(true);
  });

  it('verification is not vacuous: wrong root or missing cross-certificate fails', () => {
    expect(verify(fixture('r10.pem'), fixture('isrg-root-x2.pem')).ok).toBe(false);
    expect(verify(fixture('e5.pem'), fixture('isrg-root-x1.pem')).ok).toBe(false);
    expect(verify(fixture('yr1.pem'), roots).ok).toBe(false);
    expect(verify(fixture('ye1.pem'), roots).ok).toBe(false);
  });

  it('the product certificate parser renders the same subject and SPKI hash', () => {
    for (const entry of KNOWN_ISSUERS) {
      const [cert] = parseBundle(fs.readFileSync(fixture(`${entry.name.toLowerCase()}.pem`)), entry.name).certificates;
      expect(cert?.subject).toBe(entry.subject);
      expect(cert?.spkiSha256).toBe(entry.spkiSha256);
    }
  });
});

describe('issuerFamily', () => {
  const r10 = KNOWN_ISSUERS.find((i) => i.name === 'R10')!;
  const unknownSpki = 'ab'.repeat(32);

  it('recognises a known intermediate by its SPKI, whatever the subject says', () => {
    expect(issuerFamily('', r10.spkiSha256)).toBe('letsencrypt');
    expect(issuerFamily('CN=Something Else, O=Example', r10.spkiSha256.toUpperCase())).toBe('letsencrypt');
  });

  it('recognises an intermediate newer than the list by O= in any common DN rendering', () => {
    expect(issuerFamily("CN=YR4, O=Let's Encrypt, C=US", unknownSpki)).toBe('letsencrypt');
    expect(issuerFamily("C = US, O = Let's Encrypt, CN = R15", unknownSpki)).toBe('letsencrypt');
    expect(issuerFamily("/C=US/O=Let's Encrypt/CN=E10", unknownSpki)).toBe('letsencrypt');
    expect(issuerFamily('CN=R15,O="Let\'s Encrypt",C=US', unknownSpki)).toBe('letsencrypt');
    expect(issuerFamily("CN=R15, organizationName=let's encrypt", unknownSpki)).toBe('letsencrypt');
  });

  it('does not guess', () => {
    expect(issuerFamily("CN=(STAGING) Ersatz Edamame E1, O=(STAGING) Let's Encrypt, C=US", unknownSpki)).toBeNull();
    expect(issuerFamily("CN=Let's Encrypt, O=Example Inc, C=US", unknownSpki)).toBeNull();
    expect(issuerFamily('CN=cPanel\\, Inc. Certification Authority, O=cPanel\\, Inc., C=US', unknownSpki)).toBeNull();
    expect(issuerFamily('', unknownSpki)).toBeNull();
  });
});

describe('siblingIssuers', () => {
  const names = (family: string, iso: string): string[] => siblingIssuers(family, new Date(iso)).map((i) => i.name).sort();

  it('late 2026: both generations may sign the next certificate', () => {
    expect(names('letsencrypt', '2026-11-29T00:00:00Z')).toEqual(
      ['E5', 'E6', 'E7', 'E8', 'E9', 'R10', 'R11', 'R12', 'R13', 'R14', 'YE1', 'YE2', 'YE3', 'YR1', 'YR2', 'YR3'],
    );
  });

  it('drops intermediates at their notAfter', () => {
    expect(names('letsencrypt', '2027-03-12T23:59:58Z')).toContain('R10');
    expect(names('letsencrypt', '2027-03-12T23:59:59Z')).toEqual(['YE1', 'YE2', 'YE3', 'YR1', 'YR2', 'YR3']);
    expect(names('letsencrypt', '2028-09-03T00:00:00Z')).toEqual([]);
  });

  it('returns nothing for an unknown family and copies, not the shared table', () => {
    expect(siblingIssuers('sectigo', new Date('2026-11-29T00:00:00Z'))).toEqual([]);
    const list = siblingIssuers('letsencrypt', new Date('2026-11-29T00:00:00Z'));
    list.pop();
    expect(siblingIssuers('letsencrypt', new Date('2026-11-29T00:00:00Z'))).toHaveLength(16);
    expect(Object.isFrozen(KNOWN_ISSUERS[0])).toBe(true);
  });
});
