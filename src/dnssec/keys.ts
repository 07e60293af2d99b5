/**
 * DNSKEY → key tag and DS digests (RFC 4034 §5.1.4 and Appendix B, RFC 4509, RFC 6605), and which
 * algorithms validators implement. Pure: the one place these rules live.
 */
import { createHash } from 'node:crypto';

export interface DsRecord {
  keyTag: number;
  algorithm: number;
  digestType: number;
  /** lower-case hex */
  digest: string;
}

export interface DnskeyRecord {
  flags: number;
  /** Always 3 (RFC 4034 §2.1.2). */
  protocol: number;
  algorithm: number;
  /** base64, as in zone files */
  publicKey: string;
}

/** DNSKEY flags: bit 7 (256) Zone Key, bit 15 (1) Secure Entry Point. */
export const ZONE_KEY = 0x0100;
export const SEP = 0x0001;
export const REVOKE = 0x0080;

/**
 * Signing algorithms a current validator (unbound, BIND 9.18 with OpenSSL 3) verifies. RSAMD5 (1),
 * DSA (3, 6) and GOST (12) are gone; 253/254 are private. A DS set that names only other algorithms
 * makes the zone insecure, not bogus (RFC 4035 §5.2).
 */
export const SUPPORTED_ALGORITHMS: ReadonlySet<number> = new Set([5, 7, 8, 10, 13, 14, 15, 16]);
/** DS digest types validators use: SHA-1 (1), SHA-256 (2), SHA-384 (4). GOST (3) is not implemented. */
export const SUPPORTED_DIGESTS: ReadonlySet<number> = new Set([1, 2, 4]);

export const ALGORITHM_NAMES: Readonly<Record<number, string>> = {
  1: 'RSAMD5', 3: 'DSA', 5: 'RSASHA1', 6: 'DSA-NSEC3-SHA1', 7: 'RSASHA1-NSEC3-SHA1', 8: 'RSASHA256', 10: 'RSASHA512',
  12: 'ECC-GOST', 13: 'ECDSAP256SHA256', 14: 'ECDSAP384SHA384', 15: 'ED25519', 16: 'ED448',
};
export const DIGEST_NAMES: Readonly<Record<number, string>> = { 1: 'SHA-1', 2: 'SHA-256', 3: 'GOST R 34.11-94', 4: 'SHA-384' };
const DIGEST_HASH: Readonly<Record<number, string>> = { 1: 'sha1', 2: 'sha256', 4: 'sha384' };

/** Owner name in canonical wire form (RFC 4034 §6.2: lower case, uncompressed). */
export function nameWire(name: string): Buffer {
  const n = name.toLowerCase().replace(/\.$/, '');
  const parts: Buffer[] = [];
  if (n !== '') {
    for (const label of n.split('.')) {
      const b = Buffer.from(label, 'ascii');
      if (b.length < 1 || b.length > 63) throw new Error(`bad label in ${name}`);
      parts.push(Buffer.from([b.length]), b);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function dnskeyRdata(k: DnskeyRecord): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(k.flags, 0);
  head.writeUInt8(k.protocol, 2);
  head.writeUInt8(k.algorithm, 3);
  return Buffer.concat([head, Buffer.from(k.publicKey, 'base64')]);
}

/** RFC 4034 Appendix B (algorithm 1 uses a different rule that no current zone needs). */
export function keyTag(k: DnskeyRecord): number {
  const rdata = dnskeyRdata(k);
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** The DS a parent publishes for this key with the given digest type (null for unsupported types). */
export function dsFor(owner: string, k: DnskeyRecord, digestType = 2): DsRecord | null {
  const hash = DIGEST_HASH[digestType];
  if (!hash) return null;
  const digest = createHash(hash).update(nameWire(owner)).update(dnskeyRdata(k)).digest('hex');
  return { keyTag: keyTag(k), algorithm: k.algorithm, digestType, digest };
}

/** Keys a DS may point at: zone keys that are not revoked. The KSK (SEP) ones are what registrars get. */
export function isZoneKey(k: DnskeyRecord): boolean {
  return (k.flags & ZONE_KEY) !== 0 && (k.flags & REVOKE) === 0;
}
export function isKsk(k: DnskeyRecord): boolean {
  return isZoneKey(k) && (k.flags & SEP) !== 0;
}

export function sameDs(a: DsRecord, b: DsRecord): boolean {
  return a.keyTag === b.keyTag && a.algorithm === b.algorithm && a.digestType === b.digestType && a.digest.toLowerCase() === b.digest.toLowerCase();
}

/** The key a DS record authenticates, if any (digest recomputed; a key tag alone proves nothing). */
export function keyForDs(owner: string, ds: DsRecord, keys: readonly DnskeyRecord[]): DnskeyRecord | null {
  for (const k of keys) {
    if (!isZoneKey(k) || k.algorithm !== ds.algorithm) continue;
    const mine = dsFor(owner, k, ds.digestType);
    if (mine && sameDs(mine, ds)) return k;
  }
  return null;
}

/** "zone. IN DS 12345 13 2 ABCD…" as registrars and zone files write it. */
export function dsLine(owner: string, ds: DsRecord, ttl?: number): string {
  return `${owner.replace(/\.$/, '')}.${ttl === undefined ? '' : ` ${ttl}`} IN DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest.toUpperCase()}`;
}

export function dnskeyLine(owner: string, k: DnskeyRecord, ttl?: number): string {
  return `${owner.replace(/\.$/, '')}.${ttl === undefined ? '' : ` ${ttl}`} IN DNSKEY ${k.flags} ${k.protocol} ${k.algorithm} ${k.publicKey}`;
}
