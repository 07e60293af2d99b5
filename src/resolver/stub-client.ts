/**
 * A small DNS stub client that talks to ONE validating resolver and reports the AD bit.
 *
 * `node:dns` hides the AD bit, and DANE is meaningless without it (RFC 7672 §2.1), so queries are
 * built with `dns-packet`: RD + AD set, EDNS0 with DO, UDP first and TCP when the answer comes back
 * truncated. Responses are accepted only when they come from the resolver's address and port and
 * echo our random id and exact question; anything else on the socket is ignored (off-path spoofing).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import { problem, ProblemError } from '../problem.js';
import { canonicalName, checkName, printable } from '../dns/names.js';

export interface Resolver {
  host: string;
  port: number;
}

/** The record types this client asks for (one list: the type and the run-time check). */
const QUERY_TYPES = ['MX', 'A', 'AAAA', 'TLSA', 'TXT', 'CNAME', 'DS', 'DNSKEY', 'SOA', 'NS', 'CDS', 'CDNSKEY'] as const;
export type QueryType = (typeof QUERY_TYPES)[number];
export type Security = 'secure' | 'insecure' | 'bogus' | 'indeterminate';
export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | string;
export type AnswerStatus = 'ok' | 'nxdomain' | 'nodata' | 'servfail' | 'timeout' | 'error';

export interface TlsaData {
  usage: number;
  selector: number;
  matchingType: number;
  /** lower-case hex */
  data: string;
}
export interface MxData {
  preference: number;
  /** absolute, lower-case, no trailing dot ('' for the null MX ".") */
  exchange: string;
}
export interface DsData {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: string;
}
export interface DnskeyData {
  flags: number;
  algorithm: number;
  key: string;
}
/** An RRSIG over the answer's records (kept so expiry can be told apart from other failures). */
export interface RrsigData {
  typeCovered: string;
  algorithm: number;
  keyTag: number;
  signerName: string;
  /** Seconds since the epoch. */
  inception: number;
  expiration: number;
}
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
}

export interface AnswerRecord {
  /** owner name, lower-case, no trailing dot */
  name: string;
  type: string;
  ttl: number;
  /** A/AAAA: address string; CNAME/NS: name; MX: MxData; TLSA: TlsaData; DS: DsData; DNSKEY: DnskeyData; SOA: SoaData */
  data: unknown;
}

export interface Answer {
  /** The name that was asked for. */
  name: string;
  type: string;
  /** Empty string when no response arrived (timeout / transport error). */
  rcode: Rcode;
  /** The resolver set AD: every record in the answer was DNSSEC-validated. */
  secure: boolean;
  /** Records of the requested type at the end of the CNAME chain (RRSIGs left out). */
  records: AnswerRecord[];
  /** CNAME targets followed from `name`, in order; the last one owns `records`. */
  cnameChain: string[];
  /** RRSIGs covering `records` (only when the server sent them: DO is always set). */
  signatures?: RrsigData[];
  status: AnswerStatus;
  /** Which transport produced the answer. */
  transport?: 'udp' | 'tcp';
  /** The server set AA: it answered from a zone it is authoritative for. */
  authoritative?: boolean;
  /** Bytes of the DNS message that carried the answer (over TCP: the full, untruncated message). */
  size?: number;
  /** The UDP answer at our 1232-byte EDNS buffer came back truncated (TC), so it needed TCP. */
  truncated?: boolean;
  /** Why status is timeout/error, in plain words. */
  error?: string;
}

export interface DnsClientOptions {
  /** Per attempt; default 2000 ms. */
  timeoutMs?: number;
  /** Extra UDP attempts after the first one times out; default 1. */
  retries?: number;
  /** Share identical queries within this client's lifetime; default true. */
  cache?: boolean;
  /** A name the resolver must report as secure (selfTest); default the root zone ".". */
  probeName?: string;
  /** Record type asked for at probeName; default SOA. */
  probeType?: QueryType;
  /**
   * RD flag; default true. False asks an authoritative server the way a resolver does, so the
   * answer carries what resolvers receive (BIND leaves the authority section out when RD is set).
   */
  recursionDesired?: boolean;
}

/** Large enough for TLSA sets with signatures, small enough to avoid IP fragmentation (DNS flag day 2020). */
export const EDNS_UDP_SIZE = 1232;
const MAX_CNAME_HOPS = 16;

// ---------------------------------------------------------------------------------------------
// Resolver addresses

function invalidResolver(s: string, why: string): ProblemError {
  return new ProblemError(problem('resolver-invalid', `Resolver "${printable(s)}" is not usable: ${why}.`, {
    fix: 'Give the resolver as an IP address with an optional port: 127.0.0.1, 127.0.0.1:5353, ::1 or [::1]:5353.',
    subject: printable(s),
  }));
}

function parsePort(s: string, raw: string): number {
  if (!/^\d{1,5}$/.test(s)) throw invalidResolver(raw, `port "${printable(s)}" is not a number`);
  const port = Number(s);
  if (port < 1 || port > 65535) throw invalidResolver(raw, `port ${port} is outside 1-65535`);
  return port;
}

/** "127.0.0.1", "127.0.0.1:5353", "[::1]:53", "[::1]", "::1". Host names are refused: a resolver must not need a resolver. */
export function parseResolver(s: string): Resolver {
  const raw = String(s);
  const t = raw.trim();
  if (t === '') throw invalidResolver(raw, 'it is empty');
  let host: string;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = parsePort(bracket[2], raw);
    if (net.isIP(host) !== 6) throw invalidResolver(raw, `"${printable(host)}" is not an IPv6 address`);
    return { host, port };
  }
  if (net.isIP(t) !== 0) return { host: t, port };
  const colon = t.lastIndexOf(':');
  if (colon > 0 && t.indexOf(':') === colon) {
    host = t.slice(0, colon);
    port = parsePort(t.slice(colon + 1), raw);
    if (net.isIP(host) !== 4) throw invalidResolver(raw, `"${printable(host)}" is not an IPv4 address`);
    return { host, port };
  }
  throw invalidResolver(raw, 'it is not an IP address');
}

/** The first usable `nameserver` line of a resolv.conf text, or null. */
export function resolverFromResolvConf(text: string): Resolver | null {
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = m[1]!.replace(/%.*$/, ''); // a zone id (fe80::1%eth0) cannot be used by dgram
    if (net.isIP(addr) !== 0) return { host: addr, port: 53 };
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Wire

function checkQueryName(name: string): string {
  if (name === '.' || name === '') return '.';
  const r = checkName(name, { allowUnderscore: true });
  if (!r.ok) {
    throw new ProblemError(problem('name-invalid', `Cannot look up "${printable(name)}": ${r.reason}.`, {
      subject: printable(name),
    }));
  }
  return r.name;
}

function buildQuery(id: number, name: string, type: QueryType, cd: boolean, rd = true): packet.Packet {
  let flags = (rd ? packet.RECURSION_DESIRED : 0) | packet.AUTHENTIC_DATA;
  if (cd) flags |= packet.CHECKING_DISABLED;
  return {
    type: 'query',
    id,
    flags,
    questions: [{ name, type, class: 'IN' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] },
    ],
  };
}

type Decoded = packet.DecodedPacket & { rcode?: string };
/** A decoded response and the size of the message on the wire. */
interface Received {
  res: Decoded;
  size: number;
}

/** Does this decoded packet answer exactly our query? */
function matchesQuery(res: Decoded, id: number, name: string, type: QueryType): boolean {
  if (res.type !== 'response' || res.id !== id) return false;
  const q = res.questions;
  if (!q || q.length !== 1) return false;
  const q0 = q[0]!;
  return canonicalName(q0.name) === canonicalName(name) && q0.type === type && (q0.class ?? 'IN') === 'IN';
}

function tryDecode(buf: Buffer): Decoded | null {
  try {
    return packet.decode(buf) as Decoded;
  } catch {
    return null;
  }
}

class Timeout extends Error {}

function udpExchange(resolver: Resolver, query: Buffer, accept: (r: Decoded) => boolean, timeoutMs: number): Promise<Received> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIP(resolver.host) === 6 ? 'udp6' : 'udp4');
    let settled = false;
    const done = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.removeAllListeners('message');
      sock.close();
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new Timeout())), timeoutMs);
    sock.on('error', (err) => done(() => reject(err)));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== resolver.port || !sameAddress(rinfo.address, resolver.host)) return;
      const res = tryDecode(msg);
      if (res && accept(res)) done(() => resolve({ res, size: msg.length }));
      // Anything else is noise or a spoofing attempt: keep waiting for the real answer.
    });
    sock.send(query, resolver.port, resolver.host, (err) => {
      if (err) done(() => reject(err));
    });
  });
}

function tcpExchange(resolver: Resolver, query: Buffer, accept: (r: Decoded) => boolean, timeoutMs: number): Promise<Received> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: resolver.host, port: resolver.port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(() => done(() => reject(new Timeout())), timeoutMs);
    sock.on('error', (err) => done(() => reject(err)));
    sock.on('close', () => done(() => reject(new Error('the resolver closed the TCP connection without an answer'))));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) return;
        const res = tryDecode(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (res && accept(res)) return done(() => resolve({ res, size: len }));
        // On our own TCP connection a non-matching message is a broken resolver, not noise.
        return done(() => reject(new Error('the resolver answered a different question over TCP')));
      }
    });
  });
}

function sameAddress(a: string, b: string): boolean {
  const strip = (x: string): string => x.toLowerCase().replace(/^::ffff:/, '');
  if (strip(a) === strip(b)) return true;
  // Different spellings of one IPv6 address (::1 vs 0:0:0:0:0:0:0:1).
  if (net.isIP(a) === 6 && net.isIP(b) === 6) {
    const bl = new net.BlockList();
    bl.addAddress(a, 'ipv6');
    return bl.check(b, 'ipv6');
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Decoding

function hex(b: unknown): string {
  return Buffer.isBuffer(b) ? b.toString('hex') : '';
}

function decodeData(type: string, data: unknown): unknown {
  switch (type) {
    case 'A':
    case 'AAAA':
      return String(data);
    case 'CNAME':
    case 'NS':
      return canonicalName(String(data));
    case 'MX': {
      const d = data as { preference?: number; exchange: string };
      const ex = canonicalName(d.exchange);
      return { preference: d.preference ?? 0, exchange: ex === '.' ? '' : ex } satisfies MxData;
    }
    case 'TLSA':
      return decodeTlsa(data);
    // A TXT record's character-strings, one byte per character.
    case 'TXT':
      return (Array.isArray(data) ? data : [data]).map((s: unknown) => (Buffer.isBuffer(s) ? s.toString('latin1') : String(s)));
    // dns-packet has no codec for the child copies (RFC 7344): raw RDATA, same layout as DS/DNSKEY.
    case 'CDS': {
      const b = data as Buffer;
      if (!Buffer.isBuffer(b) || b.length < 4) throw new Error('CDS RDATA shorter than 4 bytes');
      return { keyTag: b.readUInt16BE(0), algorithm: b[2]!, digestType: b[3]!, digest: b.subarray(4).toString('hex') } satisfies DsData;
    }
    case 'CDNSKEY': {
      const b = data as Buffer;
      if (!Buffer.isBuffer(b) || b.length < 4) throw new Error('CDNSKEY RDATA shorter than 4 bytes');
      return { flags: b.readUInt16BE(0), algorithm: b[3]!, key: b.subarray(4).toString('base64') } satisfies DnskeyData;
    }
    case 'DS': {
      const d = data as { keyTag: number; algorithm: number; digestType: number; digest: Buffer };
      return { keyTag: d.keyTag, algorithm: d.algorithm, digestType: d.digestType, digest: hex(d.digest) } satisfies DsData;
    }
    case 'DNSKEY': {
      const d = data as { flags: number; algorithm: number; key: Buffer };
      return { flags: d.flags, algorithm: d.algorithm, key: Buffer.isBuffer(d.key) ? d.key.toString('base64') : '' } satisfies DnskeyData;
    }
    case 'SOA': {
      const d = data as { mname: string; rname: string; serial?: number };
      return { mname: canonicalName(d.mname), rname: canonicalName(d.rname), serial: d.serial ?? 0 } satisfies SoaData;
    }
    default:
      return data;
  }
}

/** dns-packet decodes TLSA into {certificate: Buffer}; older or foreign shapes may be the raw RDATA bytes. */
export function decodeTlsa(data: unknown): TlsaData {
  if (Buffer.isBuffer(data)) {
    if (data.length < 3) throw new Error('TLSA RDATA shorter than 3 bytes');
    return { usage: data[0]!, selector: data[1]!, matchingType: data[2]!, data: data.subarray(3).toString('hex') };
  }
  const d = data as { usage: number; selector: number; matchingType: number; certificate: Buffer };
  return { usage: d.usage, selector: d.selector, matchingType: d.matchingType, data: hex(d.certificate) };
}

function rrsigsFor(answers: packet.Answer[], owner: string, type: string): RrsigData[] {
  const out: RrsigData[] = [];
  for (const a of answers) {
    if (a.type !== 'RRSIG' || canonicalName(a.name) !== owner) continue;
    const d = (a as { data: { typeCovered: string; algorithm: number; keyTag: number; signersName: string; inception: number; expiration: number } }).data;
    if (d.typeCovered !== type) continue;
    out.push({ typeCovered: d.typeCovered, algorithm: d.algorithm, keyTag: d.keyTag, signerName: canonicalName(d.signersName), inception: d.inception, expiration: d.expiration });
  }
  return out;
}

function toAnswer(name: string, type: QueryType, { res, size }: Received, transport: 'udp' | 'tcp', truncated: boolean): Answer {
  const rcode = res.rcode ?? 'NOERROR';
  const all = (res.answers ?? []).filter((a) => a.type !== 'RRSIG' && a.type !== 'OPT');
  // Follow CNAMEs inside the answer section, starting at the question name.
  const cnameChain: string[] = [];
  let current = canonicalName(name);
  if (type !== 'CNAME') {
    for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
      const c = all.find((a) => a.type === 'CNAME' && canonicalName(a.name) === current);
      if (!c) break;
      current = canonicalName(String(c.data));
      if (cnameChain.includes(current)) break; // loop
      cnameChain.push(current);
    }
  }
  let records: AnswerRecord[];
  try {
    records = all
      .filter((a) => a.type === type && canonicalName(a.name) === current)
      .map((a) => ({ name: canonicalName(a.name), type: a.type, ttl: (a as { ttl?: number }).ttl ?? 0, data: decodeData(a.type, (a as { data: unknown }).data) }));
  } catch (err) {
    return { name, type, rcode, secure: false, records: [], cnameChain, status: 'error', transport, size, truncated, error: `malformed ${type} record: ${(err as Error).message}` };
  }
  const status: AnswerStatus =
    rcode === 'NOERROR' ? (records.length > 0 ? 'ok' : 'nodata') : rcode === 'NXDOMAIN' ? 'nxdomain' : rcode === 'SERVFAIL' ? 'servfail' : 'error';
  const answer: Answer = { name, type, rcode, secure: res.flag_ad === true, records, cnameChain, status, transport, size, truncated, authoritative: res.flag_aa === true };
  const signatures = rrsigsFor(res.answers ?? [], current, type);
  if (signatures.length > 0) answer.signatures = signatures;
  if (status === 'error') answer.error = `the resolver answered ${rcode}`;
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Client

export class DnsClient {
  readonly resolver: Resolver;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly useCache: boolean;
  private readonly probeName: string;
  private readonly probeType: QueryType;
  private readonly recursionDesired: boolean;
  private readonly cache = new Map<string, Promise<Answer>>();

  constructor(resolver: Resolver, opts: DnsClientOptions = {}) {
    this.resolver = resolver;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retries = opts.retries ?? 1;
    this.useCache = opts.cache ?? true;
    this.probeName = opts.probeName ?? '.';
    this.probeType = opts.probeType ?? 'SOA';
    this.recursionDesired = opts.recursionDesired ?? true;
  }

  /** One question, answered by the resolver; never throws for network trouble (see status). */
  query(name: string, type: QueryType, opts: { checkingDisabled?: boolean } = {}): Promise<Answer> {
    if (!(QUERY_TYPES as readonly string[]).includes(type)) {
      throw new ProblemError(problem('dns-type-unsupported', `Record type "${printable(String(type))}" is not supported.`));
    }
    const qname = checkQueryName(name);
    const cd = opts.checkingDisabled === true;
    if (!this.useCache) return this.fetch(qname, type, cd);
    const key = `${qname}|${type}|${cd ? 'cd' : ''}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const p = this.fetch(qname, type, cd).then((a) => {
      // Transient failures must not stick for the rest of the run.
      if (a.status === 'timeout' || a.status === 'error') this.cache.delete(key);
      return a;
    });
    this.cache.set(key, p);
    return p;
  }

  /**
   * DNSSEC status of an RRset. A validating resolver answers SERVFAIL for bogus data; asking again
   * with CD (checking disabled) tells "bogus" (data exists, signatures fail) from an unreachable zone.
   */
  async security(name: string, type: QueryType): Promise<{ answer: Answer; security: Security }> {
    const answer = await this.query(name, type);
    if (answer.status === 'timeout' || answer.status === 'error') return { answer, security: 'indeterminate' };
    if (answer.status === 'servfail') {
      const cd = await this.query(name, type, { checkingDisabled: true });
      const reachable = cd.rcode === 'NOERROR' || cd.rcode === 'NXDOMAIN';
      return { answer, security: reachable ? 'bogus' : 'indeterminate' };
    }
    return { answer, security: answer.secure ? 'secure' : 'insecure' };
  }

  /** Does the resolver validate? The probe name must come back with AD set. */
  async selfTest(): Promise<{ validating: boolean; message: string }> {
    const where = `${this.resolver.host} port ${this.resolver.port}`;
    const shown = this.probeName === '.' ? 'the root zone' : this.probeName;
    const a = await this.query(this.probeName, this.probeType);
    if (a.status === 'timeout') {
      return { validating: false, message: `The resolver at ${where} did not answer; DANE checks need a reachable validating resolver.` };
    }
    if (a.status === 'ok' && a.secure) {
      return { validating: true, message: `The resolver at ${where} validates DNSSEC (${shown} ${this.probeType} is authenticated).` };
    }
    if (a.status === 'ok' || a.status === 'nodata' || a.status === 'nxdomain') {
      return {
        validating: false,
        message: `The resolver at ${where} does not validate DNSSEC (${shown} ${this.probeType} came back without the AD flag); results would be meaningless.`,
      };
    }
    return {
      validating: false,
      message: `The resolver at ${where} could not answer for ${shown} (${a.error ?? a.rcode}); it cannot be used to check DNSSEC.`,
    };
  }

  private async fetch(name: string, type: QueryType, cd: boolean): Promise<Answer> {
    const fail = (status: 'timeout' | 'error', error: string): Answer => ({ name, type, rcode: '', secure: false, records: [], cnameChain: [], status, error });
    const id = randomInt(0, 65536);
    const wire = packet.encode(buildQuery(id, name, type, cd, this.recursionDesired));
    const accept = (r: Decoded): boolean => matchesQuery(r, id, name, type);
    let lastError = '';
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      try {
        const got = await udpExchange(this.resolver, wire, accept, this.timeoutMs);
        if (!got.res.flag_tc) return toAnswer(name, type, got, 'udp', false);
        return await this.fetchTcp(name, type, wire, accept);
      } catch (err) {
        if (err instanceof Timeout) {
          lastError = `no answer within ${this.timeoutMs} ms`;
          continue;
        }
        return fail('error', (err as Error).message);
      }
    }
    return fail('timeout', `${lastError} from ${this.resolver.host} port ${this.resolver.port} (${this.retries + 1} attempts)`);
  }

  private async fetchTcp(name: string, type: QueryType, wire: Buffer, accept: (r: Decoded) => boolean): Promise<Answer> {
    try {
      return toAnswer(name, type, await tcpExchange(this.resolver, wire, accept, this.timeoutMs), 'tcp', true);
    } catch (err) {
      const status = err instanceof Timeout ? 'timeout' : 'error';
      const error = err instanceof Timeout ? `truncated UDP answer and no TCP answer within ${this.timeoutMs} ms` : `TCP retry after a truncated answer failed: ${(err as Error).message}`;
      return { name, type, rcode: '', secure: false, records: [], cnameChain: [], status, truncated: true, error };
    }
  }
}
