/**
 * MTA-STS on the pages (issue 27 §6), pure: the list's column and filter, the overview's counts
 * and the domain page's panel, from the snapshot (plan, stored modes, latest checks). Nothing
 * here touches the network: the page shows what the serve step proved and what the last check
 * saw, never a live fetch.
 */
import { optedIn, type WantedPolicy } from '../mtasts/desired.js';
import { policyUrl } from '../mtasts/fetch.js';
import type { StsCheck } from '../mtasts/checks-store.js';
import type { StsState } from '../mtasts/status.js';
import type { MtaStsDomainState, MtaStsMode } from '../mtasts/store.js';
import type { Config } from '../state/config.js';
import type { EnforceDecision } from '../mtasts/enforce.js';
import type { Problem } from '../problem.js';
import { policyView, type PolicyView } from './detail.js';
import type { SnapshotData } from './snapshot.js';

/** The list's MTA-STS states, in the order the filter and the overview show them. */
export const STS_LIST_STATES = ['off', 'testing', 'enforce', 'broken'] as const;
export type StsListState = (typeof STS_LIST_STATES)[number];

export const STS_LABELS: Record<StsListState, string> = { off: 'Off', testing: 'Testing', enforce: 'Enforce', broken: 'Broken' };

/** A domain's latest MTA-STS check: when, and what a sender saw (src/mtasts/checks-store.ts). */
export type StsLatest = StsCheck;

/**
 * The state the list shows: the domain's stored mode (off: none kept), except that a latest check
 * finding the policy broken (an enforce policy senders would refuse to deliver under) says broken.
 * A check that sees no policy yet ('none') does not hide the mode: the panel says why.
 */
export function stsListState(mode: 'off' | MtaStsMode, latest: { state: StsState } | null): StsListState {
  if (mode === 'off') return 'off';
  return latest?.state === 'broken' ? 'broken' : mode;
}

/** Domains per list state (the overview). */
export function stsCounts(rows: { sts: StsListState }[]): Record<StsListState, number> {
  const out = Object.fromEntries(STS_LIST_STATES.map((s) => [s, 0])) as Record<StsListState, number>;
  for (const r of rows) out[r.sts]++;
  return out;
}

/** The domain page's MTA-STS panel. */
export interface MtaStsPanel {
  domain: string;
  /** Where senders fetch the policy. */
  url: string;
  /** The settings (mtaSts.publish) opt the domain in. */
  optedIn: boolean;
  /** The list state (the badge). */
  state: StsListState;
  stored: MtaStsDomainState | null;
  /** The policy the settings want served now (null: none wanted, see `problems`). */
  wanted: { mode: WantedPolicy['mode']; text: string; id: string } | null;
  /** The wanted policy is not the one proven served: the next run serves it, then announces its id. */
  pendingServe: boolean;
  /** The `_mta-sts` TXT record as the plan sees it (null: none wanted or found in a managed zone). */
  txt: PolicyView | null;
  latest: StsLatest | null;
  /** Why the domain has no policy, or no record yet (the plan's MTA-STS notes about it). */
  notes: Problem[];
  /** Auto-enforce's countdown and evidence for a domain in testing (src/mtasts/enforce.ts); null otherwise. */
  enforce: EnforceDecision | null;
  /** Auto-enforce is on (mtaSts.autoEnforce.enabled) and after how many days. */
  autoEnforce: { enabled: boolean; afterDays: number };
  /** "Check now" checks this domain's MTA-STS too (the timer checks it and checks.mtaStsOnDemand is on). */
  checkNow: boolean;
  /** The mode switch is offered (the domain is opted in: one being turned off serves mode none until it goes). */
  switchable: boolean;
}

/** Null when MTA-STS has nothing to say about the domain (not opted in, no state, never checked). */
export function mtaStsPanel(data: SnapshotData, domain: string, config: Pick<Config, 'mtaSts' | 'checks'>, enforce: EnforceDecision | null = null): MtaStsPanel | null {
  const row = data.byDomain.get(domain);
  if (!row) return null;
  const stored = data.mtaSts.get(domain) ?? null;
  const latest = data.stsChecks.get(domain) ?? null;
  const opted = optedIn(domain, config.mtaSts.publish);
  if (!opted && !stored && !latest) return null;
  const w = data.plan.mtaStsPolicies.find((p) => p.domain === domain) ?? null;
  const notes = data.plan.problems.filter((p) => p.subject === domain && p.code.startsWith('mta-sts-'));
  return {
    domain,
    url: policyUrl(domain),
    optedIn: opted,
    state: row.sts,
    stored,
    wanted: w ? { mode: w.mode, text: w.text, id: w.id } : null,
    pendingServe: !!w && w.id !== (stored?.servedId ?? null),
    txt: policyView(data, domain, 'MTASTS'),
    latest,
    notes,
    enforce: stored?.mode === 'testing' && opted ? enforce : null,
    autoEnforce: { enabled: config.mtaSts.autoEnforce.enabled, afterDays: config.mtaSts.autoEnforce.afterDays },
    // The timer's rule (scheduled.ts checkedDomains): opted in and known to the store.
    checkNow: config.checks.mtaStsOnDemand && opted && stored !== null,
    switchable: opted,
  };
}
