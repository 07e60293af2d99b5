/**
 * Zone files (`/var/named/<zone>.db`): a single-pass parser that keeps every record's exact span,
 * read helpers (MX, CNAME, addresses, TLSA) and byte-preserving TLSA edits with RFC 1982 serials.
 * The implementation lives in ./zonefile/.
 */
export type { ParsedZone, ParseOptions, SoaSerial, TtlSource, ZoneRecord } from './types.js';
export { ZoneEditError, ZoneSyntaxError, type ZoneEditCode } from './errors.js';
export { parseZone } from './parse.js';
export { addressesAt, cnameTarget, mxTargets, recordsAt, tlsaRecordsAt, managedTxtRecordsAt, type ZoneTlsaRecord, type ZoneTxtRecord } from './query.js';
export { editZone, formatManagedLine, formatTlsaLine, validateTlsa, type ZoneEdit } from './edit.js';
export { nextSerial, serialGreater } from './serial.js';
export { canonicalType } from './rrtypes.js';
