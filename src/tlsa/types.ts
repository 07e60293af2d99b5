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
  /** The managed record kind (src/dns/records.ts); absent means TLSA. */
  kind?: 'TLSA';
  owner: string;
  ttl: number;
}

/**
 * Why TLSA RDATA is malformed (fields outside RFC 6698's ranges, data not an even number of hex
 * digits, a digest of the wrong length, too long for a record), or null when it is well formed.
 * The one rule for the zone editor, the Cloudflare provider and the DANE matcher.
 */
export function tlsaRdataFault(r: TlsaRdata): string | null {
  if (![0, 1, 2, 3].includes(r.usage)) return `usage ${String(r.usage).slice(0, 20)} is not 0-3`;
  if (![0, 1].includes(r.selector)) return `selector ${String(r.selector).slice(0, 20)} is not 0 or 1`;
  if (![0, 1, 2].includes(r.matchingType)) return `matching type ${String(r.matchingType).slice(0, 20)} is not 0-2`;
  if (typeof r.data !== 'string') return 'the data is not a string';
  if (!/^[0-9a-fA-F]+$/.test(r.data) || r.data.length % 2 !== 0) return 'the data is not an even number of hex digits';
  const want = DIGEST_HEX_LENGTH[r.matchingType];
  if (want !== undefined && r.data.length !== want) return `matching type ${r.matchingType} needs ${want} hex digits, got ${r.data.length}`;
  if (r.data.length / 2 > 65532) return 'the data is longer than a record can hold';
  return null;
}

/**
 * Stable identity of a managed record's content, TTL excluded: owner + RDATA for TLSA, owner +
 * joined text for a managed TXT record (TLSRPT, MTA-STS: src/dns/records.ts). The ledger and the planner key by it.
 */
export function recordKey(r: ({ owner: string } & TlsaRdata) | { owner: string; kind: 'TLSRPT' | 'MTASTS'; text: string }): string {
  if ('kind' in r && (r.kind === 'TLSRPT' || r.kind === 'MTASTS')) return `${r.owner} TXT ${r.text}`;
  const t = r as TlsaRdata & { owner: string };
  return `${t.owner} ${t.usage} ${t.selector} ${t.matchingType} ${t.data.toLowerCase()}`;
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
