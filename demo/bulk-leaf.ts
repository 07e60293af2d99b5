import { KeyObject, randomBytes, sign as signCb } from 'node:crypto';
import { promisify } from 'node:util';
import type { IssuedCert, KeyMaterial } from './pki.js';

/**
 * A fast leaf-certificate writer for large demo roots (`--domains N`).
 *
 * @peculiar/x509 spends ~4 ms of pure-JS ASN.1 work per certificate, so 10,000 leaves took most of a
 * minute on a 2-core machine. Demo leaves all have the same shape, so this module encodes that one
 * shape directly in DER (RFC 5280 TBSCertificate + the extensions AutoSSL leaves carry) and signs it
 * with node:crypto on the thread pool: ~0.5 ms per leaf. The small default demo and all CA
 * certificates still go through @peculiar/x509 (pki.ts); the tests verify both with openssl.
 * Only RSA issuers (the demo intermediates) are supported here.
 */

const sign = promisify(signCb);

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString(); // 2026-01-02T03:04:05.000Z
  const text = `${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [Buffer.from([0x01, 0x01, 0xff])] : []), tlv(0x04, value));
}

const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
const BASIC_CONSTRAINTS_LEAF = extension('2.5.29.19', true, seq());
// KeyUsage bit strings: digitalSignature+keyEncipherment (RSA), digitalSignature (ECDSA).
const KEY_USAGE = {
  rsa: extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x05, 0xa0])),
  ecdsa: extension('2.5.29.15', true, Buffer.from([0x03, 0x02, 0x07, 0x80])),
};
const EKU = extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')));

export interface BulkIssuer {
  nameDer: Buffer;
  aki: Buffer;
  key: KeyObject;
  pem: string;
}

export function bulkIssuer(issuer: IssuedCert): BulkIssuer {
  if (issuer.key.type !== 'rsa') throw new Error('internal: bulk leaves need an RSA issuer');
  const ski = issuer.cert.extensions.find((e) => e.type === '2.5.29.14') as unknown as { keyId: string } | undefined;
  if (!ski) throw new Error('internal: issuer has no subject key identifier');
  return {
    nameDer: Buffer.from(issuer.cert.subjectName.toArrayBuffer()),
    aki: extension('2.5.29.35', false, seq(tlv(0x80, Buffer.from(ski.keyId, 'hex')))),
    key: KeyObject.from(issuer.key.pair.privateKey),
    pem: issuer.pem,
  };
}

const spkiCache = new WeakMap<KeyMaterial, Buffer>();

function spkiDer(key: KeyMaterial): Buffer {
  let der = spkiCache.get(key);
  if (!der) {
    der = KeyObject.from(key.pair.publicKey).export({ type: 'spki', format: 'der' });
    spkiCache.set(key, der);
  }
  return der;
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export async function bulkLeaf(req: { names: string[]; key: KeyMaterial; issuer: BulkIssuer; notBefore: Date; notAfter: Date }): Promise<string> {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, no leading zero byte
  const subject = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(req.names[0]!, 'utf8')))));
  const san = extension('2.5.29.17', false, seq(...req.names.map((n) => tlv(0x82, Buffer.from(n, 'ascii')))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([0x02]))),
    tlv(0x02, serial),
    SHA256_RSA,
    req.issuer.nameDer,
    seq(utcTime(req.notBefore), utcTime(req.notAfter)),
    subject,
    spkiDer(req.key),
    tlv(0xa3, seq(BASIC_CONSTRAINTS_LEAF, KEY_USAGE[req.key.type], EKU, san, req.issuer.aki)),
  );
  const signature = await sign('sha256', tbs, req.issuer.key);
  return toPem(seq(tbs, SHA256_RSA, tlv(0x03, Buffer.from([0x00]), signature)));
}
