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
  /** Made by a `$GENERATE` line (`start`/`end`/`line` are that line's): never removed by us. */
  generated?: true;
  /** A type mnemonic this parser does not know (kept byte for byte; named-checkzone vouches for it). */
  opaque?: true;
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
  /** Type mnemonics kept opaque (sorted): the zone is only safe to edit if BIND knows them. */
  opaqueTypes: string[];
}

export interface ParseOptions {
  /**
   * Returns the text of an `$INCLUDE`d file (path as written in the zone). Throws an Error whose
   * message is the reason only (`is outside the zone directory …`), never the file's content.
   */
  readInclude?: (path: string) => string;
  /**
   * Read what can be read of a zone we will not edit (to tell which MX hosts it names): each
   * error is passed here with its entry (null: past a lexer error, the rest of that file is
   * skipped) and the entry skipped instead of failing the parse.
   */
  salvage?: (err: import('./errors.js').ZoneSyntaxError, entry: import('./lexer.js').Entry | null) => void;
  /** Most records `$GENERATE` may make in one zone (default 100,000); more is refused. */
  maxGenerated?: number;
  /** Nesting limit for `$INCLUDE` (default 8); also stops include loops. */
  maxIncludeDepth?: number;
}
