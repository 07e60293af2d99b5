/**
 * `dnssec status`: for each zone, the chain as validators see it (observe → decideChain) plus what
 * the signer says, in the one JSON shape the CLI, the web app and audit share.
 */
import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { normalizeName } from '../dns/names.js';
import { toProblem } from '../problem.js';
import { mapLimit } from '../util/concurrency.js';
import { dsFor, isKsk, isZoneKey, type DnskeyRecord, type DsRecord } from './keys.js';
import { ChainObserver } from './observe.js';
import { signerStatus, type SignerInfo } from './signer.js';
import { BOGUS_REASONS, DNSSEC_STATES, decideChain, type BogusReason, type ChainFacts, type ChainVerdict, type DnssecState, type Signing } from './state.js';

export interface DnssecStatus {
  zone: string;
  state: DnssecState;
  reason: BogusReason | null;
  signing: Signing | null;
  /** What the signer wants at the parent (the signer's own DS, else computed from the served KSKs). */
  ds: DsRecord[];
  /** What the parent publishes now. */
  parentDs: DsRecord[];
  /** The served keys a DS may point at (KSKs, else every zone key), for registries that take keys. */
  dnskey: DnskeyRecord[];
  parent: string | null;
  message: string;
  fix: string;
  /** Lookups that failed (what "unknown" is about, or a fallback that was used). */
  failed: string[];
  /** Where `signing` came from: cpanel, cloudflare, or null (nobody here signs it). */
  signer: string | null;
  time: string;
}

export interface StatusOptions {
  resolver?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Ask cPanel/Cloudflare for the signing state (default true). */
  signers?: boolean;
  timeoutMs?: number;
}

/** Keys to hand over: the SEP (KSK/CSK) keys when there are any, else every zone key. */
export function entryKeys(keys: DnskeyRecord[]): DnskeyRecord[] {
  const ksk = keys.filter(isKsk);
  return ksk.length > 0 ? ksk : keys.filter(isZoneKey);
}

/** Pure: facts + verdict + signer → the status object. */
export function assembleStatus(facts: ChainFacts, verdict: ChainVerdict, signer: SignerInfo | undefined): DnssecStatus {
  const served = facts.dnskey.ok ? entryKeys(facts.dnskey.value.keys) : [];
  const computed = served.map((k) => dsFor(facts.zone, k, 2)).filter((d): d is DsRecord => d !== null);
  const ds = signer && signer.ds.length > 0 ? signer.ds : computed;
  const fix = verdict.state === 'bogus' && verdict.reason ? BOGUS_REASONS[verdict.reason].fix : DNSSEC_STATES[verdict.state].fix;
  return {
    zone: facts.zone,
    state: verdict.state,
    reason: verdict.reason,
    signing: signer?.signing ?? null,
    ds,
    parentDs: verdict.parentDs,
    dnskey: served.length > 0 ? served : (signer?.dnskey ?? []),
    parent: facts.parent,
    message: verdict.message,
    fix,
    failed: verdict.failed,
    signer: signer?.source ?? null,
    time: facts.now.toISOString(),
  };
}

export async function dnssecStatus(ctx: AppContext, zones: string[], opts: StatusOptions = {}): Promise<DnssecStatus[]> {
  const names = [...new Set(zones.map((z) => normalizeName(z, 'zone')))];
  const observer = new ChainObserver({
    resolver: resolverFor(ctx, opts.resolver),
    servers: ctx.config.dnssec.servers,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    now: () => new Date(ctx.now()),
  });
  const signers = opts.signers === false ? new Map<string, SignerInfo>() : await signerStatus(ctx, names);
  let done = 0;
  const looked = await mapLimit(names, opts.concurrency ?? ctx.config.dnssec.concurrency, async (zone) => {
    try {
      const facts = await observer.facts(zone);
      return assembleStatus(facts, decideChain(facts), signers.get(zone));
    } catch (err) {
      // One zone's DNS never stops the look at the others (issue 21): logged against the zone,
      // left due, so the next run looks again.
      const p = toProblem(err);
      ctx.logger.error({ zone, code: p.code, err: p.message }, 'the DNSSEC look at a zone failed; the other zones were looked at');
      return null;
    } finally {
      opts.onProgress?.(++done, names.length);
    }
  });
  return looked.filter((s): s is DnssecStatus => s !== null);
}
