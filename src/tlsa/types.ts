export type Usage = 0 | 1 | 2 | 3;
export type Selector = 0 | 1;
export type MatchingType = 0 | 1 | 2;

/** Hex digits of the data for the digest matching types: SHA-256 (1) and SHA-512 (2). */
export const DIGEST_HEX_LENGTH: Readonly<Record<number, number>> = { 1: 64, 2: 128 };

export interface TlsaParams {
  usage: Usage;
  selector: Selector;
  matchingType: MatchingType;
}

/** TLSA RDATA; `data` is lower-case hex. */
export interface TlsaRdata extends TlsaParams {
  data: string;
}

/** A TLSA record at an owner name (`_25._tcp.mail.example.com`, absolute, no trailing dot). */
export interface TlsaRecord extends TlsaRdata {
  owner: string;
  ttl: number;
}

/** Stable identity of a record's content (owner + rdata), TTL excluded. */
export function recordKey(r: { owner: string } & TlsaRdata): string {
  return `${r.owner} ${r.usage} ${r.selector} ${r.matchingType} ${r.data.toLowerCase()}`;
}

export function formatRdata(r: TlsaRdata): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data}`;
}

/** Zone-file presentation: `_25._tcp.mail.example.com. 3600 IN TLSA 3 1 1 <hex>` */
export function formatRecord(r: TlsaRecord): string {
  return `${r.owner}. ${r.ttl} IN TLSA ${formatRdata(r)}`;
}

/** Parse "3 1 1" (a policy entry) into params. */
export function parseParams(s: string): TlsaParams | null {
  const m = /^\s*([0-3])\s+([01])\s+([0-2])\s*$/.exec(s);
  if (!m) return null;
  return { usage: Number(m[1]) as Usage, selector: Number(m[2]) as Selector, matchingType: Number(m[3]) as MatchingType };
}
