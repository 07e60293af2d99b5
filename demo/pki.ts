// @peculiar/x509 pulls in tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, webcrypto } from 'node:crypto';

/**
 * A throwaway PKI for the demo root: a root CA, two intermediates named like Let's Encrypt's
 * (so the `2 1 1` issuer logic has two different issuers to show) and leaves shaped like AutoSSL's.
 * Nothing here is secret: keys are generated at build time, never committed, and the root CA key
 * is discarded once the intermediates are signed.
 */

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type KeyType = 'rsa' | 'ecdsa';
export type IssuerName = 'R10' | 'R11';

const RSA_ALG = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256' };
const EC_SIGN = { name: 'ECDSA', hash: 'SHA-256' };

export interface KeyMaterial {
  type: KeyType;
  pair: CryptoKeyPair;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the form cPanel stores in `combined`. */
  privatePem: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo: the data of a `3 1 1` record for this key. */
  spkiSha256: string;
}

export interface IssuedCert {
  pem: string;
  cert: x509.X509Certificate;
  key: KeyMaterial;
}

export interface DemoCa {
  root: IssuedCert;
  intermediates: Record<IssuerName, IssuedCert>;
}

export async function generateKey(type: KeyType): Promise<KeyMaterial> {
  const alg = type === 'rsa' ? RSA_ALG : EC_ALG;
  const pair = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', pair.privateKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', pair.publicKey));
  return {
    type,
    pair,
    privatePem: toPem('PRIVATE KEY', pkcs8),
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
  };
}

/**
 * Keys for many leaves. RSA key generation costs ~50-100 ms, so a 10,000-domain root would spend
 * minutes on keys alone: large demos draw from a small pool instead (certificates stay distinct;
 * only the `3 1 1` data repeats across domains that share a pool key).
 */
export class KeyPool {
  // Promises, reserved synchronously, so concurrent callers never generate more than `size` keys.
  private readonly keys: Record<KeyType, Promise<KeyMaterial>[]> = { rsa: [], ecdsa: [] };
  private readonly next: Record<KeyType, number> = { rsa: 0, ecdsa: 0 };

  /** `size` 0 means "a fresh key every time" (used for the small default demo). */
  constructor(private readonly size: number) {}

  take(type: KeyType): Promise<KeyMaterial> {
    if (this.size === 0) return generateKey(type);
    const list = this.keys[type];
    if (list.length < this.size) {
      const key = generateKey(type);
      list.push(key);
      return key;
    }
    return list[this.next[type]++ % list.length]!;
  }
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function signingAlgorithm(key: KeyMaterial): Algorithm | EcdsaParams {
  return key.type === 'rsa' ? RSA_ALG : EC_SIGN;
}

function days(n: number, from = Date.now()): Date {
  return new Date(from + n * 86_400_000);
}

async function caExtensions(key: KeyMaterial, issuer: IssuedCert | null, pathLen: number | undefined): Promise<x509.Extension[]> {
  const exts: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(key.pair.publicKey),
  ];
  if (issuer) exts.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.key.pair.publicKey));
  return exts;
}

export async function createDemoCa(): Promise<DemoCa> {
  const rootKey = await generateKey('rsa');
  const rootName: x509.JsonName = [{ C: ['ZZ'] }, { O: ['TLSA Manager Demo'] }, { CN: ['Demo Root X1 (not trusted anywhere)'] }];
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: rootName,
    keys: rootKey.pair,
    notBefore: days(-365),
    notAfter: days(3650),
    signingAlgorithm: RSA_ALG,
    extensions: await caExtensions(rootKey, null, undefined),
  });
  const root: IssuedCert = { pem: rootCert.toString('pem') + '\n', cert: rootCert, key: rootKey };
  const intermediates = {} as Record<IssuerName, IssuedCert>;
  for (const name of ['R10', 'R11'] as const) {
    const key = await generateKey('rsa');
    const cert = await x509.X509CertificateGenerator.create({
      subject: [{ C: ['ZZ'] }, { O: ['TLSA Manager Demo'] }, { CN: [`Demo ${name}`] }] as x509.JsonName,
      issuer: rootCert.subject,
      publicKey: key.pair.publicKey,
      signingKey: rootKey.pair.privateKey,
      signingAlgorithm: RSA_ALG,
      notBefore: days(-300),
      notAfter: days(1500),
      extensions: await caExtensions(key, root, 0),
    });
    intermediates[name] = { pem: cert.toString('pem') + '\n', cert, key };
  }
  return { root, intermediates };
}

export interface LeafRequest {
  /** dNSName SANs; the first is also the CN unless `subject` overrides it. */
  names: string[];
  key: KeyMaterial;
  /** `null` = self-signed. */
  issuer: IssuedCert | null;
  notBefore?: Date;
  notAfter?: Date;
  /** Raw subject attributes (e.g. hostile O/OU/CN for XSS tests); default CN=<first name>. */
  subject?: x509.JsonName;
}

/** AutoSSL-shaped leaf: 90 days, serverAuth, SANs, AKI/SKI. */
export async function issueLeaf(req: LeafRequest): Promise<IssuedCert> {
  const notBefore = req.notBefore ?? days(-10);
  const notAfter = req.notAfter ?? new Date(notBefore.getTime() + 90 * 86_400_000);
  const subject = req.subject ?? [{ CN: [req.names[0]!] }];
  const signer = req.issuer?.key ?? req.key;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      req.key.type === 'rsa'
        ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension(req.names.map((value) => ({ type: 'dns' as const, value }))),
  ];
  if (req.issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(req.issuer.key.pair.publicKey));
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: req.issuer ? req.issuer.cert.subject : subject,
    publicKey: req.key.pair.publicKey,
    signingKey: signer.pair.privateKey,
    signingAlgorithm: signingAlgorithm(signer),
    notBefore,
    notAfter,
    extensions,
  });
  return { pem: cert.toString('pem') + '\n', cert, key: req.key };
}
