/**
 * Record type mnemonics this parser knows by number. BIND learns new ones (BRID, HHIT, …) faster
 * than this list: a mnemonic-shaped token outside it is kept as an opaque type (see parseType) and
 * the zone is accepted when the installed named-checkzone accepts it.
 */
const NUMBERS: Record<string, number> = {
  A: 1, NS: 2, MD: 3, MF: 4, CNAME: 5, SOA: 6, MB: 7, MG: 8, MR: 9, NULL: 10, WKS: 11, PTR: 12,
  HINFO: 13, MINFO: 14, MX: 15, TXT: 16, RP: 17, AFSDB: 18, X25: 19, ISDN: 20, RT: 21, NSAP: 22,
  'NSAP-PTR': 23, SIG: 24, KEY: 25, PX: 26, GPOS: 27, AAAA: 28, LOC: 29, NXT: 30, EID: 31,
  NIMLOC: 32, SRV: 33, ATMA: 34, NAPTR: 35, KX: 36, CERT: 37, A6: 38, DNAME: 39, SINK: 40, APL: 42,
  DS: 43, SSHFP: 44, IPSECKEY: 45, RRSIG: 46, NSEC: 47, DNSKEY: 48, DHCID: 49, NSEC3: 50,
  NSEC3PARAM: 51, TLSA: 52, SMIMEA: 53, HIP: 55, NINFO: 56, RKEY: 57, TALINK: 58, CDS: 59,
  CDNSKEY: 60, OPENPGPKEY: 61, CSYNC: 62, ZONEMD: 63, SVCB: 64, HTTPS: 65, SPF: 99, UINFO: 100,
  UID: 101, GID: 102, UNSPEC: 103, NID: 104, L32: 105, L64: 106, LP: 107, EUI48: 108, EUI64: 109,
  URI: 256, CAA: 257, AVC: 258, DOA: 259, AMTRELAY: 260, RESINFO: 261, TA: 32768, DLV: 32769,
};

/** Query/transport-only types (OPT, TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY) never appear in zone data. */
const META = new Set([41, 249, 250, 251, 252, 253, 254, 255]);

const MNEMONIC = new Map<number, string>();
for (const [k, v] of Object.entries(NUMBERS)) MNEMONIC.set(v, k);

/**
 * The type as the record stores it (upper-case mnemonic, or `TYPEnnn` without leading zeros), or
 * an Error message when the token is not a type at all.
 */
const known = new Map<string, { type: string }>();

export type ParsedType = { type: string; opaque?: true } | { error: string };

export function parseType(token: string): ParsedType {
  // Zone files repeat a handful of spellings ("A", "MX", "TXT"): remember the good ones.
  const hit = known.get(token);
  if (hit) return hit;
  const r = parseTypeUncached(token);
  if ('type' in r && known.size < 4096) known.set(token, r);
  return r;
}

function parseTypeUncached(token: string): ParsedType {
  const up = token.toUpperCase();
  if (Object.prototype.hasOwnProperty.call(NUMBERS, up)) {
    if (META.has(NUMBERS[up]!)) return { error: `"${token}" is a query type, not allowed in zone data` };
    return { type: up };
  }
  const m = /^TYPE([0-9]{1,5})$/.exec(up);
  if (m) {
    const n = Number(m[1]);
    if (n === 0 || n > 65535) return { error: `"${token}" is not a valid type number` };
    if (META.has(n)) return { error: `"${token}" is a query type, not allowed in zone data` };
    return { type: `TYPE${n}` };
  }
  if (up === 'ANY' || up === 'AXFR' || up === 'IXFR' || up === 'OPT' || up === 'TSIG' || up === 'TKEY') {
    return { error: `"${token}" is a query type, not allowed in zone data` };
  }
  // A type this table does not know by name: kept as written (upper-case); named-checkzone decides.
  if (/^[A-Z][A-Z0-9-]{0,31}$/.test(up)) return { type: up, opaque: true };
  return { error: `"${token}" is not a record type` };
}

/** `TYPE52` → `TLSA`: what a record is, however it was written. */
export function canonicalType(type: string): string {
  if (type.startsWith('TYPE')) {
    const n = Number(type.slice(4));
    return MNEMONIC.get(n) ?? type;
  }
  return type;
}

/** Class tokens: IN (or CLASS1) is the only class a cPanel zone can hold. */
export function classToken(token: string): 'IN' | 'other' | null {
  // Every class starts with C, H, I or N; most tokens here are types, so bail out early.
  const c = token.charCodeAt(0) | 32;
  if (c !== 99 && c !== 104 && c !== 105 && c !== 110) return null;
  const up = token.toUpperCase();
  if (up === 'IN' || up === 'CLASS1') return 'IN';
  if (up === 'CH' || up === 'HS' || up === 'CS' || up === 'NONE' || /^CLASS[0-9]+$/.test(up)) return 'other';
  return null;
}
