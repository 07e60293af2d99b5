import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openssl } from './openssl.js';

/**
 * Let's Encrypt-shaped chains for planner tests. A CA of our own whose subject is byte for byte
 * `C=US, O=Let's Encrypt, CN=<cn>` (PrintableString, as Let's Encrypt encodes it) signs leaves
 * that name the real intermediate as their issuer, so a chain of [leaf, real R12 from
 * test/fixtures/issuers] looks to the product exactly like a certificate from R12; with the
 * look-alike itself as the chain it is an issuer known only by its organisation.
 */
export const ISSUER_FIXTURES = resolve(import.meta.dirname, '../fixtures/issuers');
const dir = mkdtempSync(join(tmpdir(), 'tlsa-le-'));
let n = 0;

export interface LookalikeCa {
  cert: string;
  key: string;
}

function keyArgs(kind: 'rsa' | 'ec', curve: 'P-256' | 'P-384'): string[] {
  return kind === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`];
}

export function lookalikeCa(cn: string, kind: 'rsa' | 'ec'): LookalikeCa {
  const id = `${cn}-${++n}`;
  const cnf = join(dir, `${id}.cnf`);
  // The backslash keeps openssl's config parser from reading the apostrophe as a quote.
  writeFileSync(cnf, `[req]\ndistinguished_name = dn\nstring_mask = default\nprompt = no\n[dn]\nC = US\nO = Let\\'s Encrypt\nCN = ${cn}\n[ca]\nbasicConstraints = critical,CA:true\nkeyUsage = critical,keyCertSign\n`);
  const key = join(dir, `${id}.key`);
  const cert = join(dir, `${id}.pem`);
  openssl(['genpkey', ...keyArgs(kind, 'P-384'), '-out', key]);
  openssl(['req', '-x509', '-new', '-key', key, '-out', cert, '-days', '30', '-config', cnf, '-extensions', 'ca']);
  return { cert, key };
}

/** A leaf for `host` signed by `ca`; returns the certificate and key paths. */
export function leafFrom(ca: LookalikeCa, host: string, kind: 'rsa' | 'ec'): { cert: string; key: string } {
  const id = `${host}-${++n}`;
  const key = join(dir, `${id}.key`);
  const csr = join(dir, `${id}.csr`);
  const cert = join(dir, `${id}.pem`);
  const ext = join(dir, `${id}.ext`);
  writeFileSync(ext, `subjectAltName=DNS:${host}\nbasicConstraints=CA:FALSE\n`);
  openssl(['genpkey', ...keyArgs(kind, 'P-256'), '-out', key]);
  openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${host}`]);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext]);
  return { cert, key };
}

/** cPanel's combined file: key, leaf, then the chain Exim sends. */
export function combined(leaf: { cert: string; key: string }, chainPem: string): string {
  return readFileSync(leaf.key, 'utf8') + readFileSync(leaf.cert, 'utf8') + readFileSync(chainPem, 'utf8');
}

/** SHA-256 of a certificate file's SPKI, by openssl alone (a `3 1 1` / `2 1 1` digest). */
export function spkiOf(pemFile: string): string {
  const der = openssl(['pkey', '-pubin', '-outform', 'DER'], openssl(['x509', '-in', pemFile, '-noout', '-pubkey']));
  return openssl(['dgst', '-sha256', '-r'], der).toString('latin1').split(' ')[0]!.trim();
}

/** The real Let's Encrypt intermediates by name → their `2 1 1` digest, from the fixture PEMs. */
export const LE_SPKI: Record<string, string> = Object.fromEntries(
  ['r10', 'r11', 'r12', 'r13', 'r14', 'yr1', 'yr2', 'yr3', 'e5', 'e6', 'e7', 'e8', 'e9', 'ye1', 'ye2', 'ye3'].map((x) => [x.toUpperCase(), spkiOf(join(ISSUER_FIXTURES, `${x}.pem`))]),
);
