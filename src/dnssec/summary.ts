/**
 * The DNSSEC state of a customer domain for lists and audit: the watcher's last status of its zone
 * when there is one, else what the last DANE check saw (signed, DS) mapped onto the same words.
 */
import type { BogusReason, DnssecState, Signing } from './state.js';
import type { DnssecStatus } from './status.js';

export interface DnssecSummary {
  state: DnssecState;
  reason: BogusReason | null;
  signing: Signing | null;
  /** Where the state came from: the chain check of the zone, or a DANE check of the domain. */
  source: 'dnssec' | 'check' | 'none';
}

const NONE: DnssecSummary = { state: 'unknown', reason: null, signing: null, source: 'none' };

/** A stored DANE check result → the chain words (it only knows signed, DS and bogus). */
export function stateFromCheck(result: unknown): DnssecSummary {
  const r = result as { verdict?: string; mxSecure?: boolean; dnssec?: { signed?: boolean | null; ds?: boolean | null } } | undefined;
  if (!r) return NONE;
  const s = (state: DnssecState): DnssecSummary => ({ state, reason: null, signing: null, source: 'check' });
  if (r.verdict === 'bogus') return s('bogus');
  if (r.mxSecure || (r.dnssec?.signed && r.dnssec.ds)) return s('secure');
  if (r.dnssec?.signed === true) return s('signed-no-ds');
  if (r.dnssec?.signed === false) return s('unsigned');
  return NONE;
}

/** The closest stored zone status for `domain` (its own zone first, then enclosing names). */
export function closestStatus(domain: string, zone: string | null, stored: Map<string, DnssecStatus>): DnssecStatus | null {
  const names = zone ? [zone] : [];
  for (let n = domain; n.includes('.'); n = n.slice(n.indexOf('.') + 1)) names.push(n);
  for (const n of names) {
    const s = stored.get(n);
    if (s) return s;
  }
  return null;
}

export function dnssecForDomain(domain: string, zone: string | null, stored: Map<string, DnssecStatus>, checkResult: unknown): DnssecSummary {
  const s = closestStatus(domain, zone, stored);
  if (s) return { state: s.state, reason: s.reason, signing: s.signing, source: 'dnssec' };
  return stateFromCheck(checkResult);
}
