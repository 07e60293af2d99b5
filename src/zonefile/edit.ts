import { checkName, isSubdomainOf, printable } from '../dns/names.js';
import { tlsaRdataFault, type TlsaRecord } from '../tlsa/types.js';
import { isManagedTxt, quoteTxt, txtKindOf, txtRecordFault, type ManagedRecord, type TxtRecord } from '../dns/records.js';
import { txtStrings } from './rdata.js';
import { ZoneEditError, ZoneSyntaxError } from './errors.js';
import { parseMeta, parseZone } from './parse.js';
import { canonicalType } from './rrtypes.js';
import { isSerial, serialGreater } from './serial.js';
import { MAX_TTL } from './ttl.js';
import type { ParsedZone, ParseOptions, ZoneRecord } from './types.js';

/**
 * Byte-preserving edits of the managed records (TLSA, and TLSRPT policies as TXT): only the removed entries' lines, the SOA serial token and the
 * appended lines change. Every output is re-parsed and compared with the intended record set
 * before it is returned, so a surprise (inherited owners or TTLs, a stale parse) is an error,
 * never a wrong zone.
 */

function invalid(message: string, subject?: string): never {
  throw new ZoneEditError('tlsa-record-invalid', message, 'This is a bug in the caller: the record was not written. Report it with the message.', subject);
}

function refuse(message: string, fix: string, subject?: string): never {
  throw new ZoneEditError('zone-edit-refused', message, fix, subject);
}

/**
 * What differs between the managed kinds when a record is checked before any text exists: the
 * name in messages, the problem code, the kind's own fault (owner already normalised) and the
 * record rebuilt from its checked fields only. Owner and TTL are checked alike for every kind.
 */
interface KindRules<R> {
  label: string;
  code: 'tlsa-record-invalid' | 'tlsrpt-record-invalid' | 'mta-sts-record-invalid';
  fault(r: R, owner: string): string | null;
  clean(r: R, owner: string): R;
}

const TLSA_RULES: KindRules<TlsaRecord> = {
  label: 'TLSA',
  code: 'tlsa-record-invalid',
  fault: (r) => tlsaRdataFault(r),
  clean: (r, owner) => ({ owner, ttl: r.ttl, usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data.toLowerCase() }),
};

/** A managed TXT kind (TLSRPT policy, MTA-STS record): one quoted string, checked by its kind's rules. */
const txtFault = (r: TxtRecord, owner: string) => (typeof r.text !== 'string' ? 'the text is not a string' : txtRecordFault({ ...r, owner }));
const TXT_RULES: Record<TxtRecord['kind'], KindRules<TxtRecord>> = {
  TLSRPT: { label: 'TLSRPT', code: 'tlsrpt-record-invalid', fault: txtFault, clean: (r, owner) => ({ kind: 'TLSRPT', owner, ttl: r.ttl, text: r.text }) },
  MTASTS: { label: 'MTASTS', code: 'mta-sts-record-invalid', fault: txtFault, clean: (r, owner) => ({ kind: 'MTASTS', owner, ttl: r.ttl, text: r.text }) },
};

function validateKind<R extends ManagedRecord>(rules: KindRules<R>, r: R): R {
  function fail(message: string, subject?: string): never {
    throw new ZoneEditError(rules.code, message, 'This is a bug in the caller: the record was not written. Report it with the message.', subject);
  }
  if (typeof r !== 'object' || r === null) fail(`${rules.label} record is not an object.`);
  const owner = checkName(r.owner, { allowUnderscore: true });
  if (!owner.ok) fail(`${rules.label} owner "${printable(String(r.owner))}" is not a valid name: ${owner.reason}.`, printable(String(r.owner)));
  const who = owner.name;
  if (!Number.isInteger(r.ttl) || r.ttl < 0 || r.ttl > MAX_TTL) fail(`${rules.label} record ${who}: TTL ${printable(String(r.ttl))} is not an integer 0-${MAX_TTL}.`, who);
  const fault = rules.fault(r, who);
  if (fault) fail(`${rules.label} record ${who}: ${printable(fault)}.`, who);
  return rules.clean(r, who);
}

/** A TLSA record checked field by field; throws before any text exists. */
export function validateTlsa(r: TlsaRecord): TlsaRecord {
  return validateKind(TLSA_RULES, r);
}

function validateManaged(r: ManagedRecord): ManagedRecord {
  return isManagedTxt(r) ? validateKind(TXT_RULES[r.kind], r) : validateKind(TLSA_RULES, r);
}

/** The owner as written in a zone line: relative inside `origin` (`@` at the apex), else absolute with a dot. */
function ownerField(name: string, origin: string): string {
  let base = '';
  if (origin !== '' && origin !== '.') {
    const o = checkName(origin, { allowUnderscore: true });
    if (!o.ok) invalid(`Origin "${printable(origin)}" is not a valid name: ${o.reason}.`);
    base = o.name;
  }
  if (base !== '' && name === base) return '@';
  if (base !== '' && name.endsWith(`.${base}`)) return name.slice(0, -(base.length + 1));
  return `${name}.`;
}

/** One zone-file line for any managed record (TLSA, or a managed TXT kind as one quoted TXT string). */
export function formatManagedLine(r: ManagedRecord, origin: string): string {
  if (!isManagedTxt(r)) return formatTlsaLine(r, origin);
  const v = validateKind(TXT_RULES[r.kind], r);
  return `${ownerField(v.owner, origin)}\t${v.ttl}\tIN\tTXT\t${quoteTxt(v.text)}`;
}

/**
 * One zone-file line (no line ending), tab-separated like cPanel's files. The owner is relative
 * when inside `origin` (`@` at the apex), absolute with a trailing dot otherwise or when `origin`
 * is '' (the root).
 */
export function formatTlsaLine(r: TlsaRecord, origin: string): string {
  const v = validateTlsa(r);
  return `${ownerField(v.owner, origin)}\t${v.ttl}\tIN\tTLSA\t${v.usage} ${v.selector} ${v.matchingType} ${v.data}`;
}

export interface ZoneEdit {
  /** Managed records only: TLSA, or TXT holding a TLSRPT policy (anything else is refused). */
  remove: ZoneRecord[];
  add: ManagedRecord[];
  serial: number;
}

export function editZone(text: string, parsed: ParsedZone, edit: ZoneEdit): string {
  const zone = parsed.origin;
  assertSameParse(text, parsed);
  const soa = parsed.soa;
  if (!soa) refuse(`Zone ${zone} has no SOA record, so its serial cannot be raised.`, 'Add an SOA record to the zone file.', zone);
  if (soa!.file !== undefined) refuse(`Zone ${zone}: the SOA record is in $INCLUDE file ${printable(soa!.file!)}, which TLSA Manager does not edit.`, 'Move the SOA record into the zone file itself.', zone);

  // A TXT record set has one TTL when BIND loads it: a policy joins TXT records already at its
  // owner with their TTL, so theirs never changes with ours (on adding or, later, removing).
  const adds = edit.add.map((r) => validateManaged(r)).map((a) => (isManagedTxt(a) ? { ...a, ttl: txtTtlAt(parsed, a.owner) ?? a.ttl } : a));
  for (const a of adds) {
    if (!isSubdomainOf(a.owner, zone)) refuse(`${isManagedTxt(a) ? a.kind : 'TLSA'} owner ${a.owner} is not inside zone ${zone}.`, 'Publish it in the zone that contains that name.', a.owner);
  }
  const removed = resolveRemovals(parsed, edit.remove);
  checkSerial(zone, soa!.serial, edit.serial, removed.size + adds.length > 0);
  checkInheritance(parsed, removed);
  checkMixedTtls(parsed, removed, adds);
  checkDuplicates(parsed, removed, adds);

  const out = splice(text, parsed, removed, soa!, edit.serial);
  const result = append(out, parsed.lineEnding, adds);
  verify(result, parsed, removed, adds, edit.serial);
  return result;
}

/** Parse `text` again with the includes as first read (none when `parsed` is not ours). */
function reparse(text: string, parsed: ParsedZone): ParsedZone {
  const meta = parseMeta.get(parsed);
  const opts: ParseOptions = { readInclude: (p) => {
    const t = meta?.includeTexts.get(p);
    if (t === undefined) throw new Error('not read during the first parse');
    return t;
  } };
  if (meta?.opts.maxIncludeDepth !== undefined) opts.maxIncludeDepth = meta.opts.maxIncludeDepth;
  return parseZone(text, parsed.origin, opts);
}

function sameRecord(a: ZoneRecord, b: ZoneRecord): boolean {
  return a.start === b.start && a.end === b.end && a.line === b.line && a.file === b.file && a.owner === b.owner && a.ttl === b.ttl && a.type === b.type && a.rdata === b.rdata;
}

/**
 * The edit is planned on `parsed`; `text` is what will be rewritten. They must describe the same
 * bytes, or offsets would cut the wrong lines (the file changed in between, or a caller mixed
 * zones up). Costs one parse, which is nothing next to named-checkzone and a reload.
 */
function assertSameParse(text: string, parsed: ParsedZone): void {
  const stale = (why: string): never =>
    refuse(`Zone ${parsed.origin}: the text to edit is not the text that was parsed (${why}).`, 'Re-read and re-parse the zone file, then plan the edit again.', parsed.origin);
  let fresh: ParsedZone;
  try {
    fresh = reparse(text, parsed);
  } catch (err) {
    return stale(err instanceof ZoneSyntaxError ? `line ${err.line}: ${err.reason}` : (err as Error).message);
  }
  if (fresh.records.length !== parsed.records.length) stale('a different number of records');
  for (let i = 0; i < fresh.records.length; i++) {
    if (!sameRecord(fresh.records[i]!, parsed.records[i]!)) stale(`record at line ${fresh.records[i]!.line} differs`);
  }
  const a = fresh.soa;
  const b = parsed.soa;
  if (a?.serial !== b?.serial || a?.start !== b?.start || a?.end !== b?.end || a?.file !== b?.file) stale('the SOA serial differs');
}

/** Indices of the records to remove, each one proven to be a TLSA entry of the main file. */
function resolveRemovals(parsed: ParsedZone, remove: ZoneRecord[]): Set<number> {
  const byStart = new Map<number, number>();
  parsed.records.forEach((r, i) => {
    if (r.file === undefined && !r.generated) byStart.set(r.start, i);
  });
  const out = new Set<number>();
  for (const r of remove) {
    if (r.generated) {
      refuse(`TLSA record ${r.owner} is made by the $GENERATE line ${r.line}${r.file !== undefined ? ` of ${printable(r.file)}` : ''}, which TLSA Manager does not edit.`, 'Change the $GENERATE line by hand if that record must go.', r.owner);
    }
    if (r.file !== undefined) {
      refuse(`TLSA record ${r.owner} (line ${r.line}) is in $INCLUDE file ${printable(r.file)}, which TLSA Manager does not edit.`, `Remove it from ${printable(r.file)} by hand, or move the TLSA records into the zone file itself.`, r.owner);
    }
    const i = byStart.get(r.start);
    const found = i === undefined ? undefined : parsed.records[i];
    if (i === undefined || !found || found.end !== r.end || found.line !== r.line || found.owner !== r.owner || found.rdata !== r.rdata) {
      refuse(`Record ${printable(r.owner)} (line ${r.line}) is not in the parsed zone ${parsed.origin}.`, 'Re-read and re-parse the zone file, then plan the edit again.', r.owner);
    }
    if (!isManagedLine(found!)) refuse(`Record ${found!.owner} at line ${found!.line} is ${found!.type}, not TLSA (nor a managed TXT record): only those are removed.`, 'This is a bug in the caller; nothing was changed.', found!.owner);
    out.add(i!);
  }
  return out;
}

function checkSerial(zone: string, current: number, next: number, changes: boolean): void {
  if (!isSerial(next)) invalid(`Zone ${zone}: serial ${printable(String(next))} is not an integer 0-4294967295.`, zone);
  if (next === current && !changes) return;
  if (!serialGreater(next, current)) {
    refuse(`Zone ${zone}: new serial ${next} is not greater than ${current} (RFC 1982), so secondaries and inline signing would ignore the change.`, 'Use nextSerial() on the current serial.', zone);
  }
}

/**
 * A kept record that repeats the previous owner or TTL must still find the same value after the
 * removals; otherwise cutting a line would silently move or re-time another record.
 */
function checkInheritance(parsed: ParsedZone, removed: Set<number>): void {
  if (removed.size === 0) return;
  let lastOwner: string | null = null;
  let lastTtl: number | null = null;
  const ownerByFile = new Map<string | undefined, string | null>();
  parsed.records.forEach((r, i) => {
    if (removed.has(i)) return;
    const prevOwner = r.file === undefined ? lastOwner : (ownerByFile.get(r.file) ?? null);
    if (r.ownerInherited && prevOwner !== r.owner) {
      refuse(`Removing the record before line ${r.line} would change the owner of the ${r.type} record there, which has no owner name of its own.`, `Give the record at line ${r.line} an explicit owner name (${r.owner}.), then try again.`, r.owner);
    }
    if (r.ttlSource === 'previous' && lastTtl !== r.ttl) {
      refuse(`Removing the record before line ${r.line} would change the TTL of the ${r.type} record there, which takes its TTL from the record above.`, `Add a $TTL line at the top of the zone file, or give the record at line ${r.line} an explicit TTL.`, r.owner);
    }
    // $GENERATE leaves the previous owner alone (BIND), so its records do not count here.
    if (!r.generated && r.file === undefined) lastOwner = r.owner;
    else if (!r.generated) ownerByFile.set(r.file!, r.owner);
    lastTtl = r.ttl;
  });
}

/**
 * A set of records (owner and type) written with different TTLs gets one TTL when BIND loads it,
 * and which one depends on how the loader happens to batch the file (the property test found a
 * removal two lines away flip it). Lines after the set's last record cannot change that, so only
 * removals before it are refused.
 */
function checkMixedTtls(parsed: ParsedZone, removed: Set<number>, adds: ManagedRecord[]): void {
  if (removed.size === 0) return;
  const firstRemoved = Math.min(...removed);
  const edited = new Set<string>([...removed].map((i) => parsed.records[i]!.owner));
  for (const a of adds) edited.add(a.owner);
  const first = new Map<string, ZoneRecord>();
  let conflict: { a: ZoneRecord; b: ZoneRecord; type: string } | null = null;
  for (let i = 0; i < parsed.records.length && !conflict; i++) {
    const r = parsed.records[i]!;
    const type = canonicalType(r.type);
    if ((type === 'TLSA' || type === 'TXT') && edited.has(r.owner)) continue;
    const k = `${r.owner} ${type}`;
    const f = first.get(k);
    if (!f) first.set(k, r);
    else if (f.ttl !== r.ttl && i > firstRemoved) conflict = { a: f, b: r, type };
  }
  if (conflict) {
    const { a, b, type } = conflict;
    refuse(`Zone ${parsed.origin}: the ${type} records of ${b.owner} have different TTLs (${a.ttl} at line ${a.line}, ${b.ttl} at line ${b.line}); BIND gives them one TTL depending on how it reads the file, so removing lines before them could change it.`, `Give the ${type} records of ${b.owner} one TTL (named-checkzone warns "TTL set to prior TTL"), then try again.`, b.owner);
  }
}

/** The TTL of the first TXT record at `owner`, if any. */
function txtTtlAt(parsed: ParsedZone, owner: string): number | undefined {
  return parsed.records.find((r) => r.owner === owner && canonicalType(r.type) === 'TXT')?.ttl;
}

/** A TLSA record, or a TXT record whose strings make a managed TXT kind: the lines we may remove. */
function isManagedLine(r: ZoneRecord): boolean {
  const type = canonicalType(r.type);
  if (type === 'TLSA') return true;
  if (type !== 'TXT') return false;
  try {
    return txtKindOf(txtStrings(r.rdata).join('')) !== null;
  } catch {
    return false;
  }
}

/** The record's type and RDATA as its zone line writes them (the parser's collapsed form). */
function typeAndRdata(r: ManagedRecord): { type: string; rdata: string } {
  return isManagedTxt(r) ? { type: 'TXT', rdata: quoteTxt(r.text) } : { type: 'TLSA', rdata: `${r.usage} ${r.selector} ${r.matchingType} ${r.data}` };
}

/** Identity of a record's content for duplicate checks: TLSA by its RDATA, TXT by its joined strings. */
function contentKey(owner: string, type: string, rdata: string): string {
  return type === 'TXT' ? `${owner} TXT ${txtStrings(rdata).join('')}` : `${owner} ${type} ${rdata.toLowerCase()}`;
}

function checkDuplicates(parsed: ParsedZone, removed: Set<number>, adds: ManagedRecord[]): void {
  const present = new Set<string>();
  parsed.records.forEach((r, i) => {
    const type = canonicalType(r.type);
    if (removed.has(i) || (type !== 'TLSA' && type !== 'TXT')) return;
    try {
      present.add(contentKey(r.owner, type, r.rdata));
    } catch {
      /* a TXT record in the generic form that does not decode: not one we could duplicate */
    }
  });
  for (const a of adds) {
    const { type, rdata } = typeAndRdata(a);
    const k = contentKey(a.owner, type, rdata);
    if (present.has(k)) refuse(`${type} record ${a.owner} ${rdata} is already in zone ${parsed.origin}.`, 'This is a bug in the caller (the plan adds a record that exists); nothing was changed.', a.owner);
    present.add(k);
  }
}

/** Cut removed entries and replace the serial token, in one left-to-right pass. */
function splice(text: string, parsed: ParsedZone, removed: Set<number>, soa: { start: number; end: number }, serial: number): string {
  const cuts: { start: number; end: number; insert: string }[] = [{ start: soa.start, end: soa.end, insert: String(serial) }];
  for (const i of removed) cuts.push({ start: parsed.records[i]!.start, end: parsed.records[i]!.end, insert: '' });
  cuts.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const c of cuts) {
    out += text.slice(at, c.start) + c.insert;
    at = c.end;
  }
  return out + text.slice(at);
}

function append(text: string, eol: string, adds: ManagedRecord[]): string {
  if (adds.length === 0) return text;
  let out = text;
  if (out.length > 0 && !out.endsWith('\n')) out += eol;
  for (const a of adds) out += formatManagedLine(a, '') + eol;
  return out;
}

/** Identity for the verification multiset; the SOA serial is compared separately. */
function recordKey(r: { file?: string | undefined; owner: string; ttl: number; type: string; rdata: string }): string {
  const type = canonicalType(r.type);
  let rdata = r.rdata.toLowerCase();
  if (type === 'SOA') rdata = rdata.split(' ').map((f, i) => (i === 2 ? '*' : f)).join(' ');
  return `${r.file ?? ''}|${r.owner}|${r.ttl}|${type}|${rdata}`;
}

/** Re-parse the result and demand exactly: old records − removed + added, and the new serial. */
function verify(result: string, parsed: ParsedZone, removed: Set<number>, adds: ManagedRecord[], serial: number): void {
  let again: ParsedZone;
  try {
    again = reparse(result, parsed);
  } catch (err) {
    const why = err instanceof ZoneSyntaxError ? `line ${err.line}: ${err.reason}` : (err as Error).message;
    return refuse(`Zone ${parsed.origin}: the edited zone would not parse (${why}).`, 'Nothing was written. Report this with the zone file.', parsed.origin);
  }
  const want = new Map<string, number>();
  const bump = (k: string, d: number) => want.set(k, (want.get(k) ?? 0) + d);
  parsed.records.forEach((r, i) => {
    if (!removed.has(i)) bump(recordKey(r), 1);
  });
  for (const a of adds) bump(recordKey({ owner: a.owner, ttl: a.ttl, ...typeAndRdata(a) }), 1);
  for (const r of again.records) bump(recordKey(r), -1);
  const off = [...want].find(([, n]) => n !== 0);
  if (off || again.soa?.serial !== serial) {
    refuse(`Zone ${parsed.origin}: the edited zone does not hold exactly the intended records${off ? ` (${printable(off[0], 120)})` : ''}.`, 'Nothing was written. Report this with the zone file.', parsed.origin);
  }
}
