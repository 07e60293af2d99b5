import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Test PKI made with the openssl CLI: the independent tool our results are compared with. */
export type KeyType = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'p256' | 'p384' | 'ed25519';

export function openssl(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function keyArgs(type: KeyType): string[] {
  switch (type) {
    case 'rsa2048': return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
    case 'rsa3072': return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'];
    case 'rsa4096': return ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:4096'];
    case 'p256': return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    case 'p384': return ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'];
    case 'ed25519': return ['-algorithm', 'ED25519'];
  }
}

export interface TestPki {
  dir: string;
  rootCert: string;
  interCert: string;
  interKey: string;
  /** Issue a leaf; returns paths to its key and certificate. */
  leaf(name: string, opts?: { keyType?: KeyType; days?: number; sans?: string[]; subject?: string; startDate?: string; endDate?: string }): { key: string; cert: string; combined: string };
}

let counter = 0;

export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-pki-'));
  const p = (f: string) => join(dir, f);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('root.key'), '-out', p('root.pem'), '-subj', '/CN=Test Root', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE']);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('inter.key'), '-out', p('inter.csr'), '-subj', '/CN=Test Intermediate R1']);
  writeFileSync(p('ca.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl(['x509', '-req', '-in', p('inter.csr'), '-CA', p('root.pem'), '-CAkey', p('root.key'), '-CAcreateserial', '-out', p('inter.pem'), '-days', '30', '-extfile', p('ca.ext')]);
  return {
    dir,
    rootCert: p('root.pem'),
    interCert: p('inter.pem'),
    interKey: p('inter.key'),
    leaf(name, opts = {}) {
      const id = `${name.replace(/[^a-z0-9.-]/gi, '_')}-${++counter}`;
      const key = p(`${id}.key`);
      openssl(['genpkey', ...keyArgs(opts.keyType ?? 'p256'), '-out', key]);
      openssl(['req', '-new', '-key', key, '-out', p(`${id}.csr`), '-subj', opts.subject ?? `/CN=${name}`]);
      const sans = (opts.sans ?? [name]).map((s) => `DNS:${s}`).join(',');
      writeFileSync(p(`${id}.ext`), `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\n`);
      const cert = p(`${id}.pem`);
      openssl(['x509', '-req', '-in', p(`${id}.csr`), '-CA', p('inter.pem'), '-CAkey', p('inter.key'), '-CAcreateserial', '-out', cert, '-days', String(opts.days ?? 30), '-extfile', p(`${id}.ext`)]);
      const combined = p(`${id}.combined`);
      writeFileSync(combined, readFileSync(key, 'utf8') + readFileSync(cert, 'utf8') + readFileSync(p('inter.pem'), 'utf8'));
      return { key, cert, combined };
    },
  };
}

/** TLSA association data computed by openssl alone (lower-case hex). */
export function opensslTlsaData(certPath: string, selector: 0 | 1, matching: 0 | 1 | 2): string {
  const bytes = selector === 0
    ? openssl(['x509', '-in', certPath, '-outform', 'DER'])
    : openssl(['pkey', '-pubin', '-outform', 'DER'], openssl(['x509', '-in', certPath, '-noout', '-pubkey']));
  if (matching === 0) return bytes.toString('hex');
  const out = openssl(['dgst', matching === 1 ? '-sha256' : '-sha512', '-r'], bytes).toString('latin1');
  return out.split(' ')[0]!.trim().toLowerCase();
}
