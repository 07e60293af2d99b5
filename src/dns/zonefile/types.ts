/**
 * Where a record's TTL came from, as BIND 9 decides it: an explicit TTL; else the default TTL
 * (`$TTL`, or the SOA minimum when the SOA itself had no TTL and none was known before it); else
 * the previous record's TTL (RFC 1035); the SOA without any of these takes its own minimum.
 */
export type TtlSource = 'explicit' | 'default' | 'previous' | 'soa-minimum';

export interface ZoneRecord {
  /** Absolute, lower-case, no trailing dot. */
  owner: string;
  ttl: number;
  /** Upper-case as written (`MX`, `TLSA`, `TYPE52`). */
  type: string;
  /** Presentation with whitespace collapsed to single spaces, parentheses and comments removed. */
  rdata: string;
  /** Character offsets of the whole entry (whole lines, `end` after the line ending). */
  start: number;
  end: number;
  /** 1-based line where the entry starts. */
  line: number;
  /** Set for records read from an `$INCLUDE` file (offsets and line are in that file). */
  file?: string;
  /** `$ORIGIN` in effect for this record: relative names in `rdata` are relative to it. */
  origin: string;
  /** The entry has no owner of its own (blank owner field): it repeats the previous one. */
  ownerInherited: boolean;
  ttlSource: TtlSource;
}

export interface SoaSerial {
  serial: number;
  /** Offsets of the serial token. */
  start: number;
  end: number;
  /** Set when the SOA sits in an `$INCLUDE` file (the serial cannot then be edited). */
  file?: string;
}

export interface ParsedZone {
  /** The zone apex (absolute, lower-case, no trailing dot). */
  origin: string;
  records: ZoneRecord[];
  soa: SoaSerial | null;
  lineEnding: '\n' | '\r\n';
  /** `$INCLUDE` paths as written, in the order they were read. */
  includes: string[];
}

export interface ParseOptions {
  /** Returns the text of an `$INCLUDE`d file (path as written in the zone). */
  readInclude?: (path: string) => string;
  /** Nesting limit for `$INCLUDE` (default 8); also stops include loops. */
  maxIncludeDepth?: number;
}
