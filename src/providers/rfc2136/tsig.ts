/**
 * TSIG (RFC 8945): signing a request and checking the signature on its answer. The npm registry
 * has no maintained TSIG package (looked up in the registry list: none under tsig, rfc2136 or
 * rfc8945), so this is our own, kept to what RFC 8945 §4–§5 ask of a client: the HMAC over the
 * message and the TSIG variables, the answer's MAC over the request MAC + answer + variables,
 * full-length MACs only (no truncation, §5.2.2.1), and the time check against the fudge
 * (§5.2.3). The secret never leaves this module's Key object in any text.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalName, CLASS, encodeName, readName, TYPE, type ReadRecord } from './wire.js';

export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha512', 'hmac-sha384', 'hmac-sha224', 'hmac-sha1'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];
const HASH: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512', 'hmac-sha384': 'sha384', 'hmac-sha224': 'sha224', 'hmac-sha1': 'sha1' };
const MAC_BYTES: Record<TsigAlgorithm, number> = { 'hmac-sha256': 32, 'hmac-sha512': 64, 'hmac-sha384': 48, 'hmac-sha224': 28, 'hmac-sha1': 20 };

/** TSIG error codes in the TSIG record's Error field (RFC 8945 §3). */
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

/** The fudge we send (RFC 8945 §10 recommends 300 s). */
export const FUDGE = 300;

export interface TsigKey {
  /** Key name, absolute, no trailing dot (`tlsa-manager`). */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** What signing a request leaves to check its answer with. */
export interface Signed {
  message: Buffer;
  /** The request's MAC (the answer's MAC covers it). */
  mac: Buffer;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
}

/** The TSIG variables of RFC 8945 §4.3.3, in the order the MAC covers them. */
function variables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS.ANY, 0);
  classTtl.writeUInt32BE(0, 2);
  return Buffer.concat([canonicalName(key.name), classTtl, canonicalName(key.algorithm), u48(timeSigned), u16(fudge), u16(error), u16(other.length), other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Appends a TSIG record to `message` (built without one) and raises ARCOUNT. `now` in ms. */
export function sign(message: Buffer, key: TsigKey, now: number): Signed {
  const timeSigned = Math.floor(now / 1000);
  const mac = hmac(key, [message, variables(key, timeSigned, FUDGE, 0, Buffer.alloc(0))]);
  const rdata = Buffer.concat([encodeName(key.algorithm), u48(timeSigned), u16(FUDGE), u16(mac.length), mac, message.subarray(0, 2), u16(0), u16(0)]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE.TSIG, 0);
  fixed.writeUInt16BE(CLASS.ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, encodeName(key.name), fixed, rdata]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: out, mac };
}

/** A TSIG record's fields (RFC 8945 §4.2). */
export interface TsigRecord {
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
}

export function readTsig(msg: Buffer, r: ReadRecord): TsigRecord {
  const alg = readName(msg, r.rdataStart);
  let p = alg.next;
  const need = (n: number): void => {
    if (p + n > r.end) throw new Error('TSIG record too short');
  };
  need(10);
  const timeSigned = msg.readUIntBE(p, 6);
  const fudge = msg.readUInt16BE(p + 6);
  const macLen = msg.readUInt16BE(p + 8);
  p += 10;
  need(macLen + 6);
  const mac = msg.subarray(p, p + macLen);
  p += macLen;
  const originalId = msg.readUInt16BE(p);
  const error = msg.readUInt16BE(p + 2);
  const otherLen = msg.readUInt16BE(p + 4);
  p += 6;
  need(otherLen);
  const other = msg.subarray(p, p + otherLen);
  if (p + otherLen !== r.end) throw new Error('TSIG record has trailing bytes');
  return { algorithm: alg.labels.map((l) => l.toString('latin1').toLowerCase()).join('.'), timeSigned, fudge, mac, originalId, error, other };
}

export type Verdict =
  | { ok: true }
  /** The answer carries no TSIG record at all. */
  | { ok: false; why: 'unsigned' }
  /** The server reports a TSIG error (its answer is unsigned then, RFC 8945 §5.2). */
  | { ok: false; why: 'server-error'; error: number }
  /** The answer's MAC, key, algorithm or time does not hold. */
  | { ok: false; why: 'bad-mac' | 'bad-key' | 'bad-time' };

/**
 * Checks the TSIG record that ends `msg` (an answer to a request signed with `requestMac`).
 * `additional` is the parsed additional section; TSIG must be its last record (RFC 8945 §5.1).
 */
export function verify(msg: Buffer, additional: ReadRecord[], key: TsigKey, requestMac: Buffer, now: number): Verdict {
  const last = additional[additional.length - 1];
  if (!last || last.type !== TYPE.TSIG) return { ok: false, why: 'unsigned' };
  let t: TsigRecord;
  try {
    t = readTsig(msg, last);
  } catch {
    return { ok: false, why: 'bad-mac' };
  }
  if (t.error !== 0) return { ok: false, why: 'server-error', error: t.error };
  if (last.name !== key.name.toLowerCase() || t.algorithm !== key.algorithm) return { ok: false, why: 'bad-key' };
  if (t.mac.length !== MAC_BYTES[key.algorithm]) return { ok: false, why: 'bad-mac' };
  // The answer as it was before the server added TSIG: cut there, ARCOUNT one less, original ID.
  const body = Buffer.from(msg.subarray(0, last.start));
  body.writeUInt16BE(t.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const want = hmac(key, [u16(requestMac.length), requestMac, body, variables(key, t.timeSigned, t.fudge, t.error, t.other)]);
  if (!timingSafeEqual(want, t.mac)) return { ok: false, why: 'bad-mac' };
  if (Math.abs(Math.floor(now / 1000) - t.timeSigned) > t.fudge) return { ok: false, why: 'bad-time' };
  return { ok: true };
}

/**
 * Checks a request's own TSIG (what a server does, RFC 8945 §5.2): used by the tests to check
 * this module against messages nsupdate and dig signed.
 */
export function verifyRequest(msg: Buffer, additional: ReadRecord[], key: TsigKey): boolean {
  const last = additional[additional.length - 1];
  if (!last || last.type !== TYPE.TSIG) return false;
  const t = readTsig(msg, last);
  if (last.name !== key.name.toLowerCase() || t.algorithm !== key.algorithm) return false;
  const body = Buffer.from(msg.subarray(0, last.start));
  body.writeUInt16BE(t.originalId, 0);
  body.writeUInt16BE(body.readUInt16BE(10) - 1, 10);
  const want = hmac(key, [body, variables(key, t.timeSigned, t.fudge, t.error, t.other)]);
  return want.length === t.mac.length && timingSafeEqual(want, t.mac);
}
