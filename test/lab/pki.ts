// Throwaway PKI made with the openssl CLI: one root and two intermediates ("R1", "R2"),
// like a public CA that issues from several intermediates in rotation.
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun } from './proc.js';

export type IssuerName = 'R1' | 'R2';

export interface IssueRequest {
  /** DNS names; the first becomes the subject CN. */
  names: string[];
  /** 'R1', 'R2' or the name of an intermediate made with addIntermediate(). */
  issuer?: IssuerName | (string & {});
  keyType?: 'rsa' | 'ec';
  /** Days from now until notAfter; negative means the certificate has already expired. */
  notAfterDays?: number;
}

export interface IssuedCert {
  names: string[];
  /** The issuing intermediate's name; 'self' for issueSelfSigned(). */
  issuer: IssuerName | (string & {});
  certPem: string;
  keyPem: string;
  /** The issuing intermediate (what a server sends after the leaf). */
  chainPem: string;
  /** key + leaf + chain, the layout of cPanel's domain_tls/<name>/combined. */
  combinedPem: string;
  /** leaf + chain, for setServiceCert(). */
  fullchainPem: string;
  leafPath: string;
  keyPath: string;
  chainPath: string;
  combinedPath: string;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo (a `3 1 1` digest), computed by openssl. */
  spkiSha256: string;
}

export interface CaCert {
  name: string;
  certPem: string;
  certPath: string;
  /** SHA-256 of this CA's SubjectPublicKeyInfo (a `2 1 1` digest), computed by openssl. */
  spkiSha256: string;
}

export interface IntermediateRequest {
  /** Name to issue from later (IssueRequest.issuer); letters, digits and dashes. */
  name: string;
  /** openssl -subj form, e.g. "/C=US/O=Let's Encrypt/CN=R12". */
  subject: string;
  keyType?: 'rsa' | 'ec';
}

export interface Pki {
  root: CaCert;
  intermediates: Record<IssuerName, CaCert>;
  issue(req: IssueRequest): Promise<IssuedCert>;
  /** Another intermediate under the lab root with the given subject (e.g. shaped like Let's Encrypt's). */
  addIntermediate(req: IntermediateRequest): Promise<CaCert>;
  /** A self-signed certificate (subject = issuer, no chain), like cPanel's placeholder. */
  issueSelfSigned(req: { names: string[]; keyType?: 'rsa' | 'ec' }): Promise<IssuedCert>;
}

/** `openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256`, lower-case hex. */
export async function spkiSha256OfFile(certPath: string): Promise<string> {
  const out = await mustRun([
    'sh',
    '-c',
    'openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r',
    'sh',
    certPath,
  ]);
  const hex = out.trim().split(/\s+/)[0] ?? '';
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`unexpected openssl digest output: ${out}`);
  return hex;
}

const CA_EXT = `[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

function caConfig(dir: string): string {
  // `openssl ca` (not `x509 -req`) because OpenSSL 3.0 cannot set a notAfter in the past otherwise.
  return `[ca]
default_ca = lab
[lab]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
certificate = ${dir}/ca.pem
private_key = ${dir}/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[anything]
commonName = supplied
`;
}

async function makeKey(path: string, keyType: 'rsa' | 'ec'): Promise<void> {
  const alg = keyType === 'rsa'
    ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']
    : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  await mustRun(['openssl', 'genpkey', ...alg, '-out', path]);
}

async function caCert(name: string, certPath: string): Promise<CaCert> {
  return { name, certPath, certPem: readFileSync(certPath, 'utf8'), spkiSha256: await spkiSha256OfFile(certPath) };
}

function utcStamp(d: Date): string {
  // openssl ca -startdate/-enddate: YYYYMMDDHHMMSSZ
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

export async function createPki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const rootKey = join(dir, 'root.key');
  const rootPem = join(dir, 'root.pem');
  const extFile = join(dir, 'ca-ext.cnf');
  writeFileSync(extFile, CA_EXT);
  await makeKey(rootKey, 'ec');
  await mustRun([
    'openssl', 'req', '-x509', '-new', '-key', rootKey, '-out', rootPem, '-days', '3650',
    '-subj', '/O=TLSA Manager Lab/CN=Lab Root CA', '-extensions', 'ca', '-config', extFile,
  ]);

  const makeIntermediate = async (name: string, subject: string, keyType: 'rsa' | 'ec'): Promise<CaCert> => {
    const idir = join(dir, name);
    mkdirSync(join(idir, 'issued'), { recursive: true });
    writeFileSync(join(idir, 'index.txt'), '');
    writeFileSync(join(idir, 'serial'), '1000\n');
    writeFileSync(join(idir, 'ca.cnf'), caConfig(idir));
    await makeKey(join(idir, 'ca.key'), keyType);
    await mustRun(['openssl', 'req', '-new', '-key', join(idir, 'ca.key'), '-out', join(idir, 'ca.csr'), '-subj', subject]);
    await mustRun([
      'openssl', 'x509', '-req', '-in', join(idir, 'ca.csr'), '-CA', rootPem, '-CAkey', rootKey,
      '-CAcreateserial', '-out', join(idir, 'ca.pem'), '-days', '3000', '-sha256',
      '-extfile', extFile, '-extensions', 'ca',
    ]);
    return caCert(name, join(idir, 'ca.pem'));
  };
  const issuers: IssuerName[] = ['R1', 'R2'];
  const inter: Partial<Record<IssuerName, CaCert>> = {};
  // One at a time: -CAcreateserial rewrites the root's serial file.
  for (const name of issuers) inter[name] = await makeIntermediate(name, `/O=TLSA Manager Lab/CN=Lab Intermediate ${name}`, 'ec');
  const intermediates = inter as Record<IssuerName, CaCert>;
  const extra = new Map<string, CaCert>();
  const root = await caCert('root', rootPem);

  // `openssl ca` keeps a database per issuer: serialise issuance so calls never interleave.
  let queue: Promise<unknown> = Promise.resolve();
  let counter = 0;

  async function issueNow(req: IssueRequest): Promise<IssuedCert> {
    if (req.names.length === 0) throw new Error('issueCert: names must not be empty');
    for (const n of req.names) {
      if (!/^(\*\.)?[A-Za-z0-9.-]+$/.test(n)) throw new Error(`issueCert: bad DNS name ${JSON.stringify(n)}`);
    }
    const issuer = req.issuer ?? 'R1';
    const issuerCa = (intermediates as Record<string, CaCert>)[issuer] ?? extra.get(issuer);
    if (!issuerCa) throw new Error(`issueCert: unknown issuer ${JSON.stringify(issuer)}`);
    const keyType = req.keyType ?? 'ec';
    const days = req.notAfterDays ?? 90;
    const idir = join(dir, issuer);
    const base = join(dir, 'leaf', `${++counter}-${req.names[0]!.replace(/\*/g, '_')}`);
    mkdirSync(base, { recursive: true });
    const keyPath = join(base, 'key.pem');
    const csrPath = join(base, 'leaf.csr');
    const leafPath = join(base, 'cert.pem');
    const chainPath = join(base, 'chain.pem');
    const combinedPath = join(base, 'combined');
    const ext = join(base, 'ext.cnf');
    writeFileSync(
      ext,
      `[leaf]\nbasicConstraints = critical,CA:false\nkeyUsage = critical,digitalSignature${keyType === 'rsa' ? ',keyEncipherment' : ''}\n` +
        `extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n` +
        `subjectAltName = ${req.names.map((n) => `DNS:${n}`).join(',')}\n`,
    );
    await makeKey(keyPath, keyType);
    await mustRun(['openssl', 'req', '-new', '-key', keyPath, '-out', csrPath, '-subj', `/CN=${req.names[0]}`]);
    const now = Date.now();
    const day = 86_400_000;
    const end = new Date(now + days * day);
    // An expired certificate must also have started before it ended.
    const start = new Date(Math.min(now - day, end.getTime() - 30 * day));
    await mustRun([
      'openssl', 'ca', '-batch', '-notext', '-config', join(idir, 'ca.cnf'), '-in', csrPath, '-out', leafPath,
      '-startdate', utcStamp(start), '-enddate', utcStamp(end), '-rand_serial',
      '-extfile', ext, '-extensions', 'leaf',
    ]);
    const certPem = readFileSync(leafPath, 'utf8');
    const keyPem = readFileSync(keyPath, 'utf8');
    const chainPem = issuerCa.certPem;
    writeFileSync(chainPath, chainPem);
    const combinedPem = keyPem + certPem + chainPem;
    writeFileSync(combinedPath, combinedPem);
    return {
      names: [...req.names],
      issuer,
      certPem,
      keyPem,
      chainPem,
      combinedPem,
      fullchainPem: certPem + chainPem,
      leafPath,
      keyPath,
      chainPath,
      combinedPath,
      spkiSha256: await spkiSha256OfFile(leafPath),
    };
  }

  async function selfSignedNow(req: { names: string[]; keyType?: 'rsa' | 'ec' }): Promise<IssuedCert> {
    for (const n of req.names) {
      if (!/^(\*\.)?[A-Za-z0-9.-]+$/.test(n)) throw new Error(`issueSelfSigned: bad DNS name ${JSON.stringify(n)}`);
    }
    const base = join(dir, 'leaf', `${++counter}-self-${req.names[0]!.replace(/\*/g, '_')}`);
    mkdirSync(base, { recursive: true });
    const keyPath = join(base, 'key.pem');
    const leafPath = join(base, 'cert.pem');
    const chainPath = join(base, 'chain.pem');
    const combinedPath = join(base, 'combined');
    await makeKey(keyPath, req.keyType ?? 'rsa');
    await mustRun([
      'openssl', 'req', '-x509', '-new', '-key', keyPath, '-out', leafPath, '-days', '365', '-sha256',
      '-subj', `/CN=${req.names[0]}`, '-addext', `subjectAltName=${req.names.map((n) => `DNS:${n}`).join(',')}`,
    ]);
    const certPem = readFileSync(leafPath, 'utf8');
    const keyPem = readFileSync(keyPath, 'utf8');
    writeFileSync(chainPath, '');
    writeFileSync(combinedPath, keyPem + certPem);
    return {
      names: [...req.names], issuer: 'self', certPem, keyPem, chainPem: '', combinedPem: keyPem + certPem, fullchainPem: certPem,
      leafPath, keyPath, chainPath, combinedPath, spkiSha256: await spkiSha256OfFile(leafPath),
    };
  }

  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const p = queue.then(job);
    queue = p.catch(() => undefined);
    return p;
  };
  return {
    root,
    intermediates,
    issue: (req) => serial(() => issueNow(req)),
    addIntermediate(req) {
      if (!/^[A-Za-z0-9-]+$/.test(req.name) || req.name in intermediates || extra.has(req.name)) throw new Error(`addIntermediate: bad or taken name ${JSON.stringify(req.name)}`);
      return serial(async () => {
        const ca = await makeIntermediate(req.name, req.subject, req.keyType ?? 'rsa');
        extra.set(req.name, ca);
        return ca;
      });
    },
    issueSelfSigned: (req) => serial(() => selfSignedNow(req)),
  };
}
