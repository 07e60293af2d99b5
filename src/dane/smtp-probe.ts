/**
 * Connects to one SMTP server address the way a DANE sender does and records the certificate
 * chain it presents.
 *
 * Which certificates count: RFC 7672 §3.1.2 says a DANE-TA(2) anchor must be IN the chain the
 * server sends. Node's `getPeerCertificate(true)` cannot tell that: it re-orders the chain by
 * issuer and then completes it from the local trust store (a root the server never sent shows up;
 * see the test "records the chain exactly as sent"). `getPeerX509Certificate()` instead wraps
 * OpenSSL's SSL_get_peer_cert_chain, the peer's own list in wire order, and links it through
 * `issuerCertificate`; Node adds nothing from the local store there. That walk is what `chain` is.
 *
 * STARTTLS: everything the server sent after the 220 reply to STARTTLS is discarded before the
 * handshake (the "STARTTLS command injection" bug class, CVE-2011-0411 and friends): bytes that
 * arrived in plaintext must never be read as a reply protected by TLS.
 */
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { problem, ProblemError } from '../problem.js';
import { checkName, printable } from '../dns/names.js';

export type ProbeStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'handshake' | 'timeout';

export interface ProbeResult {
  host: string;
  address: string;
  port: number;
  /** The TLS handshake completed and `chain` holds what the server presented. */
  ok: boolean;
  /** Where it failed (timeouts: 'timeout', with `error` naming what was awaited). */
  stage?: ProbeStage;
  error?: string;
  /** First line of the greeting. */
  banner?: string;
  /** EHLO keywords before TLS (upper-case, parameters dropped). */
  capabilities?: string[];
  starttlsOffered?: boolean;
  /** Bytes the server sent after its 220 to STARTTLS, thrown away unread. */
  discardedBytes?: number;
  /** EHLO keywords over TLS (for 465: the only EHLO). */
  tlsCapabilities?: string[];
  /** DER, exactly as the server sent them, leaf first. */
  chain: Buffer[];
  protocol?: string;
  cipher?: string;
  /** With `webpki`: the chain judged as MTA-STS needs it (RFC 8461 §4.2): CA-valid, and for the MX name. */
  webpki?: { valid: boolean; reason?: string };
}

export interface ProbeOptions {
  /** IP address to connect to (never a name: the caller resolved it with DNSSEC). */
  address: string;
  port: number;
  /** The MX host name; sent as SNI. */
  servername: string;
  /** TLS from the first byte (port 465). */
  implicitTls?: boolean;
  /** Whole conversation, default 15000 ms. */
  timeoutMs?: number;
  ehloName?: string;
  /** Also judge the chain by the WebPKI (MTA-STS): `ca` replaces the system store (lab only). */
  webpki?: { ca?: string };
}

interface Reply {
  code: number;
  lines: string[];
}

const MAX_REPLY_BYTES = 64 * 1024;
const MAX_CHAIN = 32;

class StageError extends Error {
  constructor(
    readonly stage: ProbeStage,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads SMTP replies from a stream. Multi-line replies (`250-…` lines ending with `250 …`) are
 * one reply. `detach()` stops reading and hands back whatever was buffered beyond the last reply.
 */
class ReplyReader {
  private buf = Buffer.alloc(0);
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer): void => {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > MAX_REPLY_BYTES) this.fail(new Error('the server sent an over-long reply'));
    else this.pump();
  };
  private readonly onEnd = (): void => this.fail(new Error('the server closed the connection'));
  private readonly onError = (err: Error): void => this.fail(err);

  constructor(private readonly stream: net.Socket) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  next(): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.pump();
    });
  }

  /** Stop listening; returns the unread bytes (which the caller must not interpret). */
  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    return rest;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiting;
    this.waiting = null;
    w?.reject(this.failure);
  }

  private pump(): void {
    if (!this.waiting) return;
    const lines: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf(0x0a, pos);
      if (nl < 0) return; // reply not complete yet
      const line = this.buf.subarray(pos, nl).toString('latin1').replace(/\r$/, '');
      pos = nl + 1;
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) return this.fail(new Error(`the server sent a line that is not an SMTP reply: "${printable(line)}"`));
      lines.push(line);
      if (m[2] !== '-') {
        this.buf = this.buf.subarray(pos);
        const w = this.waiting;
        this.waiting = null;
        w.resolve({ code: Number(m[1]), lines });
        return;
      }
    }
  }
}

function describeReply(r: Reply): string {
  return printable(r.lines.join(' / '), 200);
}

/** EHLO keywords from a 250 reply: every line after the first, first word, upper-case. */
export function parseEhlo(lines: string[]): string[] {
  return lines.slice(1).map((l) => (l.slice(4).trim().split(/\s+/)[0] ?? '').toUpperCase()).filter((k) => k !== '');
}

function validateOptions(o: ProbeOptions): void {
  if (net.isIP(o.address) === 0) {
    throw new ProblemError(problem('probe-address-invalid', `"${printable(o.address)}" is not an IP address.`, { fix: 'Resolve the MX host with the validating resolver and probe each address.' }));
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    throw new ProblemError(problem('probe-port-invalid', `Port ${printable(String(o.port))} is not a TCP port.`));
  }
  const n = checkName(o.servername);
  if (!n.ok || net.isIP(o.servername.replace(/\.$/, '')) !== 0) {
    throw new ProblemError(problem('probe-servername-invalid', `SNI name "${printable(o.servername)}" must be the MX host name${n.ok ? ', not an IP address' : `: ${n.reason}`}.`, {
      subject: printable(o.servername),
    }));
  }
}

function defaultEhloName(): string {
  const h = os.hostname();
  return checkName(h).ok && h.includes('.') ? h : 'localhost';
}

/** The chain the peer sent, wire order, leaf first; nothing from the local trust store. */
export function sentChain(sock: tls.TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let cert: X509Certificate | undefined = sock.getPeerX509Certificate();
  while (cert && out.length < MAX_CHAIN) {
    out.push(Buffer.from(cert.raw));
    const next: X509Certificate | undefined = cert.issuerCertificate;
    if (next === cert) break;
    cert = next;
  }
  return out;
}

/** `track` gets every socket at once, so the deadline can destroy a half-open one. */
function connectTcp(address: string, port: number, track: net.Socket[]): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address, port });
    track.push(sock);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
    sock.once('error', (err) => reject(new StageError('connect', `cannot connect: ${err.message}`)));
  });
}

function startTls(socket: net.Socket, servername: string, track: net.Socket[], ca?: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized: false because DANE, not the WebPKI, decides; the chain is judged later
    // (for MTA-STS from what OpenSSL found against the CA store: recordTls).
    const t = tls.connect({ socket, servername, rejectUnauthorized: false, ...(ca ? { ca } : {}) });
    track.push(t);
    const onError = (err: Error): void => reject(new StageError('handshake', `TLS handshake failed: ${err.message}`));
    t.once('error', onError);
    t.once('secureConnect', () => {
      t.off('error', onError);
      resolve(t);
    });
  });
}

export async function probeSmtp(opts: ProbeOptions): Promise<ProbeResult> {
  validateOptions(opts);
  const result: ProbeResult = { host: opts.servername.replace(/\.$/, '').toLowerCase(), address: opts.address, port: opts.port, ok: false, chain: [] };
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const sockets: net.Socket[] = [];
  let waitingFor = 'the TCP connection';
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StageError('timeout', `no progress within ${timeoutMs} ms while waiting for ${waitingFor}`)), timeoutMs);
  });
  deadline.catch(() => undefined); // observed through step(); never an unhandled rejection
  const step = <T>(what: string, p: Promise<T>): Promise<T> => {
    waitingFor = what;
    return Promise.race([p, deadline]);
  };
  try {
    await converse(opts, result, sockets, step);
    result.ok = true;
  } catch (err) {
    if (err instanceof StageError) {
      result.stage = err.stage;
      result.error = err.message;
    } else {
      result.stage ??= 'connect';
      result.error = (err as Error).message;
    }
  } finally {
    clearTimeout(timer);
    for (const s of sockets) s.destroy();
  }
  return result;
}

type Step = <T>(what: string, p: Promise<T>) => Promise<T>;

async function converse(opts: ProbeOptions, result: ProbeResult, sockets: net.Socket[], step: Step): Promise<void> {
  const ehloName = opts.ehloName ?? defaultEhloName();
  const servername = opts.servername.replace(/\.$/, '');
  const tcp = await step('the TCP connection', connectTcp(opts.address, opts.port, sockets));
  tcp.on('error', () => undefined); // errors surface through the reader or the TLS socket

  let plain: net.Socket = tcp;
  if (opts.implicitTls) {
    const t = await step('the TLS handshake', startTls(tcp, servername, sockets, opts.webpki?.ca));
    recordTls(result, t, opts.webpki ? servername : undefined);
    plain = t;
  }

  const reader = new ReplyReader(plain);
  const greeting = await step('the greeting', reader.next().catch(stageFail('greeting')));
  result.banner = printable(greeting.lines[0] ?? '', 200);
  if (greeting.code !== 220) throw new StageError('greeting', `the server greeted with ${describeReply(greeting)} instead of 220`);

  plain.write(`EHLO ${ehloName}\r\n`);
  const ehlo = await step('the EHLO reply', reader.next().catch(stageFail('ehlo')));
  if (ehlo.code !== 250) throw new StageError('ehlo', `EHLO was answered with ${describeReply(ehlo)}`);
  const caps = parseEhlo(ehlo.lines);

  if (opts.implicitTls) {
    result.tlsCapabilities = caps;
    await quit(plain, reader, step);
    return;
  }

  result.capabilities = caps;
  result.starttlsOffered = caps.includes('STARTTLS');
  if (!result.starttlsOffered) {
    await quit(plain, reader, step).catch(() => undefined);
    throw new StageError('starttls', 'the server does not offer STARTTLS');
  }
  plain.write('STARTTLS\r\n');
  const ready = await step('the STARTTLS reply', reader.next().catch(stageFail('starttls')));
  if (ready.code !== 220) throw new StageError('starttls', `STARTTLS was answered with ${describeReply(ready)}`);
  // Anything past the 220 came in plaintext: drop it, never feed it to the TLS session.
  result.discardedBytes = reader.detach().length;

  const t = await step('the TLS handshake', startTls(tcp, servername, sockets, opts.webpki?.ca));
  recordTls(result, t, opts.webpki ? servername : undefined);

  // EHLO again over TLS: shows the session works and what the server offers once protected.
  const secure = new ReplyReader(t);
  t.write(`EHLO ${ehloName}\r\n`);
  const ehlo2 = await step('the EHLO reply over TLS', secure.next()).catch(() => null);
  if (ehlo2?.code === 250) result.tlsCapabilities = parseEhlo(ehlo2.lines);
  await quit(t, secure, step).catch(() => undefined);
}

function recordTls(result: ProbeResult, t: tls.TLSSocket, webpkiName?: string): void {
  result.chain = sentChain(t);
  if (webpkiName !== undefined) {
    // The leaf's names as RFC 6125 matches them (subjectAltName DNS names; a wildcard covers one label).
    const leaf = result.chain[0] ? new X509Certificate(result.chain[0]) : undefined;
    const nameOk = leaf?.checkHost(webpkiName, { wildcards: true, partialWildcards: false }) !== undefined;
    result.webpki = t.authorized && nameOk ? { valid: true } : { valid: false, reason: t.authorizationError ? String(t.authorizationError) : `the certificate is not for ${webpkiName} (it names ${printable(leaf?.subjectAltName ?? leaf?.subject ?? 'nothing', 200)})` };
  }
  const protocol = t.getProtocol();
  if (protocol) result.protocol = protocol;
  const cipher = t.getCipher();
  if (cipher) result.cipher = cipher.standardName ?? cipher.name;
}

function stageFail(stage: ProbeStage): (err: Error) => never {
  return (err) => {
    throw err instanceof StageError ? err : new StageError(stage, err.message);
  };
}

/** Polite goodbye; bounded by the overall deadline, and the result does not depend on it. */
async function quit(sock: net.Socket, reader: ReplyReader, step: Step): Promise<void> {
  try {
    sock.write('QUIT\r\n');
    await step('the QUIT reply', reader.next());
  } catch {
    // The server may close before answering; nothing to learn from that.
  } finally {
    sock.end();
  }
}
