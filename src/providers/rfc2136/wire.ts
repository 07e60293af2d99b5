/**
 * The few pieces of the DNS wire format (RFC 1035 §4, RFC 2136 §2) the RFC 2136 provider needs:
 * building a QUERY or an UPDATE from raw resource records, and reading an answer back into raw
 * records with their byte offsets (TSIG needs them, tsig.ts). Written here rather than with
 * dns-packet because an UPDATE carries classes dns-packet cannot encode (NONE, ANY: RFC 2136
 * §2.4/§2.5) and because exact deletes need each record's RDATA as the server sent it, bytes,
 * not a decoded and re-encoded value. Answers are hostile input: every read is bounds-checked
 * and a compressed name may only point backwards (no loops).
 */

export const TYPE = { SOA: 6, TXT: 16, TLSA: 52, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
/** RCODEs (RFC 1035, RFC 2136 §2.2), with the TSIG errors of RFC 8945 §5.3 kept apart (tsig.ts). */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10 } as const;

export function rcodeName(rcode: number): string {
  return Object.entries(RCODE).find(([, v]) => v === rcode)?.[0] ?? `RCODE${rcode}`;
}

/** A resource record as bytes: the name in wire form (uncompressed), the RDATA as sent. */
export interface RawRecord {
  /** Absolute name, lower-case, no trailing dot (`_25._tcp.mail.example.com`). */
  name: string;
  type: number;
  klass: number;
  ttl: number;
  rdata: Buffer;
}

/** A record read from a message, with where it sits (TSIG cuts the message at `start`). */
export interface ReadRecord extends RawRecord {
  start: number;
  rdataStart: number;
  end: number;
}

export interface Message {
  id: number;
  /** QR bit: set in answers. */
  response: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rcode: number;
  question: { name: string; type: number; klass: number }[];
  answer: ReadRecord[];
  authority: ReadRecord[];
  additional: ReadRecord[];
}

/** Names this provider writes are host-like ASCII (checked by the caller): letters, digits, `-`, `_`. */
export function encodeName(name: string): Buffer {
  const n = name.replace(/\.$/, '');
  if (n === '') return Buffer.from([0]);
  const parts: Buffer[] = [];
  for (const label of n.split('.')) {
    const b = Buffer.from(label, 'ascii');
    if (b.length < 1 || b.length > 63) throw new Error(`DNS label of ${b.length} bytes in ${JSON.stringify(name)}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > 255) throw new Error('DNS name longer than 255 bytes');
  return out;
}

/** Canonical form (RFC 4034 §6.2) of a name for TSIG: lower-case, uncompressed. */
export function canonicalName(name: string): Buffer {
  return encodeName(name.toLowerCase());
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function encodeRecord(r: RawRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(r.type, 0);
  fixed.writeUInt16BE(r.klass, 2);
  fixed.writeUInt32BE(r.ttl >>> 0, 4);
  fixed.writeUInt16BE(r.rdata.length, 8);
  return Buffer.concat([encodeName(r.name), fixed, r.rdata]);
}

export interface Build {
  id: number;
  opcode: number;
  /** QUERY: the question; UPDATE: the zone section (one SOA-typed entry). */
  question: { name: string; type: number; klass: number }[];
  /** UPDATE: prerequisites (RFC 2136 §2.4). */
  answer?: RawRecord[];
  /** UPDATE: the update section (RFC 2136 §2.5). */
  authority?: RawRecord[];
}

/** A message without the TSIG record (tsig.ts appends it and raises ARCOUNT). */
export function buildMessage(m: Build): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(m.id, 0);
  // QR=0, opcode, RD=0 (an authoritative server is asked, never a resolver).
  head.writeUInt16BE((m.opcode & 0xf) << 11, 2);
  head.writeUInt16BE(m.question.length, 4);
  head.writeUInt16BE(m.answer?.length ?? 0, 6);
  head.writeUInt16BE(m.authority?.length ?? 0, 8);
  head.writeUInt16BE(0, 10);
  const q = m.question.map((x) => Buffer.concat([encodeName(x.name), u16(x.type), u16(x.klass)]));
  return Buffer.concat([head, ...q, ...(m.answer ?? []).map(encodeRecord), ...(m.authority ?? []).map(encodeRecord)]);
}

export class WireError extends Error {}

/**
 * A name at `offset`: its labels (bytes as sent) and the offset after it in the message.
 * Pointers must go backwards, so a hostile answer cannot loop.
 */
export function readName(buf: Buffer, offset: number): { labels: Buffer[]; next: number } {
  const labels: Buffer[] = [];
  let pos = offset;
  let next = -1;
  let limit = offset;
  let total = 1;
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end of the message');
    const len = buf[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('name pointer runs past the end of the message');
      const target = buf.readUInt16BE(pos) & 0x3fff;
      if (next < 0) next = pos + 2;
      if (target >= limit) throw new WireError('name pointer does not point backwards');
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireError('unknown label type');
    if (pos + 1 + len > buf.length) throw new WireError('label runs past the end of the message');
    total += len + 1;
    if (total > 255) throw new WireError('name longer than 255 bytes');
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return { labels, next };
}

/** Labels as a lower-case dotted name; bytes outside printable ASCII are escaped so they cannot pose as dots. */
export function labelsToName(labels: Buffer[]): string {
  return labels
    .map((l) => [...l].map((c) => (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c ? String.fromCharCode(c).toLowerCase() : `\\${String(c).padStart(3, '0')}`)).join(''))
    .join('.');
}

/** The same name in uncompressed wire form (labels as sent, case kept). */
export function labelsToWire(labels: Buffer[]): Buffer {
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
}

function readRecords(buf: Buffer, count: number, pos: { at: number }): ReadRecord[] {
  const out: ReadRecord[] = [];
  for (let i = 0; i < count; i++) {
    const start = pos.at;
    const n = readName(buf, pos.at);
    if (n.next + 10 > buf.length) throw new WireError('record header runs past the end of the message');
    const type = buf.readUInt16BE(n.next);
    const klass = buf.readUInt16BE(n.next + 2);
    const ttl = buf.readUInt32BE(n.next + 4);
    const len = buf.readUInt16BE(n.next + 8);
    const rdataStart = n.next + 10;
    if (rdataStart + len > buf.length) throw new WireError('record data runs past the end of the message');
    out.push({ name: labelsToName(n.labels), type, klass, ttl, rdata: buf.subarray(rdataStart, rdataStart + len), start, rdataStart, end: rdataStart + len });
    pos.at = rdataStart + len;
  }
  return out;
}

/** Reads a whole message; throws WireError on anything malformed. */
export function parseMessage(buf: Buffer): Message {
  if (buf.length < 12) throw new WireError('message shorter than its header');
  const flags = buf.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o));
  const pos = { at: 12 };
  const question: Message['question'] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const n = readName(buf, pos.at);
    if (n.next + 4 > buf.length) throw new WireError('question runs past the end of the message');
    question.push({ name: labelsToName(n.labels), type: buf.readUInt16BE(n.next), klass: buf.readUInt16BE(n.next + 2) });
    pos.at = n.next + 4;
  }
  const answer = readRecords(buf, counts[1]!, pos);
  const authority = readRecords(buf, counts[2]!, pos);
  const additional = readRecords(buf, counts[3]!, pos);
  return {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    question,
    answer,
    authority,
    additional,
  };
}

/**
 * SOA RDATA as the prerequisite must carry it: names uncompressed (an answer may compress them,
 * an UPDATE's RDATA must stand alone), the five numbers as sent.
 */
export function soaRdata(msg: Buffer, r: ReadRecord): { rdata: Buffer; serial: number } {
  const mname = readName(msg, r.rdataStart);
  const rname = readName(msg, mname.next);
  if (rname.next + 20 !== r.end) throw new WireError('SOA record of the wrong length');
  const numbers = msg.subarray(rname.next, r.end);
  return { rdata: Buffer.concat([labelsToWire(mname.labels), labelsToWire(rname.labels), numbers]), serial: numbers.readUInt32BE(0) };
}

/** TXT RDATA (RFC 1035 §3.3.14) as its character-strings. */
export function txtStrings(rdata: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < rdata.length) {
    const len = rdata[i]!;
    if (i + 1 + len > rdata.length) throw new WireError('TXT string runs past its record');
    out.push(rdata.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return out;
}

/** TXT RDATA for one string (a TLSRPT policy is one string of at most 255 characters). */
export function txtRdata(text: string): Buffer {
  const b = Buffer.from(text, 'latin1');
  if (b.length > 255) throw new Error('TXT string longer than 255 bytes');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** TLSA RDATA (RFC 6698 §2.1). */
export function tlsaRdata(r: { usage: number; selector: number; matchingType: number; data: string }): Buffer {
  return Buffer.concat([Buffer.from([r.usage, r.selector, r.matchingType]), Buffer.from(r.data, 'hex')]);
}
