import { categoryOf, type Category } from '../dane/category.js';
import { tlsaHost } from '../dns/names.js';
import { tlsrptDomain } from '../dns/records.js';
import type { Problem } from '../problem.js';
import type { AuditInput } from '../plan/view.js';
import { dnssecForDomain } from '../dnssec/summary.js';
import type { BogusReason, DnssecState, Signing } from '../dnssec/state.js';
import type { DnssecStatus } from '../dnssec/status.js';
import type { MtaStsDomainState, MtaStsMode } from '../mtasts/store.js';

/**
 * A domain's TLSA state, one list with its words: the audit export, the domain list's filter
 * (web/list-query.ts) and its labels (web/view-helpers.ts) read it here.
 */
export const TLSA_STATE_LABELS = {
  'in-sync': 'In sync',
  pending: 'Changes pending',
  'not-managed': 'Zone not managed here',
  'no-certificate': 'No certificate',
  'not-ours': 'Mail elsewhere',
  unknown: 'Unknown',
} as const;
export type TlsaState = keyof typeof TLSA_STATE_LABELS;
export const TLSA_STATES = Object.keys(TLSA_STATE_LABELS) as TlsaState[];

/** One row per customer domain: what an admin auditing the server wants to see and export. */
export interface AuditRow {
  domain: string;
  owner: string;
  kind: string;
  mail: string;
  mxHosts: string[];
  mxHere: string[];
  zone: string | null;
  provider: string | null;
  tlsa: TlsaState;
  /** Records that should be added/removed now. */
  pendingChanges: number;
  certNotAfter: string | null;
  certIssuer: string | null;
  verdict: string | null;
  /**
   * A publish changed the domain's records after its last check: when, and when the re-check is
   * due (ISO); null when the result is current. The verdict is then history, not the state.
   */
  changedAt: string | null;
  recheckAt: string | null;
  /** The one verdict vocabulary (src/dane/category.ts): what the overview, filters, Nagios and metrics count. */
  category: Category;
  lastChecked: string | null;
  problems: string[];
  /** The problems' stable codes, in the same order (e.g. `issuers-over-budget`). */
  problemCodes: string[];
  /** What the last check named (causes behind its verdict, warnings such as tlsa-answer-large), each with its fix. */
  checkProblems: Problem[];
  /** The zone's DNSSEC chain (issue 12 vocabulary) and why it is bogus; the signer's state. */
  dnssec: DnssecState;
  dnssecReason: BogusReason | null;
  signing: Signing | null;
  /** Sessions senders reported in TLS reports (RFC 8460) ending in the last 7 days; null: no report. */
  tlsrptSuccessful7d: number | null;
  tlsrptFailed7d: number | null;
  /** The MTA-STS mode src/mtasts/store.ts keeps for the domain; off: none kept. */
  mtaSts: 'off' | MtaStsMode;
}

/** Per domain, the TLS report session totals of the last 7 days. */
export type TlsrptTotals = Map<string, { successful: number; failed: number }>;

export interface CheckSummary {
  time: string;
  verdict: string;
  /** The stored DomainCheck, when there is one. */
  result?: unknown;
}

function checkProblemsOf(check: CheckSummary | undefined): Problem[] {
  const list = (check?.result as { problems?: unknown } | undefined)?.problems;
  return Array.isArray(list) ? (list as Problem[]).filter((p) => typeof p?.code === 'string' && typeof p.message === 'string') : [];
}

/** When a publish last changed a domain's records and when its re-check is due (epoch ms; src/checks/scheduled.ts). */
export type PublishMarks = Map<string, { at: number; checkAt: number }>;

export function auditRows(plan: AuditInput, checks: Map<string, CheckSummary> = new Map(), dnssec: Map<string, DnssecStatus> = new Map(), tlsrpt: TlsrptTotals = new Map(), published: PublishMarks = new Map(), mtaSts: Map<string, MtaStsDomainState> = new Map()): AuditRow[] {
  const endpoints = new Map(plan.scan.endpoints.map((e) => [e.host, e]));
  const zoneOfOwnerHost = new Map<string, { zone: string; provider: string; pending: number }>();
  // A TLS-RPT policy change belongs to its mail domain, not to an MX host.
  const tlsrptPending = new Map<string, { provider: string; pending: number }>();
  for (const zp of plan.zones) {
    for (const c of zp.changes) {
      const policyOf = tlsrptDomain(c.record.owner);
      if (policyOf !== null) {
        const cur = tlsrptPending.get(policyOf) ?? { provider: zp.provider, pending: 0 };
        cur.pending++;
        tlsrptPending.set(policyOf, cur);
        continue;
      }
      const host = tlsaHost(c.record.owner);
      const cur = zoneOfOwnerHost.get(host) ?? { zone: zp.zone, provider: zp.provider, pending: 0 };
      cur.pending++;
      zoneOfOwnerHost.set(host, cur);
    }
  }
  const unmanaged = new Set(plan.unmanaged.map((u) => u.host));
  // Zone warnings about a host (issuers left out of the budget, an issuer not covered in time).
  const hostWarnings = new Map<string, Problem[]>();
  for (const zp of plan.zones) {
    for (const w of zp.warnings) {
      if (!w.subject) continue;
      const list = hostWarnings.get(w.subject) ?? [];
      list.push(w);
      hostWarnings.set(w.subject, list);
    }
  }
  const zoneByName = new Map(plan.zones.map((z) => [z.zone, z.provider]));
  return plan.scan.domains.map((d) => {
    const here = d.mx.filter((m) => m.pointsHere).map((m) => m.host);
    let tlsa: TlsaState = here.length === 0 ? 'not-ours' : 'in-sync';
    let pending = 0;
    let provider: string | null = d.zone ? zoneByName.get(d.zone) ?? null : null;
    let certNotAfter: string | null = null;
    let certIssuer: string | null = null;
    for (const h of here) {
      const ep = endpoints.get(h);
      const cert = ep?.served;
      if (!cert) {
        tlsa = 'no-certificate';
        continue;
      }
      if (!certNotAfter || cert.notAfter < certNotAfter) {
        certNotAfter = cert.notAfter;
        certIssuer = cert.issuer;
      }
      if (unmanaged.has(h)) {
        if (tlsa === 'in-sync') tlsa = 'not-managed';
        continue;
      }
      const z = zoneOfOwnerHost.get(h);
      if (z) {
        pending += z.pending;
        provider ??= z.provider;
        if (tlsa === 'in-sync') tlsa = 'pending';
      }
    }
    const policy = tlsrptPending.get(d.domain);
    if (policy) {
      pending += policy.pending;
      provider ??= policy.provider;
      if (tlsa === 'in-sync') tlsa = 'pending';
    }
    if (d.mx.length === 0 && d.problems.length > 0) tlsa = 'unknown';
    const check = checks.get(d.domain);
    const problems = [...d.problems, ...here.flatMap((h) => [...(endpoints.get(h)?.problems ?? []), ...(hostWarnings.get(h) ?? [])])];
    const chain = dnssecForDomain(d.domain, d.zone, dnssec, check?.result);
    const checkProblems = checkProblemsOf(check);
    const mark = published.get(d.domain);
    const changed = mark && (!check || Date.parse(check.time) < mark.at) ? mark : null;
    return {
      domain: d.domain,
      owner: d.owner,
      kind: d.kind ?? '',
      mail: d.mail,
      mxHosts: d.mx.map((m) => m.host),
      mxHere: here,
      zone: d.zone,
      provider,
      tlsa,
      pendingChanges: pending,
      certNotAfter,
      certIssuer,
      verdict: check?.verdict ?? null,
      changedAt: changed ? new Date(changed.at).toISOString() : null,
      recheckAt: changed ? new Date(changed.checkAt).toISOString() : null,
      category: categoryOf({ verdict: check?.verdict, notOurs: tlsa === 'not-ours', problems: checkProblems, changedSinceCheck: changed !== null }),
      lastChecked: check?.time ?? null,
      problems: problems.map((p) => p.message),
      problemCodes: problems.map((p) => p.code),
      checkProblems,
      dnssec: chain.state,
      dnssecReason: chain.reason,
      signing: chain.signing,
      tlsrptSuccessful7d: tlsrpt.get(d.domain)?.successful ?? null,
      tlsrptFailed7d: tlsrpt.get(d.domain)?.failed ?? null,
      mtaSts: mtaSts.get(d.domain)?.mode ?? 'off',
    };
  });
}

const CSV_COLUMNS: (keyof AuditRow)[] = ['domain', 'owner', 'kind', 'mail', 'mxHosts', 'mxHere', 'zone', 'provider', 'tlsa', 'pendingChanges', 'certNotAfter', 'certIssuer', 'verdict', 'category', 'lastChecked', 'changedAt', 'recheckAt', 'dnssec', 'dnssecReason', 'signing', 'problems', 'problemCodes', 'checkProblems', 'tlsrptSuccessful7d', 'tlsrptFailed7d', 'mtaSts'];

/** The codes of the last check's problems, e.g. "dane-ta-leaf-only tlsa-answer-large" (one cell, one table column). */
export function checkProblemCodes(row: AuditRow): string[] {
  return [...new Set(row.checkProblems.map((p) => p.code))];
}

/** RFC 4180 CSV; cells that a spreadsheet would run as a formula are prefixed with a quote. */
export function auditCsv(rows: AuditRow[]): string {
  const cell = (v: unknown): string => {
    let s = Array.isArray(v) ? v.join(' ') : v === null || v === undefined ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => cell(c === 'checkProblems' ? checkProblemCodes(r) : r[c])).join(','))].join('\r\n') + '\r\n';
}
