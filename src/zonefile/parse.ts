import { printable } from '../dns/names.js';
import { ZoneSyntaxError } from './errors.js';
import { Lexer, type Entry, type Token } from './lexer.js';
import { absoluteName } from './name.js';
import { checkRdata, type SoaFields } from './rdata.js';
import { compileTemplate, expand, parseRange, rangeCount } from './generate.js';
import { canonicalType, classToken, parseType } from './rrtypes.js';
import { looksLikeTtl, recordTtl } from './ttl.js';
import type { ParsedZone, ParseOptions, SoaSerial, TtlSource, ZoneRecord } from './types.js';

/**
 * What an editor needs besides the ParsedZone: the include texts as read, so an edit can be
 * re-parsed and verified against the same includes. Kept out of the public object on purpose.
 */
export interface ParseMeta {
  includeTexts: Map<string, string>;
  opts: ParseOptions;
}
export const parseMeta = new WeakMap<ParsedZone, ParseMeta>();

/** State shared across the main file and its includes (TTL defaults persist across $INCLUDE in BIND). */
interface Shared {
  zone: string;
  records: ZoneRecord[];
  includes: string[];
  includeTexts: Map<string, string>;
  soa: SoaSerial | null;
  defaultTtl: number | null;
  lastTtl: number | null;
  opts: ParseOptions;
  maxDepth: number;
  opaqueTypes: Set<string>;
  /** Records made by $GENERATE so far, and the most allowed. */
  generated: number;
  maxGenerated: number;
}

/** Per-file state: RFC 1035 restores the origin (and BIND the current owner) after an include. */
interface FileState {
  text: string;
  file: string | undefined;
  origin: string;
  prevOwner: string | null;
  depth: number;
}

export function parseZone(text: string, origin: string, opts: ParseOptions = {}): ParsedZone {
  let zone: string;
  try {
    zone = absoluteName(origin.endsWith('.') ? origin : `${origin}.`, '');
  } catch (err) {
    throw new ZoneSyntaxError(`zone name ${printable(origin)} is invalid: ${(err as Error).message}`, 0);
  }
  const shared: Shared = {
    zone,
    records: [],
    includes: [],
    includeTexts: new Map(),
    soa: null,
    defaultTtl: null,
    lastTtl: null,
    opts,
    maxDepth: opts.maxIncludeDepth ?? 8,
    opaqueTypes: new Set(),
    generated: 0,
    maxGenerated: opts.maxGenerated ?? 100_000,
  };
  parseFile(shared, { text, file: undefined, origin: zone, prevOwner: null, depth: 0 });
  const nl = text.indexOf('\n');
  const parsed: ParsedZone = {
    origin: zone,
    records: shared.records,
    soa: shared.soa,
    lineEnding: nl > 0 && text.charCodeAt(nl - 1) === 13 ? '\r\n' : '\n',
    includes: shared.includes,
    opaqueTypes: [...shared.opaqueTypes].sort(),
  };
  parseMeta.set(parsed, { includeTexts: shared.includeTexts, opts });
  return parsed;
}

function parseFile(shared: Shared, st: FileState): void {
  // `kind` is the problem without any of the file's text (what an $INCLUDE file's errors show).
  const fail: Fail = (message, line, kind = message) => {
    throw new ZoneSyntaxError(message, line, st.file, shared.zone, kind);
  };
  const lexer = new Lexer(st.text, fail);
  const salvage = shared.opts.salvage;
  for (;;) {
    let e: Entry | null;
    try {
      e = lexer.next();
    } catch (err) {
      // Past a lexer error the entry boundaries are unknown: nothing more of this file is read.
      if (!salvage || !(err instanceof ZoneSyntaxError)) throw err;
      salvage(err, null);
      return;
    }
    if (e === null) return;
    try {
      const first = e.tokens[0]!;
      if (!e.initialWs && !first.quoted && first.text.charCodeAt(0) === 36 /* $ */) {
        directive(shared, st, e, fail);
      } else {
        record(shared, st, e, fail);
      }
    } catch (err) {
      if (!salvage || !(err instanceof ZoneSyntaxError)) throw err;
      salvage(err, e);
    }
  }
}

type Fail = (message: string, line: number, kind?: string) => never;

/** A name token; BIND takes a quoted owner name as the name text between the quotes (spaces kept as characters). */
function nameAt(t: Token, origin: string, what: string, line: number, fail: Fail, quotedOk = false): string {
  if (t.quoted && !quotedOk) fail(`${what} cannot be a quoted string (${printable(t.text)})`, line, `${what} is a quoted string`);
  const text = t.quoted ? t.text.slice(1, -1) : t.text;
  if (text === '') fail(`${what} is empty`, line);
  try {
    return absoluteName(text, origin);
  } catch (err) {
    return fail(`${what} ${(err as Error).message}`, line, `${what} is not a valid domain name`);
  }
}

function directive(shared: Shared, st: FileState, e: Entry, fail: Fail): void {
  const name = e.tokens[0]!.text.toUpperCase();
  const args = e.tokens.slice(1);
  // BIND reads these up to a line ending; on an unterminated last line it refuses the zone.
  if ((name === '$ORIGIN' || name === '$TTL' || name === '$GENERATE') && st.text.charCodeAt(e.end - 1) !== 10) {
    fail(`${name} on the last line needs a line ending after it (BIND refuses the zone otherwise)`, e.line);
  }
  switch (name) {
    case '$ORIGIN':
      if (args.length !== 1) fail('$ORIGIN takes exactly one domain name', e.line);
      st.origin = nameAt(args[0]!, st.origin, '$ORIGIN', e.line, fail);
      return;
    case '$TTL':
      if (args.length !== 1 || args[0]!.quoted) fail('$TTL takes exactly one TTL value', e.line);
      shared.defaultTtl = ttlAt(args[0]!.text, e.line, fail, '$TTL');
      return;
    case '$INCLUDE':
      include(shared, st, e, args, fail);
      return;
    case '$GENERATE':
      generate(shared, st, e, args, fail);
      return;
    default:
      return fail(`unknown directive ${printable(e.tokens[0]!.text)}`, e.line, 'unknown directive');
  }
}

function include(shared: Shared, st: FileState, e: Entry, args: Token[], fail: Fail): void {
  if (args.length < 1 || args.length > 2) fail('$INCLUDE takes a file name and an optional origin', e.line);
  const path = unquote(args[0]!);
  const origin = args.length === 2 ? nameAt(args[1]!, st.origin, '$INCLUDE origin', e.line, fail) : st.origin;
  if (!shared.opts.readInclude) fail(`$INCLUDE ${printable(path)} cannot be followed (no include reader given)`, e.line, '$INCLUDE cannot be followed');
  if (st.depth + 1 > shared.maxDepth) fail(`$INCLUDE ${printable(path)} nests deeper than ${shared.maxDepth} levels (an include loop?)`, e.line, `$INCLUDE nests deeper than ${shared.maxDepth} levels (an include loop?)`);
  let text: string;
  try {
    text = shared.opts.readInclude!(path);
  } catch (err) {
    const why = (err as Error).message;
    return fail(`$INCLUDE ${printable(path)} ${why}`, e.line, `$INCLUDE ${why}`);
  }
  shared.includes.push(path);
  shared.includeTexts.set(path, text);
  parseFile(shared, { text, file: path, origin, prevOwner: null, depth: st.depth + 1 });
}

/** A quoted file name loses its quotes and escapes; an unquoted one its escapes. */
function unquote(t: Token): string {
  const s = t.quoted ? t.text.slice(1, -1) : t.text;
  return s.replace(/\\([0-9]{3}|.)/g, (_m, x: string) => (x.length === 3 ? String.fromCharCode(Number(x)) : x));
}

function ttlAt(token: string, line: number, fail: Fail, what = 'TTL'): number {
  try {
    return recordTtl(token);
  } catch (err) {
    return fail((err as Error).message, line, `${what} is not a valid TTL`);
  }
}

/** The owner (explicit, or the previous one for a blank owner field) and the index of the next token. */
function ownerOf(st: FileState, e: Entry, fail: Fail): { owner: string; next: number } {
  if (!e.initialWs) return { owner: nameAt(e.tokens[0]!, st.origin, 'owner name', e.line, fail, true), next: 1 };
  if (st.prevOwner === null) fail('record has no owner name and there is no previous record to take it from', e.line);
  return { owner: st.prevOwner!, next: 0 };
}

/** Up to one TTL and one class, in either order, then the type (as BIND reads them). */
function ttlClassType(tokens: Token[], from: number, line: number, fail: Fail): { ttl: number | null; type: string; opaque: boolean; next: number } {
  let i = from;
  let ttl: number | null = null;
  let seenClass = false;
  for (let k = 0; k < 2; k++) {
    const t = tokens[i];
    if (t === undefined) return fail('record has no type', line);
    if (t.quoted) fail(`expected a TTL, class or type, found ${printable(t.text)}`, line, 'expected a TTL, class or type, found a quoted string');
    const cls = classToken(t.text);
    if (cls !== null && !seenClass) {
      if (cls !== 'IN') fail(`class ${printable(t.text)} does not match the zone's class IN`, line, "the class does not match the zone's class IN");
      seenClass = true;
      i++;
    } else if (looksLikeTtl(t.text) && ttl === null) {
      ttl = ttlAt(t.text, line, fail);
      i++;
    } else {
      break;
    }
  }
  const typeTok = tokens[i];
  if (typeTok === undefined) return fail('record has no type', line);
  if (typeTok.quoted) fail(`expected a record type, found ${printable(typeTok.text)}`, line, 'expected a record type, found a quoted string');
  const parsed = parseType(typeTok.text);
  if ('error' in parsed) return fail(parsed.error, line, 'not a record type');
  return { ttl, type: parsed.type, opaque: parsed.opaque === true, next: i + 1 };
}

/** BIND 9's TTL choice for a record; updates the shared TTL state. */
function resolveTtl(shared: Shared, explicit: number | null, soa: SoaFields | null, line: number, fail: Fail): { ttl: number; source: TtlSource } {
  if (explicit !== null) {
    shared.lastTtl = explicit;
    return { ttl: explicit, source: 'explicit' };
  }
  if (shared.defaultTtl !== null) return { ttl: shared.defaultTtl, source: 'default' };
  if (shared.lastTtl !== null) return { ttl: shared.lastTtl, source: 'previous' };
  if (soa) {
    const ttl = Math.min(soa.minimum, 2147483647);
    // BIND 9 then uses the SOA minimum as the default TTL for the rest of the zone (as $TTL).
    shared.defaultTtl = ttl;
    return { ttl, source: 'soa-minimum' };
  }
  return fail('record has no TTL and no $TTL or earlier TTL applies', line);
}

function record(shared: Shared, st: FileState, e: Entry, fail: Fail): void {
  const { owner, next } = ownerOf(st, e, fail);
  const { ttl: explicitTtl, type, opaque, next: rdataFrom } = ttlClassType(e.tokens, next, e.line, fail);
  const rdataTokens = e.tokens.slice(rdataFrom);
  const soaFields = rdataOf(type, rdataTokens, owner, st.origin, e.line, fail);
  const { ttl, source } = resolveTtl(shared, explicitTtl, soaFields, e.line, fail);

  if (soaFields) {
    if (owner !== shared.zone) fail(`SOA record at ${printable(owner)} is not at the zone apex ${shared.zone}`, e.line, 'SOA record not at the zone apex');
    if (shared.soa) fail('second SOA record in the zone', e.line);
    const serialTok = rdataTokens[soaFields.serialToken]!;
    shared.soa = { serial: soaFields.serial, start: serialTok.pos, end: serialTok.pos + serialTok.text.length };
    if (st.file !== undefined) shared.soa.file = st.file;
  }

  st.prevOwner = owner;
  const rec: ZoneRecord = {
    owner,
    ttl,
    type,
    rdata: joinTokens(rdataTokens),
    start: e.start,
    end: e.end,
    line: e.line,
    origin: st.origin,
    ownerInherited: e.initialWs,
    ttlSource: source,
  };
  if (st.file !== undefined) rec.file = st.file;
  if (opaque) markOpaque(shared, rec);
  shared.records.push(rec);
}

function markOpaque(shared: Shared, rec: ZoneRecord): void {
  rec.opaque = true;
  shared.opaqueTypes.add(rec.type);
}

/** Checks the RDATA of a record; SOA fields for an SOA. */
function rdataOf(type: string, tokens: Token[], owner: string, origin: string, line: number, fail: Fail): SoaFields | null {
  try {
    return checkRdata(canonicalType(type), tokens, origin);
  } catch (err) {
    return fail(`${type} record for ${printable(owner)}: ${(err as Error).message}`, line, 'the record data is not valid for its type');
  }
}

/**
 * `$GENERATE range lhs [ttl] [class] type rhs`, expanded into records the way BIND loads them, so
 * an MX, address or TLSA record it makes is seen like any other. The records point at the
 * directive's line and are never removed or rewritten by an edit. As in BIND, an explicit TTL here
 * becomes the "previous TTL" of later records, and the previous owner is left alone.
 */
function generate(shared: Shared, st: FileState, e: Entry, args: Token[], fail: Fail): void {
  const bad = (why: string): never => fail(`$GENERATE ${why}`, e.line);
  if (args.length < 4) bad('needs a range, an owner template, a type and a data template');
  if (args[0]!.quoted || args[1]!.quoted) bad('range and owner template cannot be quoted');
  let range;
  try {
    range = parseRange(args[0]!.text);
  } catch (err) {
    return bad((err as Error).message);
  }
  const { ttl: explicitTtl, type, opaque, next } = ttlClassType(args, 2, e.line, fail);
  if (next !== args.length - 1) bad('takes exactly one data template after the type (quote it when it has spaces)');
  const rhsTok = args[next]!;
  const count = rangeCount(range);
  if (shared.generated + count > shared.maxGenerated) bad(`would make more than ${shared.maxGenerated} records in this zone, more than TLSA Manager reads`);
  shared.generated += count;
  let lhs;
  let rhs;
  try {
    lhs = compileTemplate(args[1]!.text);
    rhs = compileTemplate(rhsTok.quoted ? rhsTok.text.slice(1, -1) : rhsTok.text);
  } catch (err) {
    return bad((err as Error).message);
  }
  if (canonicalType(type) === 'SOA') bad('cannot make an SOA record');
  const { ttl, source } = resolveTtl(shared, explicitTtl, null, e.line, fail);
  for (let v = range.start; v <= range.stop; v += range.step) {
    let ownerText: string;
    let rdataText: string;
    try {
      ownerText = expand(lhs, v);
      rdataText = expand(rhs, v);
    } catch (err) {
      return bad((err as Error).message);
    }
    const owner = nameAt({ text: ownerText, quoted: false, pos: 0 }, st.origin, '$GENERATE owner', e.line, fail);
    const tokens: Token[] = [];
    const lexer = new Lexer(rdataText, (message) => bad(`data ${message}`));
    for (let d = lexer.next(); d !== null; d = lexer.next()) {
      if (tokens.length > 0) bad('data spans more than one line');
      tokens.push(...d.tokens);
    }
    rdataOf(type, tokens, owner, st.origin, e.line, fail);
    const rec: ZoneRecord = {
      owner,
      ttl,
      type,
      rdata: tokens.length > 0 ? joinTokens(tokens) : '',
      start: e.start,
      end: e.end,
      line: e.line,
      origin: st.origin,
      ownerInherited: false,
      ttlSource: source,
      generated: true,
    };
    if (st.file !== undefined) rec.file = st.file;
    if (opaque) markOpaque(shared, rec);
    shared.records.push(rec);
  }
}

/** Tokens written apart get one space; tokens written touching (`alpn="h2"`) stay touching. */
function joinTokens(tokens: Token[]): string {
  let s = tokens[0]!.text;
  for (let k = 1; k < tokens.length; k++) {
    const prev = tokens[k - 1]!;
    const t = tokens[k]!;
    s += t.pos === prev.pos + prev.text.length ? t.text : ` ${t.text}`;
  }
  return s;
}
