import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ZoneDnssec } from './scenario.js';

/**
 * The DNSSEC material of the demo world, computed the standard way and on its own (the demo imports
 * nothing from src/, so the product's DS code never judges its own output): one ECDSA P-256 key per
 * signed zone (a CSK, flags 257, algorithm 13), its DNSKEY, key tag (RFC 4034 Appendix B), the DS
 * the simulated parent publishes (SHA-256 over owner wire form + DNSKEY RDATA, RFC 4034 §5.1.4) and
 * a real RRSIG over the DNSKEY RRset (RFC 4034 §3.1.8.1, RFC 6605).
 *
 * The keys are throwaway demo keys kept in the root (`/demo-dnssec/<zone>.json`, like the demo
 * certificates' keys), so the DS stays the same from one start to the next.
 */

export const ALGORITHM = 13; // ECDSAP256SHA256
export const CSK_FLAGS = 257; // zone key + secure entry point
export const DNSKEY_TTL = 3600;
/** In the root: one JSON file per zone with its (throwaway) private key(s). */
export const KEYS_DIR = '/demo-dnssec';

export interface Dnskey {
  flags: number;
  protocol: number;
  algorithm: number;
  /** Raw public key (P-256: X || Y, 64 bytes, RFC 6605 §4). */
  publicKey: Buffer;
}

export interface Ds {
  keyTag: number;
  algorithm: number;
  digestType: number;
  digest: Buffer;
}

export interface Rrsig {
  typeCovered: string;
  algorithm: number;
  labels: number;
  originalTTL: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signersName: string;
  signature: Buffer;
}

/** What the simulated network serves for one zone's chain. */
export interface ZoneChain {
  zone: string;
  state: ZoneDnssec;
  /** Served at the zone apex (empty for an unsigned zone). */
  dnskey: Dnskey[];
  /** Over the DNSKEY RRset, by the zone's key. */
  rrsig: Rrsig[];
  /** Published at the parent (empty for unsigned and signed-without-DS zones). */
  ds: Ds[];
}

/** Owner name in canonical wire form (RFC 4034 §6.2): lower case, uncompressed, root label last. */
export function wireName(name: string): Buffer {
  const n = name.toLowerCase().replace(/\.$/, '');
  const parts: Buffer[] = [];
  for (const label of n === '' ? [] : n.split('.')) {
    const b = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function dnskeyRdata(k: Dnskey): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(k.flags, 0);
  head[2] = k.protocol;
  head[3] = k.algorithm;
  return Buffer.concat([head, k.publicKey]);
}

/** RFC 4034 Appendix B. */
export function keyTagOf(k: Dnskey): number {
  const rdata = dnskeyRdata(k);
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >> 16) & 0xffff;
  return ac & 0xffff;
}

/** RFC 4034 §5.1.4 with SHA-256 (digest type 2, RFC 4509). */
export function dsOf(owner: string, k: Dnskey): Ds {
  const digest = createHash('sha256').update(wireName(owner)).update(dnskeyRdata(k)).digest();
  return { keyTag: keyTagOf(k), algorithm: k.algorithm, digestType: 2, digest };
}

function publicDnskey(key: KeyObject): Dnskey {
  const jwk = key.export({ format: 'jwk' });
  const xy = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  return { flags: CSK_FLAGS, protocol: 3, algorithm: ALGORITHM, publicKey: xy };
}

/** RFC 4034 §3.1.8.1: the RRSIG RDATA without the signature, then each RR in canonical order. */
export function signRrset(owner: string, type: string, typeCode: number, ttl: number, rdatas: Buffer[], key: KeyObject, signer: Dnskey, inception: number, expiration: number): Rrsig {
  const labels = owner.replace(/\.$/, '').split('.').filter((l) => l !== '' && l !== '*').length;
  const head = Buffer.alloc(18);
  head.writeUInt16BE(typeCode, 0);
  head[2] = signer.algorithm;
  head[3] = labels;
  head.writeUInt32BE(ttl, 4);
  head.writeUInt32BE(expiration >>> 0, 8);
  head.writeUInt32BE(inception >>> 0, 12);
  head.writeUInt16BE(keyTagOf(signer), 16);
  const ownerWire = wireName(owner);
  const rrs = [...rdatas].sort(Buffer.compare).map((rdata) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(typeCode, 0);
    fixed.writeUInt16BE(1, 2); // IN
    fixed.writeUInt32BE(ttl, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([ownerWire, fixed, rdata]);
  });
  const data = Buffer.concat([head, ownerWire, ...rrs]);
  const signature = sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return { typeCovered: type, algorithm: signer.algorithm, labels, originalTTL: ttl, expiration, inception, keyTag: keyTagOf(signer), signersName: owner, signature };
}

interface KeyFile {
  key: string;
  retired?: string;
}

function newKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
}

const loadKey = (b64: string): KeyObject => createPrivateKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'pkcs8' });

/** Zone names come from the root's file names; only plain DNS names become paths. */
const ZONE_NAME = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/**
 * A zone's key from the root (`/demo-dnssec/<zone>.json`), made and saved when it has none yet. A
 * bogus zone also gets a retired key: the parent's DS still points at it, the classic cause of a
 * bogus chain (a key rolled without updating the registrar). One file per zone, so a big root pays
 * only for the zones someone asks about.
 */
export function zoneKey(root: string, zone: string, state: ZoneDnssec): { key: KeyObject; retired: KeyObject | null } | null {
  if (state === 'unsigned') return null;
  if (!ZONE_NAME.test(zone)) throw new Error(`internal: not a zone name: ${zone}`);
  const file = join(root, KEYS_DIR, `${zone}.json`);
  const stored = existsSync(file);
  const entry: KeyFile = stored ? (JSON.parse(readFileSync(file, 'utf8')) as KeyFile) : { key: newKey() };
  let dirty = !stored;
  if (state === 'bogus' && !entry.retired) {
    entry.retired = newKey();
    dirty = true;
  }
  if (dirty) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  }
  return { key: loadKey(entry.key), retired: entry.retired ? loadKey(entry.retired) : null };
}

const DNSKEY_TYPE = 48;

/**
 * A zone's chain as the demo world has it: `signed` (DS matches the served key), `no-ds` (signed,
 * the registrar step missing), `bogus` (the DS matches a retired key, not the served one),
 * `unsigned` (nothing). Signatures run from an hour before `now` to 30 days after.
 */
export function zoneChain(root: string, zone: string, state: ZoneDnssec, now = Date.now()): ZoneChain {
  const k = zoneKey(root, zone, state);
  if (!k) return { zone, state, dnskey: [], rrsig: [], ds: [] };
  const inception = Math.floor(now / 1000) - 3600;
  const expiration = inception + 3600 + 30 * 86400;
  const dnskey = publicDnskey(k.key);
  const rrsig = signRrset(zone, 'DNSKEY', DNSKEY_TYPE, DNSKEY_TTL, [dnskeyRdata(dnskey)], k.key, dnskey, inception, expiration);
  const ds = state === 'signed' ? [dsOf(zone, dnskey)] : state === 'bogus' && k.retired ? [dsOf(zone, publicDnskey(k.retired))] : [];
  return { zone, state, dnskey: [dnskey], rrsig: [rrsig], ds };
}

/** Each zone's chain, computed when first asked for and then kept (the network's view). */
export class ChainBook {
  private readonly chains = new Map<string, ZoneChain>();

  constructor(
    private readonly root: string,
    private readonly stateOf: (zone: string) => ZoneDnssec,
    private readonly now = Date.now(),
  ) {}

  chain(zone: string): ZoneChain {
    let c = this.chains.get(zone);
    if (!c) {
      c = zoneChain(this.root, zone, this.stateOf(zone), this.now);
      this.chains.set(zone, c);
    }
    return c;
  }
}

/** "zone. 3600 IN DNSKEY 257 3 13 <base64>" (what dnssec-dsfromkey reads). */
export function dnskeyLine(zone: string, k: Dnskey): string {
  return `${zone}. ${DNSKEY_TTL} IN DNSKEY ${k.flags} ${k.protocol} ${k.algorithm} ${k.publicKey.toString('base64')}`;
}
