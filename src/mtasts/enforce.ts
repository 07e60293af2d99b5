/**
 * Auto-enforce (issue 27 §5), the decision as a pure function: a domain in `testing` moves to
 * `enforce` once, for `afterDays`, every recorded check was clean and checks actually ran over
 * the whole stretch, AND the senders' authenticated TLS-RPT reports for policy type `sts` in that
 * stretch show no failed session, with at least one such report. The pages show its countdown
 * (`enforceAt`) and evidence; the timer acts on `move`.
 *
 * The stretch (`since`) starts at the first clean check after the last thing that breaks it:
 *   - the domain entering testing (its modeSince),
 *   - a check that was not clean (a problem, or the policy not seen as testing),
 *   - a gap between checks longer than MAX_GAP_MS (no evidence is not clean evidence),
 *   - the end of an authenticated sts report that counts failed sessions.
 * A stretch also needs a check within MAX_GAP_MS of now (a timer that stopped checking proves
 * nothing). Unauthenticated reports (no valid DKIM signature: anyone can send them) are counted
 * and shown, never weighed.
 */
import { stripControl } from '../util/text.js';

export const DAY_MS = 86_400_000;
/** Checks run daily (each domain at its slot, sooner with problems): more than 36 h between two is a gap. */
export const MAX_GAP_MS = 36 * 3_600_000;

export interface EnforceSettings {
  enabled: boolean;
  afterDays: number;
}

/** A recorded check as the decision needs it (checks-store.ts StsCheck fits). */
export interface CheckEvidence {
  /** ISO time. */
  time: string;
  state: 'none' | 'testing' | 'enforce' | 'broken';
  problems: string[];
}

/** One sts policy of a stored TLS-RPT report for the domain (tlsrpt/store.ts TlsrptRow fits). */
export interface ReportEvidence {
  policyType: string;
  organization: string;
  authenticated: boolean;
  /** Reported period, epoch ms. */
  start: number;
  end: number;
  successful: number;
  failed: number;
}

export interface EnforceInput {
  mode: 'testing' | 'enforce';
  /** ISO time the domain entered its mode. */
  modeSince: string;
  /** The domain's checks since modeSince (any order). */
  checks: CheckEvidence[];
  /** The domain's TLS-RPT policies since modeSince (any order; other policy types are ignored). */
  reports: ReportEvidence[];
  settings: EnforceSettings;
  now: number;
}

export interface EnforceEvidence {
  /** Start of the clean stretch (ISO), null when there is none now. */
  since: string | null;
  checks: number;
  lastCheck: string | null;
  /** Authenticated sts reports ending inside the stretch, their sessions. */
  reports: number;
  successfulSessions: number;
  failedSessions: number;
  organizations: string[];
  /** Unauthenticated sts reports in the stretch (not weighed). */
  unauthenticatedIgnored: number;
}

export interface EnforceDecision {
  move: boolean;
  /** One sentence: why it moves, or what it waits for. */
  why: string;
  evidence: EnforceEvidence;
  /** When the stretch reaches afterDays (ISO), null when there is no stretch or auto-enforce is off. */
  enforceAt: string | null;
}

const clean = (c: CheckEvidence) => c.problems.length === 0 && c.state === 'testing';
const iso = (ms: number) => new Date(ms).toISOString();

export function enforceDecision(input: EnforceInput): EnforceDecision {
  const { settings, now } = input;
  const entered = Date.parse(input.modeSince);
  const checks = input.checks.map((c) => ({ ...c, at: Date.parse(c.time) })).filter((c) => c.at >= entered && c.at <= now).sort((a, b) => a.at - b.at);
  const sts = input.reports.filter((r) => r.policyType === 'sts' && r.end > entered && r.end <= now);
  const failing = sts.filter((r) => r.authenticated && r.failed > 0);

  // The stretch: walk the checks, restarting at anything that breaks it.
  let since: number | null = null;
  let prev: number | null = null;
  for (const c of checks) {
    if (!clean(c)) since = null;
    else if (since === null || (prev !== null && c.at - prev > MAX_GAP_MS)) since = c.at;
    prev = c.at;
  }
  const last = checks.at(-1) ?? null;
  if (last && now - last.at > MAX_GAP_MS) since = null;
  // A failing authenticated report restarts the stretch at the first clean check after it ended.
  const lastFailEnd = failing.reduce((m, r) => Math.max(m, r.end), Number.NEGATIVE_INFINITY);
  if (since !== null && lastFailEnd >= since) {
    // The checks from `since` on are all clean and without a gap, so the next one after it is the new start.
    since = checks.find((c) => c.at > lastFailEnd)?.at ?? null;
  }

  const inStretch = since === null ? [] : sts.filter((r) => r.end > since!);
  const signed = inStretch.filter((r) => r.authenticated);
  const evidence: EnforceEvidence = {
    since: since === null ? null : iso(since),
    checks: since === null ? 0 : checks.filter((c) => c.at >= since!).length,
    lastCheck: last ? last.time : null,
    reports: signed.length,
    successfulSessions: signed.reduce((n, r) => n + r.successful, 0),
    failedSessions: signed.reduce((n, r) => n + r.failed, 0),
    // Report text is the sender's claim: control characters out, bounded.
    organizations: [...new Set(signed.map((r) => stripControl(r.organization).slice(0, 80)))].sort().slice(0, 20),
    unauthenticatedIgnored: inStretch.length - signed.length,
  };
  const enforceAt = settings.enabled && since !== null ? iso(since + settings.afterDays * DAY_MS) : null;
  const no = (why: string): EnforceDecision => ({ move: false, why, evidence, enforceAt });

  if (input.mode !== 'testing') return no('The domain is not in testing.');
  if (!settings.enabled) return no('Auto-enforce is off (mtaSts.autoEnforce.enabled).');
  if (last === null) return no('No check of the domain has been recorded in testing yet.');
  if (now - last.at > MAX_GAP_MS) return no(`The last check is older than ${MAX_GAP_MS / 3_600_000} hours: without checks there is no evidence.`);
  if (since === null) return no(clean(last) ? 'A sender reported failed sessions under the policy since the last checks; the stretch restarts with the next clean check.' : 'The latest check found a problem; the clean stretch starts again with the next clean check.');
  if (now < since + settings.afterDays * DAY_MS) return no(`Clean since ${iso(since)}; enforce after ${settings.afterDays} days of clean checks and clean signed reports, at ${enforceAt}.`);
  if (signed.length === 0) return no(`Checks are clean for ${settings.afterDays} days, but no authenticated TLS report for the MTA-STS policy has arrived since ${iso(since)}; enforce waits for one without failures.`);
  return { move: true, why: `For ${settings.afterDays} days every check was clean (${evidence.checks} checks since ${iso(since)}) and ${signed.length} authenticated TLS report(s) from ${evidence.organizations.join(', ')} counted ${evidence.successfulSessions} successful and no failed MTA-STS sessions.`, evidence, enforceAt };
}
