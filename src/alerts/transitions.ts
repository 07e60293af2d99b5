import { authenticates, broken, VERDICTS, type Verdict } from '../dane/verdict.js';
import { stripControl } from '../util/text.js';

/**
 * Alerts are raised on transitions, not on states: a domain that never validated does not alert
 * every day, a domain that stops validating does, once. The first check of a domain is a
 * transition too (from "never judged"): found broken, it raises one incident, so a server that
 * already has an outage when TLSA Manager arrives (or a new domain that arrives broken) is told
 * once instead of never. Pure: old state + new state + the incidents already open → events. The
 * store (./store.ts) keeps incidents and baselines.
 */
export const ALERT_KINDS = [
  'domain-degraded',
  'domain-broken',
  'dnssec-bogus',
  'ds-missing',
  'issuer-not-covered',
  'publish-failed',
  'timer-stalled',
  'timer-failed',
  'ta-cert-expiring',
  'server-checks',
  'tlsrpt-dane-failure',
  'tlsrpt-route-lost',
  'mta-sts-broken',
  'mta-sts-enforced',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
/** Kinds that are news (severity info), never trouble. */
export const INFO_KINDS: ReadonlySet<AlertKind> = new Set(['mta-sts-enforced']);

/** `info`: news, not trouble (mta-sts-enforced); it gets no reminders. */
export type Severity = 'critical' | 'warning' | 'info';

/** What an alert knows about a domain's state: the verdict and the DNSSEC chain facts. */
export interface DomainState {
  verdict: Verdict;
  /** DS at the parent (null: not known from this check). */
  ds: boolean | null;
}

/** An incident as the transition logic needs it (the store adds ids and times). */
export interface Incident {
  /** One open incident per key: the dedupe rule. `<kind>:<subject>`. */
  key: string;
  kind: AlertKind;
  severity: Severity;
  /** Domain, MX host, zone or "server". */
  subject: string;
  title: string;
  detail: string;
  domain?: string;
  host?: string;
  verdictFrom?: Verdict;
  verdictTo?: Verdict;
  /** Domain incidents: the state before it started; the incident clears when the domain is back to it. */
  baseline?: DomainState;
}

export type AlertEvent = { type: 'raise'; incident: Incident } | { type: 'resolve'; key: string; detail: string; verdictTo?: Verdict };

/** Rank for "worse than": everything that validates counts as equally good. */
function rank(v: Verdict): number {
  return authenticates(v) ? 0 : VERDICTS[v].rank;
}

const label = (v: Verdict) => VERDICTS[v].label;

/**
 * One domain, old → new. At most one incident per domain (key `domain:<d>`), of the most specific
 * cause: DNSSEC turned bogus, the DS disappeared, or it stopped validating.
 */
export function domainTransition(domain: string, prev: DomainState | undefined, next: DomainState, open: Incident | undefined): AlertEvent[] {
  const key = `domain:${domain}`;
  if (open) {
    return clears(open.baseline, next) ? [{ type: 'resolve', key, detail: `${domain} is ${label(next.verdict)} again.`, verdictTo: next.verdict }] : [];
  }
  if (!prev) return firstSight(domain, next);
  const base = { key, subject: domain, domain, verdictFrom: prev.verdict, verdictTo: next.verdict, baseline: prev };
  if (next.verdict === 'bogus' && prev.verdict !== 'bogus') {
    return [{ type: 'raise', incident: { ...base, kind: 'dnssec-bogus', severity: 'critical', title: `DNSSEC turned bogus for ${domain}`, detail: `DNSSEC validation now fails for ${domain} (was ${label(prev.verdict)}): validating resolvers answer SERVFAIL, so mail to it stalls. ${VERDICTS.bogus.fix}` } }];
  }
  if (prev.ds === true && next.ds === false) {
    return [{ type: 'raise', incident: { ...base, kind: 'ds-missing', severity: 'critical', title: `DS record gone for ${domain}`, detail: `The parent zone no longer has a DS record for ${domain} (was ${label(prev.verdict)}, now ${label(next.verdict)}): its TLSA records are ignored. ${VERDICTS['no-ds'].fix}` } }];
  }
  if (authenticates(prev.verdict) && !authenticates(next.verdict)) {
    return [{ type: 'raise', incident: { ...base, kind: 'domain-degraded', severity: broken(next.verdict) ? 'critical' : 'warning', title: `DANE ${label(prev.verdict)} → ${label(next.verdict)} for ${domain}`, detail: `${domain} no longer validates with DANE (${label(prev.verdict)} → ${label(next.verdict)}). ${VERDICTS[next.verdict].fix}` } }];
  }
  return [];
}

/**
 * The first check of a domain: broken is an incident (without a baseline: it clears once the
 * domain is no longer broken); anything else only becomes the baseline.
 */
function firstSight(domain: string, next: DomainState): AlertEvent[] {
  if (!broken(next.verdict)) return [];
  const v = next.verdict;
  const base = { key: `domain:${domain}`, subject: domain, domain, verdictTo: v, severity: 'critical' as const };
  if (v === 'bogus') {
    return [{ type: 'raise', incident: { ...base, kind: 'dnssec-bogus', title: `DNSSEC bogus for ${domain}`, detail: `The first check of ${domain} finds DNSSEC validation failing: validating resolvers answer SERVFAIL, so mail to it stalls. ${VERDICTS.bogus.fix}` } }];
  }
  return [{ type: 'raise', incident: { ...base, kind: 'domain-broken', title: `DANE ${label(v)} for ${domain}`, detail: `The first check of ${domain} finds it broken (${label(v)}): ${VERDICTS[v].explain} ${VERDICTS[v].fix}` } }];
}

/**
 * The domain is back where it was before the incident: no worse, not bogus, DS back if it had one.
 * An incident raised at first sight has no "before": it clears once the domain is not broken.
 */
function clears(baseline: DomainState | undefined, next: DomainState): boolean {
  if (!baseline) return !broken(next.verdict);
  if (next.verdict === 'bogus' && baseline.verdict !== 'bogus') return false;
  if (baseline.ds === true && next.ds === false) return false;
  return rank(next.verdict) <= rank(baseline.verdict);
}

/** Verdicts a server-wide cause produces for many domains at once (nothing answers). */
const SERVER_CLASS = new Set<Verdict>(['dns-error', 'unreachable', 'resolver-not-validating']);
export const SERVER_KEY = 'server:checks';
/** A run is a server-wide outage when at least this many domains and this share of the run fail alike. */
const OUTAGE_MIN_DOMAINS = 3;
const OUTAGE_MIN_SHARE = 0.5;

export interface RunInput {
  /** The new state of every domain this run checked. */
  checked: { domain: string; state: DomainState }[];
  /** The last state alerting judged per domain. */
  baselines: ReadonlyMap<string, DomainState>;
  /** Open incidents by key. */
  open: ReadonlyMap<string, Incident>;
  /** The resolver passed its self-test. */
  resolverOk: boolean;
  resolverMessage?: string;
}

export interface RunOutcome {
  events: AlertEvent[];
  /** New baselines to store (domains blamed on a server-wide cause keep their old one). */
  baselines: Map<string, DomainState>;
}

/**
 * A check run → events. A server-wide cause (the resolver does not validate, or most domains fail
 * alike because a DNS server or Exim does not answer) is ONE server incident; the domains it
 * explains raise nothing and keep their baseline, so they are judged again once it clears.
 */
export function evaluateRun(input: RunInput): RunOutcome {
  const events: AlertEvent[] = [];
  const serverOpen = input.open.get(SERVER_KEY);
  const serverFailing = input.checked.filter((c) => SERVER_CLASS.has(c.state.verdict));
  const newlyFailing = serverFailing.filter((c) => {
    const prev = input.baselines.get(c.domain);
    return !prev || !SERVER_CLASS.has(prev.verdict);
  });
  const wide = (n: number) => n >= OUTAGE_MIN_DOMAINS && n >= OUTAGE_MIN_SHARE * input.checked.length;
  let serverActive = Boolean(serverOpen);
  if (!input.resolverOk || (!serverOpen && wide(newlyFailing.length))) {
    if (!serverOpen) {
      const names = newlyFailing.map((c) => c.domain);
      const detail = !input.resolverOk
        ? `The resolver used for checks does not validate DNSSEC${input.resolverMessage ? ` (${input.resolverMessage})` : ''}; no domain can be judged until it does.`
        : `${names.length} of ${input.checked.length} domains checked failed alike (${[...new Set(newlyFailing.map((c) => label(c.state.verdict)))].join(', ')}): ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}. A DNS server or the mail server is probably not answering.`;
      events.push({ type: 'raise', incident: { key: SERVER_KEY, kind: 'server-checks', severity: 'critical', subject: 'server', title: !input.resolverOk ? 'The check resolver does not validate' : 'Checks fail server-wide', detail } });
    }
    serverActive = true;
  } else if (serverOpen && !wide(serverFailing.length) && serverFailing.length < input.checked.length) {
    // Cleared only on evidence: some domain of this run answered normally.
    events.push({ type: 'resolve', key: SERVER_KEY, detail: 'Checks answer normally again.' });
    serverActive = false;
  }
  const baselines = new Map<string, DomainState>();
  for (const c of input.checked) {
    if (serverActive && SERVER_CLASS.has(c.state.verdict)) continue;
    events.push(...domainTransition(c.domain, input.baselines.get(c.domain), c.state, input.open.get(`domain:${c.domain}`)));
    baselines.set(c.domain, c.state);
  }
  return { events, baselines };
}

/**
 * Conditions that are themselves the transition (an issuer not covered appeared, a publish failed
 * twice, the timer stopped, a DANE-TA certificate got close to expiry): raise each active one that
 * is not open yet, resolve each open one of the family that is no longer active.
 */
export function conditionEvents(family: AlertKind, active: Incident[], open: Iterable<Incident>, resolvedDetail: (i: Incident) => string): AlertEvent[] {
  const activeKeys = new Set(active.map((i) => i.key));
  const openOfFamily = [...open].filter((i) => i.kind === family);
  const openByKey = new Map(openOfFamily.map((i) => [i.key, i]));
  const rank = (sev: string) => ['info', 'warning', 'critical'].indexOf(sev);
  // New incidents, and open ones that got worse (a higher severity: the store lifts an acknowledgement).
  const worse = (i: Incident) => rank(i.severity) > rank(openByKey.get(i.key)!.severity);
  return [
    ...active.filter((i) => !openByKey.has(i.key) || worse(i)).map((incident): AlertEvent => ({ type: 'raise', incident })),
    ...openOfFamily.filter((i) => !activeKeys.has(i.key)).map((i): AlertEvent => ({ type: 'resolve', key: i.key, detail: resolvedDetail(i) })),
  ];
}

/** The timer has not run for two intervals (only the daemon can see this). */
export function timerCondition(lastRunAt: number | null, now: number, intervalMs: number, since: number): Incident[] {
  const last = lastRunAt ?? since;
  if (now - last <= 2 * intervalMs) return [];
  const mins = Math.round((now - last) / 60_000);
  return [{ key: 'timer:server', kind: 'timer-stalled', severity: 'warning', subject: 'server', title: 'The reconcile timer has stopped', detail: `The periodic reconcile has not run for ${mins} minutes (expected every ${Math.round(intervalMs / 60_000)}). Renewals are then only followed by hooks. Check: systemctl status tlsa-manager-reconcile.timer` }];
}

/** How the last periodic reconcile ended (src/hooks/timer-health.ts keeps it). */
export interface TimerRunOutcome {
  ok: boolean;
  how: 'finished' | 'crashed';
  startedAt: string;
  finishedAt: string | null;
  /** "phase: what went wrong" for a run that finished with failures. */
  failures: string[];
}

/**
 * The last periodic reconcile failed (a phase failed or overran) or died without finishing (a
 * run still marked as running whose process is gone: `died`). Either way part of the server's
 * work (import, checks, DNSSEC watch, alerts, publishing) was not done.
 */
export function timerFailedCondition(last: TimerRunOutcome | null, died: { startedAt: string } | null): Incident[] {
  const incident = (detail: string): Incident[] => [{ key: 'timer-failed:server', kind: 'timer-failed', severity: 'critical', subject: 'server', title: 'The periodic reconcile failed', detail: `${detail} Its log: journalctl -u tlsa-manager-reconcile.service` }];
  if (died) return incident(`The run started at ${died.startedAt} stopped without finishing (it crashed or was killed); checks, alerts and publishing after that point did not happen.`);
  if (!last || last.ok) return [];
  if (last.how === 'crashed') return incident(last.failures[0] ? `${last.failures[0]}.` : 'A run stopped without finishing.');
  return incident(`The run started at ${last.startedAt} finished with failures: ${last.failures.join('; ')}.`);
}

/** A zone's publish has failed `streak` times in a row. */
export function publishCondition(zone: string, streak: number, lastError: string): Incident[] {
  if (streak < 2) return [];
  return [{ key: `publish:${zone}`, kind: 'publish-failed', severity: 'critical', subject: zone, title: `Publishing TLSA records to ${zone} failed ${streak} times`, detail: `The last ${streak} attempts to publish to ${zone} failed: ${lastError}` }];
}

/** One stored report's DANE failures for one domain, as the report claims them. */
export interface ReportClaim {
  domain: string;
  organization: string;
  /** DKIM d= of a verified signature, else the From domain ('' when neither). */
  signer: string;
  authenticated: boolean;
  /** End of the reported period (ms). */
  end: number;
  /** Failed sessions of the DANE result types. */
  count: number;
}

/** Sender of the key: an authenticated signer, or every unauthenticated report together (they cannot be told apart). */
const UNAUTHENTICATED = '(unauthenticated)';

/**
 * Senders reported DANE failures (tlsa-invalid, dnssec-invalid) for a domain: an incident per
 * domain and sender (issue 14; issue 21's rules, because anyone can mail a report):
 * - only domains hosted here (customer domains) raise anything;
 * - at most one open incident per domain and sender: an authenticated sender is its DKIM
 *   domain, all unauthenticated reports are one sender;
 * - ONE rule closes them: the domain's latest check validates AND no authenticated report with
 *   failures ended after that check. A clean report closes nothing, and an unauthenticated one
 *   never keeps an incident open against a validating check (so it can open one, marked as a
 *   claim, only while the domain is not known to validate).
 * Report text (organisation names) is quoted as a claim and stripped of control characters.
 */
export function tlsrptCondition(claims: ReportClaim[], hosted: ReadonlySet<string>, checks: ReadonlyMap<string, { time: number; validates: boolean }>): Incident[] {
  const byKey = new Map<string, { domain: string; sender: string; authenticated: boolean; list: ReportClaim[] }>();
  for (const c of claims) {
    if (!hosted.has(c.domain) || c.count <= 0) continue;
    const check = checks.get(c.domain);
    const closed = check?.validates === true && !claims.some((x) => x.domain === c.domain && x.authenticated && x.count > 0 && x.end > check.time);
    if (closed) continue;
    const sender = c.authenticated ? c.signer || c.organization : UNAUTHENTICATED;
    const key = `tlsrpt:${c.domain}:${sender}`;
    const entry = byKey.get(key) ?? { domain: c.domain, sender, authenticated: c.authenticated, list: [] };
    entry.list.push(c);
    byKey.set(key, entry);
  }
  return [...byKey].map(([key, e]) => {
    const total = e.list.reduce((n, f) => n + f.count, 0);
    const orgs = new Map<string, { count: number; end: number }>();
    for (const f of e.list) {
      const o = orgs.get(f.organization) ?? { count: 0, end: 0 };
      orgs.set(f.organization, { count: o.count + f.count, end: Math.max(o.end, f.end) });
    }
    // Which day the counts are from: the latest report's period, the day before it ends.
    const who = [...orgs].slice(0, 5).map(([o, x]) => `"${stripControl(o).slice(0, 80)}" (${x.count}, latest report for ${new Date(x.end - 1).toISOString().slice(0, 10)})`).join(', ') + (orgs.size > 5 ? `, and ${orgs.size - 5} more` : '');
    const how = e.authenticated ? `signed (DKIM) by ${e.sender}` : 'NOT authenticated (no valid DKIM signature: anyone could have sent them)';
    return {
      key,
      kind: 'tlsrpt-dane-failure' as const,
      severity: 'critical' as const,
      subject: e.domain,
      domain: e.domain,
      title: `Senders report ${total} DANE failure(s) for ${e.domain}${e.authenticated ? '' : ' (unauthenticated reports)'}`,
      detail: `TLS reports (RFC 8460) ${how} count sessions to ${e.domain} that failed DANE validation (tlsa-invalid or dnssec-invalid), per reporting organisation as named in the report: ${who}. Check the domain's TLSA records and DNSSEC chain now. This clears when a check of the domain validates and no signed report counts failures after it.`,
    };
  });
}

/**
 * Mail to the TLS-RPT address no longer reaches our pipe (issue 23): one server incident with the
 * likely cause and the fix. `detail` is what Exim's address test said.
 */
export function tlsrptRouteCondition(route: { state: 'ok' | 'lost'; address: string; detail: string }, repairCommand: string): Incident[] {
  if (route.state === 'ok') return [];
  return [
    {
      key: 'tlsrpt-route:server',
      kind: 'tlsrpt-route-lost',
      severity: 'warning',
      subject: 'server',
      title: `TLS reports to ${route.address} no longer reach TLSA Manager`,
      detail: `${route.detail}. TLS reports mailed to ${route.address} are not imported. Likely cause: TLSA Manager's router and transport are gone from /etc/exim.conf.local (saving WHM » Exim Configuration Manager » Advanced Editor replaces that file, "Reset to defaults" deletes it). Fix: as root run ${repairCommand} (it adds exactly those lines back, keeps a copy of the old file, rebuilds Exim's configuration with /scripts/buildeximconf and restarts Exim).`,
    },
  ];
}

export const TA_EXPIRY_DAYS = 7;

/** Certificates a DANE-TA (2 x x) record depends on that expire within 7 days. */
export function expiryConditions(hosts: { host: string; notAfter: number; taDependent: boolean }[], now: number): Incident[] {
  return hosts
    .filter((h) => h.taDependent && h.notAfter - now < TA_EXPIRY_DAYS * 86_400_000)
    .map((h) => {
      const when = new Date(h.notAfter).toISOString().slice(0, 10);
      return { key: `expiry:${h.host}`, kind: 'ta-cert-expiring' as const, severity: 'warning' as const, subject: h.host, host: h.host, title: `Certificate of ${h.host} ${h.notAfter < now ? 'expired' : 'expires'} ${when}`, detail: `${h.host} presents a certificate that ${h.notAfter < now ? 'expired' : 'expires'} on ${when}; its 2 x x (DANE-TA) records only validate while it is in date, so senders relying on them will refuse it. ${VERDICTS.expiring.fix}` };
    });
}

/** Issuers a renewal brought that no published 2 1 1 covered (warnings of the planner). */
export function issuerConditions(warnings: { subject?: string; message: string }[]): Incident[] {
  return warnings
    .filter((w) => w.subject)
    .map((w) => ({ key: `issuer:${w.subject}`, kind: 'issuer-not-covered' as const, severity: 'warning' as const, subject: w.subject!, host: w.subject!, title: `New issuer not covered for ${w.subject}`, detail: w.message }));
}

/** A domain under an enforce MTA-STS policy, with its latest check (src/mtasts/checks-store.ts). */
export interface EnforcedCheck {
  domain: string;
  /** The max_age of the enforce policy senders hold (s). */
  maxAge: number;
  /** The latest check's problems (code, message, fix). */
  problems: { code: string; message: string; fix?: string }[];
}

/**
 * Under enforce, a check that finds a problem is critical at once: senders that hold the policy
 * refuse an MX it does not cover or whose certificate is not valid, and they keep holding it for
 * max_age, so moving the domain back to testing does not help at once. Clears with a clean check.
 */
export function mtaStsBrokenCondition(enforced: EnforcedCheck[]): Incident[] {
  return enforced
    .filter((e) => e.problems.length > 0)
    .map((e) => {
      const days = Math.round(e.maxAge / 86400);
      const found = e.problems.slice(0, 5).map((p) => `${p.code}: ${stripControl(p.message).slice(0, 300)}`).join(' ');
      const fixes = [...new Set(e.problems.slice(0, 5).map((p) => p.fix).filter((f): f is string => Boolean(f)).map((f) => stripControl(f).slice(0, 300)))].join(' ');
      return {
        key: `mta-sts-broken:${e.domain}`,
        kind: 'mta-sts-broken' as const,
        severity: 'critical' as const,
        subject: e.domain,
        domain: e.domain,
        title: `MTA-STS enforce policy of ${e.domain} has problems`,
        detail: `The check of ${e.domain} under its enforce MTA-STS policy found: ${found} Senders that fetched the policy refuse delivery to an MX host it does not cover or whose certificate is not valid, and they keep the policy for its max_age (${e.maxAge} s, about ${days} day(s)): moving the domain back to testing does not help at once. Fix what the check names now${fixes ? `: ${fixes}` : ''}, then check again (tlsa-manager mta-sts status ${e.domain}).`,
      };
    });
}

/** A domain moved from testing to enforce on evidence (auto-enforce): news, once. */
export function mtaStsEnforcedIncident(domain: string, why: string): Incident {
  return {
    key: `mta-sts-enforced:${domain}`,
    kind: 'mta-sts-enforced',
    severity: 'info',
    subject: domain,
    domain,
    title: `MTA-STS of ${domain} moved to enforce`,
    detail: `Auto-enforce moved ${domain} from testing to enforce: ${stripControl(why).slice(0, 800)} The enforce policy is served next, then its id is published. This clears when a check finds the enforce policy served and clean; to go back: tlsa-manager mta-sts mode ${domain} testing.`,
  };
}
