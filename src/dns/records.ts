import { recordKey, formatRdata, formatRecord, type TlsaRecord } from '../tlsa/types.js';
import { checkName } from './names.js';
import { isStsTxtText, parseStsTxt } from '../mtasts/policy.js';

/**
 * The record kinds TLSA Manager manages, one code path for all of them (providers, ledger,
 * plan, zone editor): TLSA records at `_<port>._tcp.<mx host>`, and the SMTP TLS Reporting
 * policy (RFC 8460) at `_smtp._tls.<mail domain>`, a TXT record beginning `v=TLSRPTv1`, and the
 * MTA-STS announcement (RFC 8461) at `_mta-sts.<mail domain>`, a TXT record beginning `v=STSv1`.
 * Other TXT records are never read as ours, so they are never touched.
 */
export const MANAGED_KINDS = ['TLSA', 'TLSRPT', 'MTASTS'] as const;
export type ManagedKind = (typeof MANAGED_KINDS)[number];

/** A TLSRPT policy record: one TXT string, `v=TLSRPTv1; rua=mailto:…`. */
export interface TlsrptRecord {
  kind: 'TLSRPT';
  /** `_smtp._tls.<domain>`, absolute, no trailing dot. */
  owner: string;
  ttl: number;
  /** The TXT record's character-strings joined (RFC 8460 §3), as written. */
  text: string;
  // Absent TLSA fields, so code reading a record of either kind type-checks (and sees undefined).
  usage?: never;
  selector?: never;
  matchingType?: never;
  data?: never;
}

/** An MTA-STS TXT record (RFC 8461 §3.1): `v=STSv1; id=<id>;` at `_mta-sts.<domain>`. */
export interface MtaStsRecord extends Omit<TlsrptRecord, 'kind'> {
  kind: 'MTASTS';
}

/** The managed kinds published as one TXT string each: one record per name, no rollover. */
export type TxtKind = 'TLSRPT' | 'MTASTS';
export type TxtRecord = TlsrptRecord | MtaStsRecord;

export type ManagedRecord = TlsaRecord | TlsrptRecord | MtaStsRecord;

export function isTlsrpt(r: { kind?: string }): r is TlsrptRecord {
  return r.kind === 'TLSRPT';
}

export function isMtaSts(r: { kind?: string }): r is MtaStsRecord {
  return r.kind === 'MTASTS';
}

/** A managed TXT record of any kind (TLSRPT policy, MTA-STS announcement). */
export function isManagedTxt(r: { kind?: string }): r is TxtRecord {
  return r.kind === 'TLSRPT' || r.kind === 'MTASTS';
}

/** The DNS type a kind is published as. */
export function rrTypeOf(r: { kind?: string }): 'TLSA' | 'TXT' {
  return isManagedTxt(r) ? 'TXT' : 'TLSA';
}

/**
 * The managed TXT kind a TXT record's text is, by its version tag (`v=TLSRPTv1`, `v=STSv1`),
 * or null: every other TXT record is not ours to read. The owner decides nothing here: a
 * `v=STSv1` record is an MTA-STS record wherever it stands, and is ours only if we made it.
 */
export function txtKindOf(text: string): TxtKind | null {
  return isTlsrptText(text) ? 'TLSRPT' : isStsTxtText(text) ? 'MTASTS' : null;
}

/** A managed TXT record from an owner and its joined strings, or null when the text is no managed kind. */
export function managedTxt(owner: string, ttl: number, text: string): TxtRecord | null {
  const kind = txtKindOf(text);
  return kind === null ? null : { kind, owner, ttl, text };
}

/** Stable identity of a managed record's content (owner, type and data; TTL excluded): ledger and plan key. */
export function managedKey(r: ManagedRecord): string {
  return recordKey(r);
}

/** The record's data as an admin reads it in plan output and the activity log. */
export function describeData(r: ManagedRecord): string {
  return isManagedTxt(r) ? `TXT "${r.text}"` : formatRdata(r);
}

/** Zone-file presentation: `_smtp._tls.example.com. 3600 IN TXT "v=TLSRPTv1; …"` or the TLSA line. */
export function formatManaged(r: ManagedRecord): string {
  return isManagedTxt(r) ? `${r.owner}. ${r.ttl} IN TXT ${quoteTxt(r.text)}` : formatRecord(r);
}

// ---- TLSRPT ------------------------------------------------------------------------------

const TLSRPT_PREFIX = '_smtp._tls.';

/** The owner of a mail domain's TLSRPT policy. */
export function tlsrptOwner(domain: string): string {
  return `${TLSRPT_PREFIX}${domain}`;
}

/** The mail domain of a TLSRPT owner, or null when `owner` is not one. */
export function tlsrptDomain(owner: string): string | null {
  return owner.startsWith(TLSRPT_PREFIX) ? owner.slice(TLSRPT_PREFIX.length) : null;
}

/** The kind of record TLSA Manager manages at an owner name (the names cannot overlap). */
export function kindAtOwner(owner: string): ManagedKind {
  return owner.startsWith(TLSRPT_PREFIX) ? 'TLSRPT' : owner.startsWith(MTA_STS_PREFIX) ? 'MTASTS' : 'TLSA';
}

/**
 * Whether TXT text is a TLSRPT policy: RFC 8460 §3 records begin with the version field
 * `v=TLSRPTv1` (senders discard every other TXT record at the name).
 */
export function isTlsrptText(text: string): boolean {
  return /^v=TLSRPTv1(?:[;\s]|$)/.test(text);
}

/** The policy text we publish for a report address. */
export function tlsrptText(address: string): string {
  return `v=TLSRPTv1; rua=mailto:${address}`;
}

/**
 * Why a report address cannot go into the record, or null. The address ends up inside a quoted
 * TXT string, a zone line, an API call and a `mailto:` URI, so the local part is kept to
 * letters, digits and `. _ + -` (no quotes, backslashes, spaces, `;`, `,` or `!`, which would end
 * the string or the field, or add a URI or a size limit) and the domain must be a DNS name.
 */
export function reportAddressFault(address: string): string | null {
  if (typeof address !== 'string') return 'is not a string';
  const at = address.lastIndexOf('@');
  if (at <= 0) return 'must look like user@host.example.com';
  const local = address.slice(0, at);
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,62}[A-Za-z0-9_+-])?$/.test(local) || local.includes('..')) {
    return 'has a local part TLSA Manager does not publish (letters, digits and . _ + - only, at most 64 characters)';
  }
  const domain = checkName(address.slice(at + 1));
  if (!domain.ok || address.slice(at + 1).endsWith('.')) return `has a domain that is not a DNS name${domain.ok ? '' : ` (${domain.reason})`}`;
  if (!domain.name.includes('.')) return 'has a domain without a dot (a host name on the Internet is meant)';
  if (tlsrptText(address).length > 255) return 'makes the record longer than one TXT string (255 characters)';
  return null;
}

/** The report address when the settings name none: tlsrpt@<server hostname> (null: no usable hostname). */
export function defaultReportAddress(hostname: string | null): string | null {
  const address = hostname ? `tlsrpt@${hostname}` : null;
  return address && reportAddressFault(address) === null ? address : null;
}

/** TXT character-strings in presentation form: each quoted, `"` and `\` escaped. */
export function quoteTxt(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * A TLSRPT record to be written, checked field by field (an address from the settings or a
 * record read back that no longer holds). Returns the reason it is malformed, or null.
 */
export function tlsrptRecordFault(r: TlsrptRecord): string | null {
  if (tlsrptDomain(r.owner) === null) return `the owner ${r.owner} is not _smtp._tls.<domain>`;
  if (!isTlsrptText(r.text)) return 'the text does not begin with v=TLSRPTv1';
  // Printable ASCII only: the text must round-trip through zone files, WHM API 1 and Cloudflare unchanged.
  if (!/^[\x20-\x7e]{1,255}$/.test(r.text)) return 'the text is not one string of at most 255 printable ASCII characters';
  if (/["\\]/.test(r.text)) return 'the text holds a quote or a backslash';
  return null;
}

/** A managed TXT record to be written, checked by its kind's rules; the reason it is malformed, or null. */
export function txtRecordFault(r: TxtRecord): string | null {
  return isMtaSts(r) ? mtaStsRecordFault(r) : tlsrptRecordFault(r);
}

// ---- MTA-STS ------------------------------------------------------------------------------

const MTA_STS_PREFIX = '_mta-sts.';

/** The owner of a mail domain's MTA-STS TXT record. */
export function mtaStsOwner(domain: string): string {
  return `${MTA_STS_PREFIX}${domain}`;
}

/** The mail domain of an `_mta-sts` owner, or null when `owner` is not one. */
export function mtaStsDomain(owner: string): string | null {
  return owner.startsWith(MTA_STS_PREFIX) ? owner.slice(MTA_STS_PREFIX.length) : null;
}

/** An MTA-STS record to be written: at `_mta-sts.<domain>`, a valid `v=STSv1; id=…` (RFC 8461 §3.1), printable ASCII. */
export function mtaStsRecordFault(r: MtaStsRecord): string | null {
  if (mtaStsDomain(r.owner) === null) return `the owner ${r.owner} is not _mta-sts.<domain>`;
  if (!/^[\x20-\x7e]{1,255}$/.test(r.text) || /["\\]/.test(r.text)) return 'the text is not one string of at most 255 printable ASCII characters without quotes or backslashes';
  const parsed = parseStsTxt(r.text);
  return 'fault' in parsed ? `the text is not a valid MTA-STS record (${parsed.fault})` : null;
}
