import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { problem, ProblemError } from '../problem.js';
import { children, derTime, DerError, oidString, readTlv, whole, type Tlv } from './der.js';

/** What we know about one certificate. Plain data: safe to serialise, contains no key material. */
export interface Certificate {
  der: Buffer;
  /** SubjectPublicKeyInfo, DER (TLSA selector 1). */
  spki: Buffer;
  subjectDer: Buffer;
  issuerDer: Buffer;
  /** RFC 4514-style rendering; attacker-controlled text: escape before display. */
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  /** subjectAltName dNSNames, lower-cased. */
  dnsNames: string[];
  /** Subject common name, if any (used for names only when there are no dNSNames). */
  commonName: string | null;
  keyAlgorithm: string;
  isCA: boolean;
  /** SHA-256 of the DER certificate, lower-case hex. */
  sha256: string;
  /** SHA-256 of the SPKI, lower-case hex: the `3 1 1` / `2 1 1` data. */
  spkiSha256: string;
}

export interface ParsedBundle {
  /** Certificates in file order (cPanel: leaf first, then the chain it sends). */
  certificates: Certificate[];
  /** A private key was present and was skipped (never kept). */
  hadPrivateKey: boolean;
}

const OID = {
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  rsa: '1.2.840.113549.1.1.1',
  ec: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
} as const;

const CURVES: Record<string, string> = {
  '1.2.840.10045.3.1.7': 'ec-p256',
  '1.3.132.0.34': 'ec-p384',
  '1.3.132.0.35': 'ec-p521',
};

const DN_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Parse one DER certificate. Throws DerError on malformed input. `sha256`: of `der`, if known. */
export function parseCertificateDer(der: Buffer, sha256 = sha256Hex(der)): Certificate {
  const cert = readTlv(der, 0);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new DerError('not a DER certificate');
  const [tbs] = children(der, cert);
  if (!tbs || tbs.tag !== 0x30) throw new DerError('certificate has no TBSCertificate');
  const f = children(der, tbs);
  // Version [0] is optional; every other field has a fixed position after it.
  const i = f[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = f[i + 2];
  const validity = f[i + 3];
  const subject = f[i + 4];
  const spki = f[i + 5];
  if (!issuer || !validity || !subject || !spki) throw new DerError('TBSCertificate is missing fields');
  const [nb, na] = children(der, validity);
  if (!nb || !na) throw new DerError('certificate validity is malformed');
  const ext = f.slice(i + 6).find((t) => t.tag === 0xa3);
  const { dnsNames, isCA } = ext ? readExtensions(der, ext) : { dnsNames: [], isCA: false };
  const spkiBytes = whole(der, spki);
  const subjectAttrs = readName(der, subject);
  return {
    der,
    spki: spkiBytes,
    subjectDer: whole(der, subject),
    issuerDer: whole(der, issuer),
    subject: formatName(subjectAttrs),
    issuer: formatName(readName(der, issuer)),
    notBefore: derTime(der, nb),
    notAfter: derTime(der, na),
    dnsNames,
    commonName: subjectAttrs.find((a) => a.type === OID.commonName)?.value ?? null,
    keyAlgorithm: keyAlgorithm(der, spki),
    isCA,
    sha256,
    spkiSha256: sha256Hex(spkiBytes),
  };
}

function keyAlgorithm(der: Buffer, spki: Tlv): string {
  const [alg] = children(der, spki);
  if (!alg) return 'unknown';
  const [oid, params] = children(der, alg);
  if (!oid) return 'unknown';
  const o = oidString(der, oid);
  if (o === OID.rsa) return 'rsa';
  if (o === OID.ed25519) return 'ed25519';
  if (o === OID.ed448) return 'ed448';
  if (o === OID.ec) return (params && params.tag === 0x06 && CURVES[oidString(der, params)]) || 'ec';
  return o;
}

function readExtensions(der: Buffer, wrapper: Tlv): { dnsNames: string[]; isCA: boolean } {
  const dnsNames: string[] = [];
  let isCA = false;
  const [seq] = children(der, wrapper);
  if (!seq) return { dnsNames, isCA };
  for (const ext of children(der, seq)) {
    const parts = children(der, ext);
    const oid = parts[0];
    const value = parts[parts.length - 1];
    if (!oid || !value || value.tag !== 0x04) continue;
    const id = oidString(der, oid);
    if (id === OID.subjectAltName) {
      const names = readTlv(der, value.start, value.end);
      for (const gn of children(der, names)) {
        if (gn.tag === 0x82) dnsNames.push(der.toString('latin1', gn.start, gn.end).toLowerCase());
      }
    } else if (id === OID.basicConstraints) {
      const bc = readTlv(der, value.start, value.end);
      const first = children(der, bc)[0];
      isCA = first?.tag === 0x01 && der[first.start] !== 0;
    }
  }
  return { dnsNames, isCA };
}

interface NameAttr {
  type: string;
  value: string;
}

function readName(der: Buffer, name: Tlv): NameAttr[] {
  const out: NameAttr[] = [];
  for (const rdn of children(der, name)) {
    for (const atv of children(der, rdn)) {
      const [oid, val] = children(der, atv);
      if (!oid || !val) continue;
      out.push({ type: oidString(der, oid), value: decodeString(der, val) });
    }
  }
  return out;
}

function decodeString(der: Buffer, t: Tlv): string {
  if (t.tag === 0x1e) {
    // BMPString: UTF-16BE.
    const b = Buffer.from(der.subarray(t.start, t.end));
    return b.swap16().toString('utf16le');
  }
  return der.toString(t.tag === 0x0c ? 'utf8' : 'latin1', t.start, t.end);
}

function formatName(attrs: NameAttr[]): string {
  return attrs
    .map((a) => `${DN_NAMES[a.type] ?? a.type}=${a.value.replace(/([,+"\\<>;])/g, '\\$1')}`)
    .reverse()
    .join(', ');
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/**
 * Certificates already read, by the SHA-256 of their DER. A chain certificate that many files
 * carry (the CA's intermediate in every `combined` file) is then parsed and kept once, not once
 * per file: 10,000 copies of it were ~10 MB of a whole-server scan (issue 10 §7). Certificate
 * objects are plain data never changed after parsing, so sharing one is safe.
 */
export type CertificateCache = Map<string, Certificate>;

/**
 * Read a PEM file (leaf, leaf + chain, or cPanel's `combined` = key + leaf + chain) or a DER
 * certificate. Private keys are recognised and skipped, never kept. `source` names the file in
 * errors.
 */
export function parseBundle(input: Buffer | string, source: string, seen?: CertificateCache): ParsedBundle {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf.length > 0 && buf[0] === 0x30) {
    return { certificates: [parseOrExplain(buf, source, 1, seen)], hadPrivateKey: false };
  }
  const text = buf.toString('latin1');
  const certificates: Certificate[] = [];
  let hadPrivateKey = false;
  let n = 0;
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1]!;
    if (label.endsWith('PRIVATE KEY')) {
      hadPrivateKey = true;
      continue;
    }
    if (label !== 'CERTIFICATE' && label !== 'TRUSTED CERTIFICATE') continue;
    n++;
    certificates.push(parseOrExplain(Buffer.from(m[2]!, 'base64'), source, n, seen));
  }
  if (certificates.length === 0) {
    throw new ProblemError(problem('cert-unreadable', `${source}: no certificate found (expected PEM "BEGIN CERTIFICATE" blocks or a DER certificate).`, {
      fix: 'Reinstall the certificate for this domain in WHM » SSL/TLS » Install an SSL Certificate on a Domain, or let AutoSSL replace it.',
      subject: source,
    }));
  }
  return { certificates, hadPrivateKey };
}

function parseOrExplain(der: Buffer, source: string, index: number, seen?: CertificateCache): Certificate {
  try {
    const sha256 = sha256Hex(der);
    const known = seen?.get(sha256);
    if (known) return known;
    if (!seen) return parseCertificateDer(der, sha256);
    // Its own copy of the bytes: `der` shares a pool slab with buffers that are dropped at once
    // (the chain's other certificates), which the kept certificate would otherwise keep alive.
    const cert = parseCertificateDer(Buffer.from(der.buffer.slice(der.byteOffset, der.byteOffset + der.length)), sha256);
    seen.set(sha256, cert);
    return cert;
  } catch (err) {
    const why = err instanceof DerError ? err.message : 'malformed data';
    throw new ProblemError(problem('cert-unreadable', `${source}: certificate #${index} cannot be read (${why}).`, {
      fix: 'Reinstall the certificate for this domain, or let AutoSSL replace it.',
      subject: source,
    }));
  }
}

/** The certificate in `chain` that issued `cert` (by name; the server's own chain order is not trusted). */
export function findIssuer(cert: Certificate, chain: Certificate[]): Certificate | null {
  if (cert.issuerDer.equals(cert.subjectDer)) return null;
  return chain.find((c) => c !== cert && c.subjectDer.equals(cert.issuerDer)) ?? null;
}

/**
 * Whether `issuer`'s key really signed `cert` (names alone prove nothing: anyone can make a CA
 * certificate with a well-known subject).
 */
export function signedBy(cert: Certificate, issuer: Certificate): boolean {
  if (!cert.issuerDer.equals(issuer.subjectDer)) return false;
  try {
    return new X509Certificate(cert.der).verify(createPublicKey({ key: issuer.spki, format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

export function isSelfSigned(cert: Certificate): boolean {
  return cert.issuerDer.equals(cert.subjectDer);
}

/** RFC 6125 host matching: dNSNames, or the CN when there are none; wildcard only as the whole leftmost label. */
export function certificateCoversHost(cert: Certificate, host: string): boolean {
  const names = cert.dnsNames.length > 0 ? cert.dnsNames : cert.commonName ? [cert.commonName.toLowerCase()] : [];
  const h = host.toLowerCase();
  return names.some((n) => {
    if (n === h) return true;
    if (!n.startsWith('*.')) return false;
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === n.slice(2);
  });
}
