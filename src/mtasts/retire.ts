/**
 * Turning MTA-STS off for a domain (it leaves mtaSts.publish, or publish becomes off), the way
 * RFC 8461 §8.3 asks, as a pure decision per stored domain:
 *   1. a domain whose testing/enforce policy was announced first serves a `mode: none` policy
 *      (same mx lines, max_age NONE_POLICY_MAX_AGE, policy.ts) and announces its new id: a sender that fetches it
 *      drops the policy it held;
 *   2. the `_mta-sts` record and the files stay until the policy senders may still hold has
 *      expired: the held policy's max_age, counted from when the none policy's id was announced;
 *   3. then the record goes first (the plan deletes the ledger-owned TXT; a foreign one stays),
 *      and after it the policy file we wrote, the subdomain we created, and the stored state
 *      (src/mtasts/remove.ts).
 * A domain whose policy was never announced has nothing senders hold: it goes at once.
 * Why the full max_age and not a shorter configurable wait: docs/reference-notes.md "Turning
 * MTA-STS off".
 */
import { parsePolicy, policyId, policyText, type PolicySettings } from './policy.js';
import type { MtaStsDomainState } from './store.js';

export type Retirement =
  /** Serve (or keep serving) this `mode: none` policy and announce its id. */
  | { step: 'announce-none'; mx: string[]; text: string; id: string; heldMaxAge: number }
  /** The none policy is announced and senders may still hold the old one until `until`. */
  | { step: 'wait'; mx: string[]; text: string; id: string; until: string | null }
  /** Nothing senders hold is left: remove the record, then the files, the subdomain and the state. */
  | { step: 'remove' };

/**
 * What to do for a stored domain that is no longer opted in. `now` epoch ms.
 */
export function retirementOf(state: MtaStsDomainState, settings: PolicySettings, now: number): Retirement {
  const served = state.servedText !== null && state.servedId !== null ? parsePolicy(state.servedText) : null;
  if (!served || 'fault' in served) return { step: 'remove' };
  const none = (mx: string[]) => policyText('none', mx, { ...settings, mxWildcard: false })!;
  if (served.mode !== 'none') {
    const text = none(served.mx);
    return { step: 'announce-none', mx: served.mx, text, id: policyId(text), heldMaxAge: Math.max(served.maxAge, state.retiring?.heldMaxAge ?? 0) };
  }
  const text = state.servedText!;
  const until = state.retiring?.after ?? null;
  if (until !== null && now >= Date.parse(until)) return { step: 'remove' };
  return { step: 'wait', mx: served.mx, text, id: state.servedId!, until };
}

/** When removal may go on: the none policy's id announced at `announcedAt` (ms) plus the held max_age. */
export function removableAt(announcedAt: number, heldMaxAge: number): string {
  return new Date(announcedAt + heldMaxAge * 1000).toISOString();
}

/**
 * A stored domain that is no longer on the server (a full scan does not list it: the account or
 * the domain was removed). Nothing can be served for it any more (its policy file and subdomain
 * went with the account), and its mail is no longer ours: the plan removes our `_mta-sts` record
 * where a zone managed here still holds it (nothing wants it; a foreign record stays). Senders may
 * still hold the policy last announced, so the row (its mode and history) is kept for that
 * policy's max_age from when the domain was first seen gone, and forgotten after: a domain that
 * comes back in that time (an account moved back, a scan that missed it) keeps its mode.
 *   start: begin the wait (heldMaxAge seconds from now); wait: until `until`; forget: drop the row.
 * A domain whose policy was never announced holds nothing: forgotten at once.
 */
export type GoneStep = { step: 'start'; heldMaxAge: number } | { step: 'wait'; until: string } | { step: 'forget' };

export function goneOf(state: MtaStsDomainState, now: number): GoneStep {
  const served = state.servedText !== null && state.servedId !== null ? parsePolicy(state.servedText) : null;
  const held = Math.max(served && !('fault' in served) ? served.maxAge : 0, state.retiring?.heldMaxAge ?? 0);
  if (held === 0) return { step: 'forget' };
  const until = state.retiring?.after ?? null;
  if (until === null) return { step: 'start', heldMaxAge: held };
  return now >= Date.parse(until) ? { step: 'forget' } : { step: 'wait', until };
}
