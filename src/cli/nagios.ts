import { categoryOf, emptyCounts, type Category } from '../dane/category.js';
import { VERDICTS, type DomainCheck } from '../dane/verdict.js';
import { problem, ProblemError } from '../problem.js';
import type { StsStatus } from '../mtasts/status.js';

/**
 * Monitoring Plugins (Nagios/Icinga) output: one status line `TLSA_MANAGER <STATE> - <summary> |
 * <perfdata>` and the exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * https://www.monitoring-plugins.org/doc/guidelines.html
 */
export const NAGIOS = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type NagiosState = keyof typeof NAGIOS;

export interface Thresholds {
  /** WARNING when at least this many domains are broken. */
  warning: number;
  /** CRITICAL when at least this many domains are broken. */
  critical: number;
}

/** A checked domain's category in the product's one vocabulary (src/dane/category.ts). */
export function nagiosCategory(c: DomainCheck): Category {
  return categoryOf({ verdict: c.verdict, problems: c.problems ?? [] });
}

const THRESHOLD_FIX = 'Give each as a count of broken domains, e.g. --warning 1 --critical 3 (WARNING from 1, CRITICAL from 3).';

/** A threshold option; a usage Problem when it is not a whole number from 1. */
export function parseThreshold(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < 1) {
    throw new ProblemError(problem('usage', `--${name} must be a whole number of broken domains, 1 or more (got "${String(raw).slice(0, 40)}")`, { fix: THRESHOLD_FIX }));
  }
  return n;
}

/** Both thresholds, checked together; a usage Problem when CRITICAL would come before WARNING. */
export function parseThresholds(values: { warning?: unknown; critical?: unknown }): Thresholds {
  const t = { warning: parseThreshold('warning', values.warning, 1), critical: parseThreshold('critical', values.critical, 1) };
  if (t.critical < t.warning) throw new ProblemError(problem('usage', `--critical (${t.critical}) must not be below --warning (${t.warning})`, { fix: THRESHOLD_FIX }));
  return t;
}

export function unknownLine(message: string): { output: string; exitCode: number } {
  return { output: `TLSA_MANAGER UNKNOWN - ${message.replace(/\s+/g, ' ').trim()}`, exitCode: NAGIOS.UNKNOWN };
}

/**
 * The status line. With `sts` (`check --nagios --mta-sts`: the MTA-STS status of the domains
 * MTA-STS covers), a domain whose enforce policy senders would refuse to deliver under counts as
 * broken like a DANE-broken one (a domain broken both ways counts once against the thresholds),
 * is named in the summary, and `sts_broken=N` ends the perfdata. Without it the line is what it
 * always was.
 */
export function nagiosReport(results: DomainCheck[], t: Thresholds, sts?: StsStatus[]): { output: string; exitCode: number } {
  const notValidating = results.find((r) => r.verdict === 'resolver-not-validating');
  if (notValidating) return unknownLine(`cannot judge DANE: ${notValidating.message}`);
  const counts = emptyCounts();
  for (const r of results) counts[nagiosCategory(r)]++;
  const stsBroken = (sts ?? []).filter((s) => s.state === 'broken');
  const failing = [
    ...results.filter((r) => nagiosCategory(r) === 'broken').map((r) => ({ domain: r.domain, label: VERDICTS[r.verdict].label })),
    ...stsBroken.map((s) => ({ domain: s.domain, label: 'MTA-STS broken' })),
  ];
  // Without MTA-STS the counts are the DANE results as they always were (a domain named twice counts twice).
  const brokenDomains = sts ? new Set(failing.map((f) => f.domain)).size : counts.broken;
  const checked = sts ? new Set([...results.map((r) => r.domain), ...sts.map((s) => s.domain)]).size : results.length;
  const state: NagiosState = brokenDomains >= t.critical ? 'CRITICAL' : brokenDomains >= t.warning ? 'WARNING' : 'OK';
  const shown = failing.slice(0, 5).map((f) => `${f.domain}: ${f.label}`).join(', ');
  const total = results.length;
  const summary = failing.length > 0
    ? `${brokenDomains} of ${checked} domain(s) broken (${shown}${failing.length > 5 ? ', …' : ''})`
    : `${counts.valid + counts['valid-warnings'] + counts.expiring + counts.expired} of ${total} domain(s) validate, ${counts.unprotected} without DANE`;
  const perf = [
    // The labels monitoring already graphs keep their meaning (valid: the verdict valid, warnings or
    // not); warnings= (valid with a warning) and expired= (split out of expiring) come last.
    `valid=${counts.valid + counts['valid-warnings']};;;0;${total}`,
    `expiring=${counts.expiring};;;0;${total}`,
    `broken=${counts.broken};${t.warning};${t.critical};0;${total}`,
    `unprotected=${counts.unprotected};;;0;${total}`,
    `warnings=${counts['valid-warnings']};;;0;${total}`,
    `expired=${counts.expired};;;0;${total}`,
    // MTA-STS (issue 27 §6): out of the domains MTA-STS covers that were checked.
    ...(sts ? [`sts_broken=${stsBroken.length};${t.warning};${t.critical};0;${sts.length}`] : []),
  ].join(' ');
  return { output: `TLSA_MANAGER ${state} - ${summary.replace(/\|/g, '/')} | ${perf}`, exitCode: NAGIOS[state] };
}
