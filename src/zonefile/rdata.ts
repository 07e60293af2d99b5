import { isIPv6 } from 'node:net';
import type { Token } from './lexer.js';
import { absoluteName, nameFromWire } from './name.js';
import { parseTtl } from './ttl.js';

/**
 * RDATA checks for the types this project reads (SOA, MX, CNAME/NS/PTR/DNAME, A, AAAA, TLSA) plus
 * the RFC 3597 generic form for any type. Other types are kept as written: named-checkzone
 * validates them before any edited file is loaded.
 */

const HEX = /^[0-9a-fA-F]*$/;

export interface SoaFields {
  serial: number;
  /** Index of the serial token among the RDATA tokens. */
  serialToken: number;
  minimum: number;
}

export function isGeneric(tokens: Token[]): boolean {
  return tokens.length > 0 && !tokens[0]!.quoted && tokens[0]!.text === '\\#';
}

/** RFC 3597 `\# <length> <hex…>` → bytes, checking the length. */
export function genericBytes(tokens: Token[]): Uint8Array {
  const lenTok = tokens[1];
  if (!lenTok || lenTok.quoted || !/^[0-9]{1,5}$/.test(lenTok.text) || Number(lenTok.text) > 65535) {
    throw new Error('"\\#" must be followed by the RDATA length in octets');
  }
  const len = Number(lenTok.text);
  const hex = joinHex(tokens.slice(2), len === 0);
  if (hex.length !== len * 2) throw new Error(`"\\#" says ${len} octets but ${hex.length / 2} are given`);
  return Buffer.from(hex, 'hex');
}

function joinHex(tokens: Token[], allowEmpty: boolean): string {
  let hex = '';
  for (const t of tokens) {
    if (t.quoted || !HEX.test(t.text)) throw new Error(`"${t.text}" is not hexadecimal`);
    hex += t.text;
  }
  if (!allowEmpty && hex.length === 0) throw new Error('hexadecimal data is missing');
  if (hex.length % 2 !== 0) throw new Error('hexadecimal data has an odd number of digits');
  return hex.toLowerCase();
}

function u8(t: Token | undefined, what: string): number {
  if (!t || t.quoted || !/^[0-9]{1,3}$/.test(t.text) || Number(t.text) > 255) throw new Error(`${what} must be a number 0-255`);
  return Number(t.text);
}

function exactly(tokens: Token[], n: number, what: string): void {
  if (tokens.length !== n) throw new Error(`${what} needs ${n} field${n === 1 ? '' : 's'}, found ${tokens.length}`);
}

function name(t: Token, origin: string): string {
  if (t.quoted) throw new Error(`a domain name cannot be quoted (${t.text})`);
  return absoluteName(t.text, origin);
}

/** Strict dotted quad (no leading zeros, as inet_pton), one pass. */
function ipv4(s: string): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || value > 255) return false;
      parts++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** Checks RDATA of `type` (canonical mnemonic); returns SOA fields for SOA, else null. Throws with the reason. */
export function checkRdata(type: string, tokens: Token[], origin: string): SoaFields | null {
  if (tokens.length === 0) throw new Error(`${type} record has no data`);
  if (isGeneric(tokens)) {
    if (type === 'SOA') throw new Error('SOA in the generic "\\#" form is not supported');
    checkWire(type, genericBytes(tokens));
    return null;
  }
  switch (type) {
    case 'SOA':
      return soa(tokens, origin);
    case 'MX':
      exactly(tokens, 2, 'MX');
      mxPreference(tokens[0]!);
      name(tokens[1]!, origin);
      return null;
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME':
      exactly(tokens, 1, type);
      name(tokens[0]!, origin);
      return null;
    case 'A':
      exactly(tokens, 1, 'A');
      if (tokens[0]!.quoted || !ipv4(tokens[0]!.text)) throw new Error(`"${tokens[0]!.text}" is not an IPv4 address`);
      return null;
    case 'AAAA':
      exactly(tokens, 1, 'AAAA');
      if (tokens[0]!.quoted || tokens[0]!.text.includes('%') || !isIPv6(tokens[0]!.text)) throw new Error(`"${tokens[0]!.text}" is not an IPv6 address`);
      return null;
    case 'TLSA':
    case 'SMIMEA':
      tlsaFromText(tokens);
      return null;
    default:
      return null;
  }
}

function mxPreference(t: Token): number {
  if (t.quoted || !/^[0-9]{1,5}$/.test(t.text) || Number(t.text) > 65535) throw new Error(`MX preference "${t.text}" must be a number 0-65535`);
  return Number(t.text);
}

function soa(tokens: Token[], origin: string): SoaFields {
  exactly(tokens, 7, 'SOA');
  name(tokens[0]!, origin);
  name(tokens[1]!, origin);
  const s = tokens[2]!;
  if (s.quoted || !/^[0-9]{1,10}$/.test(s.text) || Number(s.text) > 4294967295) throw new Error(`SOA serial "${s.text}" must be a number 0-4294967295`);
  for (const t of tokens.slice(3)) {
    if (t.quoted) throw new Error(`SOA timer ${t.text} cannot be quoted`);
    parseTtl(t.text, 4294967295);
  }
  return { serial: Number(s.text), serialToken: 2, minimum: parseTtl(tokens[6]!.text, 4294967295) };
}

export interface TlsaFields {
  usage: number;
  selector: number;
  matchingType: number;
  data: string;
}

export function tlsaFromText(tokens: Token[]): TlsaFields {
  if (tokens.length < 4) throw new Error('TLSA needs usage, selector, matching type and data');
  return {
    usage: u8(tokens[0], 'TLSA usage'),
    selector: u8(tokens[1], 'TLSA selector'),
    matchingType: u8(tokens[2], 'TLSA matching type'),
    data: joinHex(tokens.slice(3), false),
  };
}

export function tlsaFromWire(b: Uint8Array): TlsaFields {
  if (b.length < 4) throw new Error('TLSA RDATA is shorter than 4 octets');
  return { usage: b[0]!, selector: b[1]!, matchingType: b[2]!, data: Buffer.from(b.subarray(3)).toString('hex') };
}

export function mxFromWire(b: Uint8Array): { preference: number; host: string } {
  if (b.length < 3) throw new Error('MX RDATA is too short');
  const { name: host, next } = nameFromWire(b, 2);
  if (next !== b.length) throw new Error('MX RDATA has trailing octets');
  return { preference: (b[0]! << 8) | b[1]!, host };
}

function checkWire(type: string, b: Uint8Array): void {
  switch (type) {
    case 'A':
      if (b.length !== 4) throw new Error('A RDATA must be 4 octets');
      return;
    case 'AAAA':
      if (b.length !== 16) throw new Error('AAAA RDATA must be 16 octets');
      return;
    case 'MX':
      mxFromWire(b);
      return;
    case 'CNAME':
    case 'NS':
    case 'PTR':
    case 'DNAME': {
      if (nameFromWire(b, 0).next !== b.length) throw new Error(`${type} RDATA has trailing octets`);
      return;
    }
    case 'TLSA':
    case 'SMIMEA':
      tlsaFromWire(b);
      return;
    default:
      return;
  }
}

/** Parse the collapsed `rdata` string of a record back into tokens (safe for the types above: no quotes). */
export function splitRdata(rdata: string): Token[] {
  return rdata.split(' ').map((text) => ({ text, quoted: false, pos: 0 }));
}

/** `preference host` of an MX record (host absolute, '' for the null MX). */
export function mxFields(rdata: string, origin: string): { preference: number; host: string } {
  const tokens = splitRdata(rdata);
  if (isGeneric(tokens)) return mxFromWire(genericBytes(tokens));
  return { preference: mxPreference(tokens[0]!), host: absoluteName(tokens[1]!.text, origin) };
}

/** The target of a single-name record (CNAME, NS, …), absolute. */
export function nameField(rdata: string, origin: string): string {
  const tokens = splitRdata(rdata);
  if (isGeneric(tokens)) return nameFromWire(genericBytes(tokens), 0).name;
  return absoluteName(tokens[0]!.text, origin);
}

/** The address of an A/AAAA record; IPv6 in RFC 5952 form so it compares with other sources. */
export function addressField(type: string, rdata: string): string {
  const tokens = splitRdata(rdata);
  if (!isGeneric(tokens)) return type === 'AAAA' ? canonicalIPv6(tokens[0]!.text) : tokens[0]!.text;
  const b = genericBytes(tokens);
  if (type === 'A') return Array.from(b).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return canonicalIPv6(groups.join(':'));
}

/** WHATWG URL parsing implements RFC 5952 serialisation (lower-case, longest zero run compressed). */
function canonicalIPv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

/**
 * The character-strings of a TXT record's collapsed `rdata` (quoted or not, `\X` and `\DDD`
 * escapes resolved; or the RFC 3597 generic form), each as one byte per character (latin1).
 */
export function txtStrings(rdata: string): string[] {
  if (rdata.startsWith('\\# ')) {
    const b = genericBytes(splitRdata(rdata));
    const out: string[] = [];
    for (let i = 0; i < b.length; ) {
      const len = b[i]!;
      if (i + 1 + len > b.length) throw new Error('TXT RDATA has a string longer than the data');
      out.push(Buffer.from(b.subarray(i + 1, i + 1 + len)).toString('latin1'));
      i += 1 + len;
    }
    return out;
  }
  const out: string[] = [];
  let i = 0;
  while (i < rdata.length) {
    if (rdata[i] === ' ') {
      i++;
      continue;
    }
    const quoted = rdata[i] === '"';
    if (quoted) i++;
    const bytes: number[] = [];
    while (i < rdata.length && (quoted ? rdata[i] !== '"' : rdata[i] !== ' ')) {
      if (rdata[i] === '\\' && i + 1 < rdata.length) {
        const ddd = /^[0-9]{3}/.exec(rdata.slice(i + 1, i + 4));
        if (ddd) {
          bytes.push(Number(ddd[0]) & 0xff);
          i += 4;
        } else {
          bytes.push(rdata.charCodeAt(i + 1) & 0xff);
          i += 2;
        }
        continue;
      }
      bytes.push(rdata.charCodeAt(i) & 0xff);
      i++;
    }
    if (quoted) i++;
    out.push(Buffer.from(bytes).toString('latin1'));
  }
  return out;
}
