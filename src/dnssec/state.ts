/**
 * The DNSSEC chain of one zone as the outside world sees it, decided from observed facts only
 * (no I/O here: the edge in observe.ts gathers the facts). One vocabulary for the CLI, JSON, the web
 * app and audit.
 */
import { SUPPORTED_ALGORITHMS, SUPPORTED_DIGESTS, isZoneKey, keyForDs, keyTag, type DnskeyRecord, type DsRecord } from './keys.js';

export type DnssecState = 'unsigned' | 'signed-no-ds' | 'secure' | 'bogus' | 'unsupported-algorithm' | 'parent-unsigned' | 'unknown';
/**
 * Why a zone is bogus. `signature-invalid` covers what the facts alone do not explain but the
 * validating resolver rejects (broken signatures, missing RRSIG by the DS key); `parent-bogus`
 * means the parent's own chain fails, so nothing below it validates.
 */
export type BogusReason = 'ds-mismatch' | 'ds-without-signing' | 'signature-expired' | 'signature-invalid' | 'parent-bogus';
/** What the signer (cPanel/PowerDNS, Cloudflare) says; null when no signer we know serves the zone. */
export type Signing = 'off' | 'pending' | 'active';

export const DNSSEC_STATES: Record<DnssecState, { label: string; severity: 'ok' | 'info' | 'warn' | 'error'; rank: number; explain: string; fix: string }> = {
  secure: { label: 'Secure', severity: 'ok', rank: 0, explain: 'A DS at the parent matches a key of the zone and the chain validates.', fix: '' },
  unsigned: { label: 'Unsigned', severity: 'info', rank: 1, explain: 'The zone is not signed and the parent has no DS: validators treat it as insecure, senders ignore TLSA.', fix: 'Enable DNSSEC signing for the zone, then give its DS to the registrar.' },
  'parent-unsigned': { label: 'Parent unsigned', severity: 'info', rank: 2, explain: 'The parent zone is not signed, so no chain of trust can reach this zone; nothing the owner can do.', fix: 'Nothing to do here; the parent (TLD or registry) must sign first.' },
  'unsupported-algorithm': { label: 'Unsupported algorithm', severity: 'warn', rank: 3, explain: 'The DS records at the parent use only algorithms or digest types validators do not implement, so validators treat the zone as unsigned (RFC 4035 §5.2).', fix: 'Re-sign with algorithm 13 (ECDSA P-256) and replace the DS at the registrar.' },
  'signed-no-ds': { label: 'Signed, no DS', severity: 'warn', rank: 4, explain: 'The zone is signed but the parent has no DS record, so nobody can validate it: the registrar step is missing.', fix: 'Give the zone\'s DS record to its registrar (the registrar\'s DNSSEC or DS records form for the domain).' },
  unknown: { label: 'Unknown', severity: 'warn', rank: 5, explain: 'A lookup needed to decide failed.', fix: 'Check the resolver and that the parent zone\'s name servers answer, then check again.' },
  bogus: { label: 'Bogus', severity: 'error', rank: 6, explain: 'Validation fails: resolvers answer SERVFAIL for every name in the zone, so mail and web both fail.', fix: 'Fix the DS at the registrar or the zone signing now.' },
};

export const BOGUS_REASONS: Record<BogusReason, { explain: string; fix: string }> = {
  'ds-mismatch': { explain: 'The DS at the parent matches none of the zone\'s keys.', fix: 'Replace the DS at the registrar with the one the zone\'s key needs (shown here), or remove it.' },
  'ds-without-signing': { explain: 'The parent has a DS but the zone is not signed.', fix: 'Remove the DS at the registrar, or enable signing with a key that matches it.' },
  'signature-expired': { explain: 'The signatures on the zone\'s keys have expired: the signer stopped re-signing.', fix: 'Restart or repair the signer (PowerDNS, BIND inline signing) so it re-signs the zone.' },
  'signature-invalid': { explain: 'A DS matches a key, but validating resolvers reject the zone\'s signatures.', fix: 'Re-sign the zone (rectify with PowerDNS, rndc sign with BIND) and check again.' },
  'parent-bogus': { explain: 'The parent zone itself does not validate.', fix: 'Nothing the owner can fix here; the parent\'s operator must.' },
};

export type Security = 'secure' | 'insecure' | 'bogus';

/** A lookup either produced a value or failed; `what` names the lookup for the "unknown" message. */
export type Lookup<T> = { ok: true; value: T } | { ok: false; what: string; error: string };

export interface SignatureFact {
  keyTag: number;
  algorithm: number;
  /** Seconds since the epoch (RFC 4034 §3.1.5; serial arithmetic ignored: 2106 is far). */
  inception: number;
  expiration: number;
}

export interface ChainFacts {
  zone: string;
  /** The parent zone's name (null when unknown, '.' for a TLD). */
  parent: string | null;
  now: Date;
  /** The validating resolver's verdict on the parent zone's SOA. */
  parentSecurity: Lookup<Security>;
  /** DS for the zone asked of the parent's authoritative servers: what the registry publishes now. */
  parentDs: Lookup<DsRecord[]>;
  /** DS as the validating resolver returns it (checking disabled): used when the servers did not answer. */
  resolverDs: Lookup<DsRecord[]>;
  /** The zone's DNSKEY set and the signatures over it, fetched with checking disabled. */
  dnskey: Lookup<{ keys: DnskeyRecord[]; signatures: SignatureFact[] }>;
  /** The validating resolver's verdict on the zone's own SOA. */
  validation: Lookup<Security>;
}

export interface ChainVerdict {
  state: DnssecState;
  reason: BogusReason | null;
  /** One sentence naming the zone and what was seen. */
  message: string;
  /** Which lookups failed (state unknown, or a fallback was used). */
  failed: string[];
  /** The DS records decided on (authoritative answer, or the resolver's when the servers did not answer). */
  parentDs: DsRecord[];
  /** Key tags of the zone keys a usable DS matched. */
  matchedKeyTags: number[];
}

function unknown(zone: string, failed: { what: string; error: string }[], parentDs: DsRecord[] = []): ChainVerdict {
  const list = failed.map((f) => `${f.what} (${f.error})`).join('; ');
  return { state: 'unknown', reason: null, message: `Could not decide the DNSSEC state of ${zone}: ${list}.`, failed: failed.map((f) => f.what), parentDs, matchedKeyTags: [] };
}

function bogus(zone: string, reason: BogusReason, detail: string, rest: Pick<ChainVerdict, 'parentDs' | 'matchedKeyTags' | 'failed'>): ChainVerdict {
  return { state: 'bogus', reason, message: `${zone} is bogus: ${detail}`, ...rest };
}

const dsText = (ds: DsRecord[]): string => ds.map((d) => `${d.keyTag}/${d.algorithm}/${d.digestType}`).join(', ');

export function decideChain(f: ChainFacts): ChainVerdict {
  const { zone } = f;
  if (!f.parentSecurity.ok) return unknown(zone, [f.parentSecurity]);
  if (f.parentSecurity.value === 'insecure') {
    return { state: 'parent-unsigned', reason: null, message: `The parent zone of ${zone} (${f.parent ?? '?'}) is not signed, so no chain of trust reaches ${zone}.`, failed: [], parentDs: [], matchedKeyTags: [] };
  }
  if (f.parentSecurity.value === 'bogus') {
    return bogus(zone, 'parent-bogus', `its parent zone ${f.parent ?? ''} does not validate.`, { parentDs: [], matchedKeyTags: [], failed: [] });
  }
  // The parent's servers are the truth about the DS; the resolver's copy may be a TTL behind.
  const failed: string[] = [];
  let ds: DsRecord[];
  if (f.parentDs.ok) ds = f.parentDs.value;
  else if (f.resolverDs.ok) {
    ds = f.resolverDs.value;
    failed.push(f.parentDs.what);
  } else return unknown(zone, [f.parentDs, f.resolverDs]);
  if (!f.dnskey.ok) return unknown(zone, [f.dnskey], ds);
  const keys = f.dnskey.value.keys.filter(isZoneKey);

  if (ds.length === 0) {
    if (keys.length === 0) return { state: 'unsigned', reason: null, message: `${zone} is not signed and its parent has no DS for it.`, failed, parentDs: ds, matchedKeyTags: [] };
    return { state: 'signed-no-ds', reason: null, message: `${zone} is signed (${keys.length} key${keys.length === 1 ? '' : 's'}) but its parent ${f.parent ?? ''} has no DS for it: the registrar step is missing.`, failed, parentDs: ds, matchedKeyTags: [] };
  }
  // RFC 4035 §5.2 / RFC 4509 §3: DS records a validator cannot use are ignored; none usable = insecure.
  const usable = ds.filter((d) => SUPPORTED_ALGORITHMS.has(d.algorithm) && SUPPORTED_DIGESTS.has(d.digestType));
  if (usable.length === 0) {
    return { state: 'unsupported-algorithm', reason: null, message: `The DS records for ${zone} (${dsText(ds)}) use only algorithms or digest types validators do not implement, so they treat ${zone} as unsigned.`, failed, parentDs: ds, matchedKeyTags: [] };
  }
  const rest = { parentDs: ds, failed };
  if (keys.length === 0) return bogus(zone, 'ds-without-signing', `its parent publishes DS ${dsText(ds)} but the zone serves no DNSKEY.`, { ...rest, matchedKeyTags: [] });
  const matched = [...new Set(usable.map((d) => keyForDs(zone, d, keys)).filter((k): k is DnskeyRecord => k !== null))];
  if (matched.length === 0) {
    return bogus(zone, 'ds-mismatch', `the DS at its parent (${dsText(ds)}) matches none of its keys (key tags ${keys.map(keyTag).join(', ')}).`, { ...rest, matchedKeyTags: [] });
  }
  const matchedKeyTags = matched.map(keyTag);
  // The DNSKEY set must carry a signature by a DS-matched key that is valid now.
  const now = Math.floor(f.now.getTime() / 1000);
  const bySecureEntry = f.dnskey.value.signatures.filter((s) => matched.some((k) => keyTag(k) === s.keyTag && k.algorithm === s.algorithm));
  const current = bySecureEntry.filter((s) => s.inception <= now && now <= s.expiration);
  if (bySecureEntry.length > 0 && current.length === 0 && bySecureEntry.some((s) => s.expiration < now)) {
    const last = Math.max(...bySecureEntry.map((s) => s.expiration));
    return bogus(zone, 'signature-expired', `the signatures on its keys expired on ${new Date(last * 1000).toISOString()}.`, { ...rest, matchedKeyTags });
  }
  if (bySecureEntry.length === 0) {
    return bogus(zone, 'signature-invalid', `the key the DS points at (key tag ${matchedKeyTags.join(', ')}) does not sign the zone's key set.`, { ...rest, matchedKeyTags });
  }
  if (!f.validation.ok) return { ...unknown(zone, [f.validation], ds), matchedKeyTags };
  if (f.validation.value === 'bogus') return bogus(zone, 'signature-invalid', 'the DS matches a key, but the validating resolver rejects the zone\'s signatures.', { ...rest, matchedKeyTags });
  if (f.validation.value === 'insecure') {
    // The facts say the chain should validate; a resolver that does not agree (negative trust
    // anchor, stale cache) is not something to guess about.
    return { ...unknown(zone, [{ what: 'validation', error: `the DS matches key ${matchedKeyTags.join(', ')} but the resolver does not authenticate ${zone}` }], ds), matchedKeyTags };
  }
  return { state: 'secure', reason: null, message: `${zone} is secure: DS ${dsText(usable.filter((d) => keyForDs(zone, d, keys)))} at ${f.parent ?? 'the parent'} matches key ${matchedKeyTags.join(', ')} and the chain validates.`, failed, parentDs: ds, matchedKeyTags };
}
