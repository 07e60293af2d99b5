import type { MatchingType, Selector, TlsaRdata, Usage } from '../tlsa/types.js';
import { absoluteName } from './name.js';
import { addressField, genericBytes, isGeneric, mxFields, nameField, splitRdata, tlsaFromText, tlsaFromWire, txtStrings, type TlsaFields } from './rdata.js';
import { txtKindOf, type TxtRecord } from '../dns/records.js';
import { canonicalType } from './rrtypes.js';
import type { ParsedZone, ZoneRecord } from './types.js';

/** Names from callers may carry a trailing dot or capitals; records never do. */
function key(name: string): string {
  try {
    return absoluteName(name.endsWith('.') ? name : `${name}.`, '');
  } catch {
    return name.toLowerCase();
  }
}

/** Records at `name` of `type` (mnemonic; `TYPEnnn` spellings of it match too). */
export function recordsAt(zone: ParsedZone, name: string, type: string): ZoneRecord[] {
  const owner = key(name);
  const want = canonicalType(type.toUpperCase());
  return zone.records.filter((r) => r.owner === owner && canonicalType(r.type) === want);
}

/** MX targets of `name`, by preference (stable); hosts absolute, '' for a null MX (RFC 7505). */
export function mxTargets(zone: ParsedZone, name: string): { preference: number; host: string }[] {
  return recordsAt(zone, name, 'MX')
    .map((r) => mxFields(r.rdata, r.origin))
    .sort((a, b) => a.preference - b.preference);
}

/** The CNAME target of `name` (absolute), or null. */
export function cnameTarget(zone: ParsedZone, name: string): string | null {
  const r = recordsAt(zone, name, 'CNAME')[0];
  return r ? nameField(r.rdata, r.origin) : null;
}

/** A and AAAA addresses of `name` in this zone (no CNAME following). */
export function addressesAt(zone: ParsedZone, name: string): string[] {
  return [...recordsAt(zone, name, 'A'), ...recordsAt(zone, name, 'AAAA')].map((r) => addressField(canonicalType(r.type), r.rdata));
}

export type ZoneTlsaRecord = ZoneRecord & TlsaRdata;

export function tlsaFields(r: ZoneRecord): TlsaFields {
  const tokens = splitRdata(r.rdata);
  return isGeneric(tokens) ? tlsaFromWire(genericBytes(tokens)) : tlsaFromText(tokens);
}

/**
 * TLSA records at the given owners, parameters decoded, data lower-case hex. Records whose
 * parameters lie outside RFC 6698/7218's defined values (usage > 3, selector > 1, matching
 * type > 2, e.g. private-use 255) are left out: DANE clients treat them as unusable, and the
 * planner must not touch records it cannot represent.
 */
export function tlsaRecordsAt(zone: ParsedZone, owners: string[]): ZoneTlsaRecord[] {
  const want = new Set(owners.map(key));
  const out: ZoneTlsaRecord[] = [];
  for (const r of zone.records) {
    if (!want.has(r.owner) || canonicalType(r.type) !== 'TLSA') continue;
    const f = tlsaFields(r);
    if (f.usage > 3 || f.selector > 1 || f.matchingType > 2) continue;
    // Built field by field: object spread of records was the hot spot of a whole-server scan.
    const t: ZoneTlsaRecord = {
      owner: r.owner,
      ttl: r.ttl,
      type: r.type,
      rdata: r.rdata,
      start: r.start,
      end: r.end,
      line: r.line,
      origin: r.origin,
      ownerInherited: r.ownerInherited,
      ttlSource: r.ttlSource,
      usage: f.usage as Usage,
      selector: f.selector as Selector,
      matchingType: f.matchingType as MatchingType,
      data: f.data,
    };
    if (r.file !== undefined) t.file = r.file;
    if (r.generated) t.generated = true;
    out.push(t);
  }
  return out;
}

export type ZoneTxtRecord = ZoneRecord & TxtRecord;

/**
 * Managed TXT records at the given owners: TXT records whose joined strings begin `v=TLSRPTv1`
 * (TLSRPT policies, RFC 8460 §3) or `v=STSv1` (MTA-STS, RFC 8461 §3.1). Every other TXT record
 * is left out, so nothing can plan to touch it.
 */
export function managedTxtRecordsAt(zone: ParsedZone, owners: string[]): ZoneTxtRecord[] {
  const want = new Set(owners.map(key));
  const out: ZoneTxtRecord[] = [];
  for (const r of zone.records) {
    if (!want.has(r.owner) || canonicalType(r.type) !== 'TXT') continue;
    const text = txtStrings(r.rdata).join('');
    const kind = txtKindOf(text);
    if (kind) out.push({ ...r, kind, text } as ZoneTxtRecord);
  }
  return out;
}
