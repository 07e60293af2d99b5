/**
 * Zone files (`/var/named/<zone>.db`): a single-pass parser that keeps every record's exact span,
 * read helpers (MX, CNAME, addresses, TLSA) and byte-preserving TLSA edits with RFC 1982 serials.
 * The implementation lives in ./zonefile/.
 */
export type { ParsedZone, ParseOptions, SoaSerial, TtlSource, ZoneRecord } from './zonefile/types.js';
export { ZoneEditError, ZoneSyntaxError, type ZoneEditCode } from './zonefile/errors.js';
export { parseZone } from './zonefile/parse.js';
export { addressesAt, cnameTarget, mxTargets, recordsAt, tlsaRecordsAt, tlsrptRecordsAt, type ZoneTlsaRecord, type ZoneTlsrptRecord } from './zonefile/query.js';
export { editZone, formatManagedLine, formatTlsaLine, validateTlsa, type ZoneEdit } from './zonefile/edit.js';
export { nextSerial, serialGreater } from './zonefile/serial.js';
export { canonicalType } from './zonefile/rrtypes.js';
