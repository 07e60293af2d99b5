import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { probeSmtp, sentChain, parseEhlo } from '../../src/dane/smtp-probe.js';
import { ProblemError } from '../../src/problem.js';
import { makePki, startFakeSmtp, type FakeSmtpOptions, type FakeSmtpServer, type TestPki } from '../fakes/smtp-server.js';

let pki: TestPki;
let tmp: string;
let servers: FakeSmtpServer[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dane-probe-'));
  pki = makePki(tmp);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function smtp(o: Partial<FakeSmtpOptions> = {}): Promise<FakeSmtpServer> {
  const s = await startFakeSmtp({ key: pki.leafKey, cert: pki.leafPem + pki.intPem, ...o });
  servers.push(s);
  return s;
}
const probe = (s: FakeSmtpServer, extra: Partial<Parameters<typeof probeSmtp>[0]> = {}) =>
  probeSmtp({ address: s.host, port: s.port, servername: 'mail.example.test', timeoutMs: 5000, ehloName: 'probe.example.test', ...extra });

describe('probeSmtp over STARTTLS', () => {
  it('reads a multi-line greeting, negotiates TLS and records leaf + intermediate as sent (no root)', async () => {
    const s = await smtp({ greeting: ['mail.example.test ESMTP', 'second line', 'last line'] });
    const r = await probe(s);
    expect(r.ok).toBe(true);
    expect(r.stage).toBeUndefined();
    expect(r.banner).toBe('220-mail.example.test ESMTP');
    expect(r.starttlsOffered).toBe(true);
    expect(r.capabilities).toEqual(['SIZE', 'PIPELINING', 'STARTTLS']);
    expect(r.chain).toHaveLength(2);
    expect(r.chain[0]!.equals(pki.der.leaf)).toBe(true);
    expect(r.chain[1]!.equals(pki.der.int)).toBe(true);
    expect(r.protocol).toMatch(/^TLSv1\.[23]$/);
    expect(r.cipher).toBeTruthy();
    expect(r.tlsCapabilities).toEqual(['SIZE', 'AUTH']);
    expect(s.commands).toEqual(['EHLO probe.example.test', 'STARTTLS', 'tls:EHLO probe.example.test', 'tls:QUIT']);
  });

  it('keeps the wire order and unrelated certificates the server sends', async () => {
    const s = await smtp({ cert: pki.leafPem + pki.otherPem + pki.intPem });
    const r = await probe(s);
    expect(r.ok).toBe(true);
    expect(r.chain.map((c) => c.toString('base64'))).toEqual([pki.der.leaf, pki.der.other, pki.der.int].map((c) => c.toString('base64')));
  });

  it('reports STARTTLS not offered at stage starttls and says goodbye', async () => {
    const s = await smtp({ capabilities: ['SIZE 100', '8BITMIME'] });
    const r = await probe(s);
    expect(r).toMatchObject({ ok: false, stage: 'starttls', starttlsOffered: false, chain: [] });
    expect(r.error).toMatch(/does not offer STARTTLS/);
    expect(s.commands).toEqual(['EHLO probe.example.test', 'QUIT']);
  });

  it('discards plaintext injected after the STARTTLS 220 instead of reading it as a TLS reply', async () => {
    const injected = '250-INJECTED\r\n250 EVIL\r\n';
    const s = await smtp({ injectAfterStarttls: injected });
    const r = await probe(s);
    expect(r.ok).toBe(true);
    expect(r.discardedBytes).toBe(Buffer.byteLength(injected));
    expect(r.tlsCapabilities).toEqual(['SIZE', 'AUTH']);
    expect(r.chain[0]!.equals(pki.der.leaf)).toBe(true);
  });

  it('times out with a clear stage when the server never greets', async () => {
    const s = await smtp({ greeting: null });
    const r = await probe(s, { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, stage: 'timeout', chain: [] });
    expect(r.error).toMatch(/waiting for the greeting/);
  });

  it('reports a refused connection at stage connect', async () => {
    const srv = net.createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((res) => srv.close(() => res()));
    const r = await probeSmtp({ address: '127.0.0.1', port, servername: 'mail.example.test', timeoutMs: 2000 });
    expect(r).toMatchObject({ ok: false, stage: 'connect' });
  });

  it('reports a non-220 greeting at stage greeting', async () => {
    const s = await smtp({ greeting: ['mail.example.test ESMTP'] });
    // A server that answers 554 instead of greeting.
    const bad = net.createServer((sock) => sock.end('554 5.3.2 go away\r\n'));
    await new Promise<void>((res) => bad.listen(0, '127.0.0.1', () => res()));
    const r = await probeSmtp({ address: '127.0.0.1', port: (bad.address() as net.AddressInfo).port, servername: 'mail.example.test', timeoutMs: 2000 });
    bad.close();
    expect(r).toMatchObject({ ok: false, stage: 'greeting', banner: '554 5.3.2 go away' });
    expect(s.commands).toEqual([]);
  });

  it('works over IPv6', async () => {
    const s = await smtp({ host: '::1' });
    const r = await probe(s);
    expect(r.ok).toBe(true);
    expect(r.address).toBe('::1');
    expect(r.chain[0]!.equals(pki.der.leaf)).toBe(true);
  });
});

describe('probeSmtp with implicit TLS (465)', () => {
  it('handshakes first, then reads the greeting and EHLO over TLS', async () => {
    const s = await smtp({ implicitTls: true, greeting: ['mail.example.test ESMTPS', 'ready'] });
    const r = await probe(s, { implicitTls: true });
    expect(r.ok).toBe(true);
    expect(r.banner).toBe('220-mail.example.test ESMTPS');
    expect(r.chain.map((c) => c.toString('hex'))).toEqual([pki.der.leaf.toString('hex'), pki.der.int.toString('hex')]);
    expect(r.tlsCapabilities).toEqual(['SIZE', 'AUTH']);
    expect(s.commands).toEqual(['tls:EHLO probe.example.test', 'tls:QUIT']);
  });

  it('times out during a handshake the server never answers', async () => {
    const mute = net.createServer((c) => c.resume()); // reads (so it notices our close) but never answers
    await new Promise<void>((res) => mute.listen(0, '127.0.0.1', () => res()));
    const r = await probeSmtp({ address: '127.0.0.1', port: (mute.address() as net.AddressInfo).port, servername: 'mail.example.test', implicitTls: true, timeoutMs: 300 });
    await new Promise<void>((res) => mute.close(() => res()));
    expect(r).toMatchObject({ ok: false, stage: 'timeout', chain: [] });
    expect(r.error).toMatch(/waiting for the TLS handshake/);
  });

  it('fails at stage handshake when the server does not speak TLS', async () => {
    const s = await smtp();
    const r = await probe(s, { implicitTls: true, timeoutMs: 3000 });
    expect(r).toMatchObject({ ok: false, stage: 'handshake', chain: [] });
  });
});

describe('input checks', () => {
  it('refuses an IP address as SNI name and a name as address', async () => {
    await expect(probeSmtp({ address: '127.0.0.1', port: 25, servername: '127.0.0.1' })).rejects.toThrow(ProblemError);
    await expect(probeSmtp({ address: 'mail.example.test', port: 25, servername: 'mail.example.test' })).rejects.toThrow(/not an IP address/);
    await expect(probeSmtp({ address: '127.0.0.1', port: 0, servername: 'mail.example.test' })).rejects.toThrow(ProblemError);
  });
  it('parses EHLO keywords from a multi-line reply', () => {
    expect(parseEhlo(['250-mx hello', '250-size 100', '250-starttls', '250 AUTH PLAIN LOGIN'])).toEqual(['SIZE', 'STARTTLS', 'AUTH']);
  });
});

describe('sentChain (why not getPeerCertificate)', () => {
  it('does not complete the chain from the local trust store, where getPeerCertificate(true) does', async () => {
    const srv = tls.createServer({ key: pki.leafKey, cert: pki.leafPem + pki.intPem }, (sock) => setTimeout(() => sock.end(), 500));
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
    const port = (srv.address() as net.AddressInfo).port;
    const { sent, completed } = await new Promise<{ sent: Buffer[]; completed: Buffer[] }>((resolve, reject) => {
      // The client trusts the root locally: Node's legacy API pulls it into the "peer" chain.
      const t = tls.connect({ host: '127.0.0.1', port, servername: 'mail.example.test', ca: pki.rootPem, rejectUnauthorized: false }, () => {
        const completed: Buffer[] = [];
        let c = t.getPeerCertificate(true);
        for (let i = 0; i < 3 && c?.raw; i++, c = c.issuerCertificate) completed.push(c.raw);
        resolve({ sent: sentChain(t), completed });
        t.destroy();
      });
      t.on('error', reject);
    });
    srv.close();
    expect(completed.some((c) => c.equals(pki.der.root))).toBe(true);
    expect(sent.map((c) => c.toString('hex'))).toEqual([pki.der.leaf.toString('hex'), pki.der.int.toString('hex')]);
  });
});
