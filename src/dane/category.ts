import { EXPIRING_DAYS } from '../tlsa/expiry.js';
import { authenticates, broken, VERDICTS, type Verdict } from './verdict.js';

/**
 * The product's one verdict vocabulary for a domain as a whole (issue 24). The overview bars, the
 * list filters, Nagios, the metrics and the audit export all read this table and `categoryOf`, so
 * a domain is "expired" or "valid with warnings" in the same words everywhere.
 *
 * The DANE verdicts (./verdict.ts) say what a sender found on each port; a category adds what the
 * admin must know at a glance: whether mail is ours at all, whether it was checked, and whether a
 * validating domain carries a warning or an old certificate.
 */
export const CATEGORIES = {
  valid: { short: 'senders authenticate the server', label: 'Valid', color: '#2e7d32', explain: 'DANE-validating senders authenticate the mail server.' },
  'valid-warnings': { short: 'senders authenticate today; a warning names what will break it', label: 'Valid, with warnings', color: '#7cb342', explain: 'Senders authenticate the server today, but the check names something that will break it (see the domain page).' },
  expiring: { short: `validates; the certificate expires within ${EXPIRING_DAYS} days`, label: 'Expiring', color: '#f9a825', explain: `DANE validates, but the certificate expires within ${EXPIRING_DAYS} days and has not been renewed yet.` },
  expired: {
    short: 'DANE-EE senders deliver, MTA-STS senders refuse',
    label: 'Expired',
    color: '#8d6e00',
    explain: 'The certificate has expired. DANE-EE (3 1 x) senders still deliver, senders that verify certificates (MTA-STS) refuse it, opportunistic senders do not care.',
  },
  broken: { short: 'DANE senders will not deliver or cannot validate', label: 'Broken', color: '#c62828', explain: 'Senders that use DANE will not deliver, or cannot validate.' },
  unprotected: { short: 'TLS without authentication', label: 'Not protected', color: '#e08a00', explain: 'Mail works, but senders use TLS without authentication.' },
  'not-ours': { short: 'mail handled elsewhere', label: 'Not ours', color: '#8a8f98', explain: 'The domain’s mail is handled by another server.' },
  unchecked: { short: 'no validation since the records last changed', label: 'Not checked yet', color: '#7fa7c9', explain: 'No validation has run since the domain’s records last changed (or ever): a publish is checked again once senders can see it.' },
} as const;

export type Category = keyof typeof CATEGORIES;

/** Categories in which DANE senders authenticate the server (what "validates" counts). */
export const AUTHENTICATING: readonly Category[] = ['valid', 'valid-warnings', 'expiring', 'expired'];

export interface CategoryInput {
  verdict: string | null | undefined;
  /** The domain's mail is handled elsewhere: nothing of ours to judge. */
  notOurs?: boolean;
  /** The last check's problems (only `severity: 'warning'` ones count). */
  problems?: readonly { severity?: string }[];
  /** A publish changed the records after this check: its verdict describes the zone as it was. */
  changedSinceCheck?: boolean;
}

/** The category of one domain. An unknown verdict string (a newer version's) counts as broken. */
export function categoryOf(c: CategoryInput): Category {
  if (c.notOurs) return 'not-ours';
  if (!c.verdict || c.changedSinceCheck) return 'unchecked';
  if (!(c.verdict in VERDICTS)) return 'broken';
  const v = c.verdict as Verdict;
  if (v === 'expired') return 'expired';
  if (v === 'expiring') return 'expiring';
  if (authenticates(v)) return (c.problems ?? []).some((p) => p.severity === 'warning' || p.severity === 'error') ? 'valid-warnings' : 'valid';
  // One rule with alerts: a signed zone without its DS is not protected (mail flows, unauthenticated), not broken.
  return broken(v) ? 'broken' : 'unprotected';
}

/** Zero for every category, in table order (counters for bars, Nagios and metrics). */
export function emptyCounts(): Record<Category, number> {
  return Object.fromEntries(Object.keys(CATEGORIES).map((k) => [k, 0])) as Record<Category, number>;
}
