/**
 * A scriptable fake SMTP server (net + tls) on a loopback address and random port, plus an
 * openssl-made certificate hierarchy (root → intermediate → leaf) for it.
 */
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface FakeSmtpOptions {
  host?: string;
  /** Greeting lines (sent as one multi-line 220). null = never greet. */
  greeting?: string[] | null;
  /** EHLO keywords offered before TLS. */
  capabilities?: string[];
  /** Plaintext bytes appended to the STARTTLS "220" reply (injection test). */
  injectAfterStarttls?: string;
  /** TLS from the first byte (465). */
  implicitTls?: boolean;
  /** Key and certificate chain (PEM, leaf first) the server presents. */
  key: string;
  cert: string;
  /** EHLO keywords offered over TLS. */
  tlsCapabilities?: string[];
}

export interface FakeSmtpServer {
  host: string;
  port: number;
  /** Commands received, prefixed "tls:" once inside TLS. */
  commands: string[];
  close(): Promise<void>;
}

export async function startFakeSmtp(o: FakeSmtpOptions): Promise<FakeSmtpServer> {
  const host = o.host ?? '127.0.0.1';
  const commands: string[] = [];
  const open = new Set<net.Socket>();
  const tlsOpts = { key: o.key, cert: o.cert };

  const serve = (sock: net.Socket, secure: boolean, greet: boolean): void => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    sock.on('error', () => undefined);
    if (greet) {
      if (o.greeting === null) return;
      const greeting = o.greeting ?? ['mail.example.test ESMTP fake'];
      sock.write(greeting.map((l, i) => `220${i === greeting.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
    }
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        commands.push(secure ? `tls:${line}` : line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') {
          const caps = secure ? o.tlsCapabilities ?? ['SIZE 1000000', 'AUTH PLAIN'] : o.capabilities ?? ['SIZE 1000000', 'PIPELINING', 'STARTTLS'];
          const lines = ['mail.example.test hello', ...caps];
          sock.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        } else if (verb === 'STARTTLS' && !secure) {
          sock.off('data', onData);
          sock.write(`220 2.0.0 ready\r\n${o.injectAfterStarttls ?? ''}`);
          const t = new tls.TLSSocket(sock, { isServer: true, ...tlsOpts });
          t.on('error', () => undefined);
          serve(t, true, false); // no greeting after STARTTLS: the client speaks first
          return;
        } else if (verb === 'QUIT') {
          sock.end('221 2.0.0 bye\r\n');
          return;
        } else {
          sock.write('502 5.5.2 not implemented\r\n');
        }
      }
    };
    sock.on('data', onData);
  };

  const server = o.implicitTls ? tls.createServer(tlsOpts, (s) => serve(s, true, true)) : net.createServer((s) => serve(s, false, true));
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    commands,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface TestPki {
  dir: string;
  rootPem: string;
  intPem: string;
  leafPem: string;
  leafKey: string;
  otherPem: string;
  /** DER of each certificate, converted by openssl. */
  der: { root: Buffer; int: Buffer; leaf: Buffer; other: Buffer };
}

/** Root CA → intermediate → leaf for `hostname`, plus an unrelated self-signed cert; all by openssl. */
export function makePki(dir: string, hostname = 'mail.example.test'): TestPki {
  fs.mkdirSync(dir, { recursive: true });
  const f = (n: string): string => path.join(dir, n);
  const ossl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', f('root.key'), '-out', f('root.pem'), '-days', '30', '-subj', '/CN=Test Root', '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', ...ec, '-keyout', f('int.key'), '-out', f('int.csr'), '-subj', '/CN=Test Intermediate');
  fs.writeFileSync(f('int.ext'), 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n');
  ossl('x509', '-req', '-in', f('int.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-set_serial', '2', '-out', f('int.pem'), '-days', '30', '-extfile', f('int.ext'));
  ossl('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', `/CN=${hostname}`);
  fs.writeFileSync(f('leaf.ext'), `subjectAltName=DNS:${hostname}\nbasicConstraints=CA:false\n`);
  ossl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('int.pem'), '-CAkey', f('int.key'), '-set_serial', '3', '-out', f('leaf.pem'), '-days', '30', '-extfile', f('leaf.ext'));
  ossl('req', '-x509', ...ec, '-keyout', f('other.key'), '-out', f('other.pem'), '-days', '30', '-subj', '/CN=Unrelated');
  const der = (n: string): Buffer => execFileSync('openssl', ['x509', '-in', f(`${n}.pem`), '-outform', 'DER']);
  const read = (n: string): string => fs.readFileSync(f(n), 'utf8');
  return {
    dir,
    rootPem: read('root.pem'),
    intPem: read('int.pem'),
    leafPem: read('leaf.pem'),
    leafKey: read('leaf.key'),
    otherPem: read('other.pem'),
    der: { root: der('root'), int: der('int'), leaf: der('leaf'), other: der('other') },
  };
}
