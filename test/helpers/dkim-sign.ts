import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * DKIM signing for tests, independent of the code under test and of mailauth: RFC 6376
 * "simple/simple" canonicalization done here (§3.4.1, §3.4.3), the RSA-SHA256 signature made by
 * the openssl CLI with a key openssl generated. The TXT record to publish comes with it.
 */
export interface DkimKey {
  dir: string;
  keyFile: string;
  /** The p= value: base64 of the SubjectPublicKeyInfo DER. */
  publicKey: string;
}

export function dkimKey(): DkimKey {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-dkim-'));
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyFile], { stdio: 'ignore' });
  const der = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout', '-outform', 'DER']);
  return { dir, keyFile, publicKey: der.toString('base64') };
}

/** The mail with a DKIM-Signature over From and Subject added at the top. */
export function dkimSign(mail: Buffer, key: DkimKey, domain: string, selector: string): Buffer {
  const text = mail.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split + 2);
  // simple body: trailing empty lines become one CRLF
  const body = text.slice(split + 4).replace(/(\r\n)*$/, '\r\n');
  const bh = createHash('sha256').update(body, 'latin1').digest('base64');
  const headerLine = (name: string) => {
    const m = new RegExp(`^${name}:.*(?:\\r\\n[ \\t].*)*\\r\\n`, 'mi').exec(head);
    if (!m) throw new Error(`no ${name} header`);
    return m[0];
  };
  const sig = `DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=${domain}; s=${selector}; h=from:subject; bh=${bh}; b=`;
  const data = headerLine('From') + headerLine('Subject') + sig;
  const file = join(key.dir, 'data');
  writeFileSync(file, data, 'latin1');
  const b = execFileSync('openssl', ['dgst', '-sha256', '-sign', key.keyFile, file]).toString('base64');
  return Buffer.from(`${sig}${b}\r\n${text}`, 'latin1');
}
