import type { AppContext } from '../context.js';
import { categoryOf, type Category } from '../dane/category.js';
import type { DomainCheck } from '../dane/verdict.js';
import { scanServer, type DomainReport, type Endpoint, type ExternalDns } from '../cpanel/scan.js';
import { enclosingZone } from '../cpanel/local-zones.js';
import { checkName } from '../dns/names.js';
import { managedZones, providerFor } from '../provider-instances.js';
import { changedSinceCheck, publishedMarks } from '../checks/scheduled.js';
import { closestStatus, dnssecForDomain } from '../dnssec/summary.js';
import type { DsRecord } from '../dnssec/keys.js';
import type { DnssecState } from '../dnssec/state.js';
import { latestDnssec } from '../dnssec/watch.js';
import { chooseWithinBudget } from '../plan/budget.js';
import { desiredRecords, PRIORITY, type DesiredRecord } from '../plan/desired.js';
import type { Problem } from '../problem.js';
import { KNOWN_ISSUERS, keyKind } from '../tlsa/known-issuers.js';
import { storedOr } from '../state/per-state.js';
import { tlsrptTotals } from '../tlsrpt/import.js';
import { optedIn } from '../mtasts/desired.js';
import { storedStates, type MtaStsMode } from '../mtasts/store.js';
import { MtaStsChecks } from '../mtasts/checks-store.js';
import type { StsState } from '../mtasts/status.js';
import { renewalBreaksAt } from './renewal.js';
import type { Identity } from './identity.js';
import { refusal, scopeOf } from './scope.js';

/** One record the account owner adds at their DNS host, with why in plain words. */
export interface HandRecord {
  owner: string;
  ttl: number;
  usage: number;
  selector: number;
  matchingType: number;
  data: string;
  why: string;
}

export interface DomainStatus {
  domain: string;
  /** Where mail to the domain is delivered: this server, another server, or nowhere known. */
  mail: 'here' | 'elsewhere' | 'none';
  /** Who publishes the domain's DNS: this server's zone, a provider configured here (its kind), or someone else. */
  dnsHost: string;
  dane: { category: Category; problems: Pick<Problem, 'code' | 'message' | 'fix'>[] };
  dnssec: { state: DnssecState; ds: DsRecord[]; parentDs: DsRecord[] };
  /** Only when the DNS is not managed here: records that survive AutoSSL renewals (issuer pins). */
  recordsByHand: HandRecord[];
  /** Sessions senders reported in TLS reports of the last 7 days; null: no report yet. */
  tlsrpt: { successful7d: number; failed7d: number } | null;
  /**
   * When the records the owner added at their DNS host break (the end of the certificate that is
   * renewed first, with a new key), or null: only for DNS elsewhere with mail here (renewal.ts).
   */
  renewalBreaks: string | null;
  /**
   * MTA-STS (the protection Gmail and Yahoo check): off, or the domain's own mode, and what the
   * latest check saw (state null: not checked yet).
   */
  mtaSts: { mode: 'off' | MtaStsMode; state: StsState | null; checkedAt: string | null; problems: Pick<Problem, 'code' | 'message' | 'fix'>[] };
}

export interface AccountStatus {
  account: string;
  domains: DomainStatus[];
}

/**
 * The records an account owner adds by hand for a host served here when their DNS is elsewhere.
 * AutoSSL makes a new key at every renewal (Cpanel/SSL/Auto/Provider.pm `generate_key`), so a
 * `3 1 1` added by hand breaks at the next renewal: only the CA family's `2 1 1` issuer pins
 * (the planner's issuerPins, including the next key's kind from the account's preference) are
 * offered, whatever the server's own policy publishes in zones it manages.
 */
export function handRecords(endpoint: Endpoint, policy: { ports: number[]; ttl: number; maxRecordsPerOwner: number }, now: Date): HandRecord[] {
  const set = desiredRecords([endpoint], { ports: policy.ports, records: ['2 1 1'], ttl: policy.ttl }, () => null, now);
  const all = set.unmanaged.flatMap((u) => u.records);
  // The owner budget the planner keeps in managed zones holds here too (senders handle ~12
  // records per owner): the served issuer first, then the next key's kind, then siblings.
  const owners = [...new Set(all.map((r) => r.owner))];
  const kept = owners.flatMap((o) => chooseWithinBudget(all.filter((r) => r.owner === o), [], () => true, policy.maxRecordsPerOwner).kept);
  return kept.map((r) => ({ owner: `${r.owner}.`, ttl: r.ttl, usage: r.usage, selector: r.selector, matchingType: r.matchingType, data: r.data, why: whyOf(r, endpoint) }));
}

const KIND_WORDS: Record<string, string> = { rsa: 'RSA', ec: 'ECDSA' };

/** One line an account owner understands: what the record pins and why it survives a renewal. */
function whyOf(r: DesiredRecord, ep: Endpoint): string {
  const known = KNOWN_ISSUERS.find((k) => k.spkiSha256 === r.data);
  // The table's short name (R12), else the issuer's common name, else its whole subject.
  const issuer = known?.name ?? /(?:^|, )CN=([^,]+)/.exec(r.issuer ?? '')?.[1] ?? r.issuer ?? 'the certificate authority';
  if (r.priority === PRIORITY.servedIssuer) {
    return `Names ${issuer}, the authority that signed the certificate your mail server shows now; it stays right when AutoSSL renews the certificate with a new key.`;
  }
  const nextKind = ep.nextKey ? keyKind(ep.nextKey.keyAlgorithm) : null;
  if (known && nextKind && keyKind(known.keyAlgorithm) === nextKind && nextKind !== keyKind(ep.served?.chain[0]?.keyAlgorithm ?? '')) {
    return `Names ${issuer}, which signs ${KIND_WORDS[nextKind] ?? nextKind} certificates: your next certificate gets an ${ep.nextKey!.label} key (your AutoSSL key setting), so this keeps mail safe after the renewal.`;
  }
  return `Names ${issuer}, another signer of the same authority that may sign your next certificate, so mail stays safe whichever one AutoSSL gets.`;
}

/**
 * MX hosts as the last stored DANE check saw them: the scan needs no network for domains whose
 * zone is elsewhere (this command only reads what the product already stores).
 */
function storedDns(checks: Map<string, { result: unknown }>): ExternalDns {
  const mxOf = (domain: string) => (checks.get(domain)?.result as Partial<DomainCheck> | undefined)?.mx;
  return {
    mx: async (domain) => {
      const mx = mxOf(domain);
      return Array.isArray(mx) ? mx.map((m) => ({ preference: m.preference, host: m.host })) : null;
    },
    addresses: async (host) => {
      for (const c of checks.values()) {
        const hit = (c.result as Partial<DomainCheck> | undefined)?.mx?.find((m) => m.host === host);
        if (hit && Array.isArray(hit.addresses)) return hit.addresses;
      }
      return null;
    },
  };
}

function mailOf(d: DomainReport): DomainStatus['mail'] {
  if (d.mx.some((m) => m.pointsHere)) return 'here';
  if (d.mx.length > 0 || d.mail === 'remote') return 'elsewhere';
  return d.mail === 'local' ? 'here' : 'none';
}

/**
 * What `who` sees of its domains (all, or just `only`), from what the product stores: latest
 * checks, the DNSSEC watcher's states, TLS-RPT totals; the server's files for mail and DNS. No
 * network. A domain outside the scope, or missing, is the same `refusal`.
 */
export async function accountStatus(ctx: AppContext, who: Identity & { kind: 'account' }, only?: string): Promise<AccountStatus | Problem> {
  const scope = scopeOf(ctx.root, who);
  if (only !== undefined && !scope.sees(only)) return refusal(who, only);
  const asked = only === undefined ? null : checkName(only);
  const wanted = scope.domains.filter((d) => asked === null || (asked.ok && d.domain === asked.name));
  const db = storedOr(() => ctx.readState(), null);
  // Only the account's own checks: the whole server's results would cost memory per page view.
  const checks = storedOr(() => {
    const out = new Map<string, { time: string; verdict: string; result: unknown }>();
    for (const d of wanted) {
      const c = db?.latestCheckOf(d.domain);
      if (c) out.set(d.domain, c);
    }
    return out;
  }, new Map<string, { time: string; verdict: string; result: unknown }>());
  const dnssec = storedOr(() => (db ? latestDnssec(ctx) : new Map()), new Map());
  const reports = storedOr(() => tlsrptTotals(ctx), new Map());
  const marks = storedOr(() => publishedMarks(db), new Map());
  const sts = storedStates(ctx);
  const scan = await scanServer(ctx.root, { onlyDomains: new Set(wanted.map((d) => d.domain)), externalDns: storedDns(checks), extraAddresses: ctx.config.serverAddresses, now: new Date(ctx.now()) });
  const stsChecks = db ? new MtaStsChecks(db.db, { readOnly: true }) : null;
  const stsOf = (domain: string): DomainStatus['mtaSts'] => {
    if (!optedIn(domain, ctx.config.mtaSts.publish)) return { mode: 'off', state: null, checkedAt: null, problems: [] };
    const last = storedOr(() => stsChecks?.latest(domain) ?? null, null);
    return { mode: sts.get(domain)?.mode ?? ctx.config.mtaSts.mode, state: last?.state ?? null, checkedAt: last?.time ?? null, problems: wellFormed(last?.status.problems).map(shown) };
  };
  const managed = managedZones(ctx, scan.localZones);
  const endpoints = new Map(scan.endpoints.map((e) => [e.host, e]));
  const now = new Date(ctx.now());
  const domains = scan.domains.map((d): DomainStatus => {
    const check = checks.get(d.domain);
    const mail = mailOf(d);
    const zone = enclosingZone(d.domain, managed);
    const kind = zone ? providerFor(zone, ctx, scan.localZones) : null;
    const dnsHost = !kind ? 'elsewhere' : kind === 'cpanel' ? 'here' : kind;
    const checkProblems = wellFormed((check?.result as Partial<DomainCheck> | undefined)?.problems);
    const problems = checkProblems.map(shown);
    const changed = changedSinceCheck(marks.get(d.domain), check?.time ?? null) !== null;
    const chain = dnssecForDomain(d.domain, d.zone, dnssec, check?.result);
    const status = closestStatus(d.domain, d.zone, dnssec);
    const hand = dnsHost === 'elsewhere' && mail === 'here'
      ? d.mx.filter((m) => m.pointsHere).flatMap((m) => { const ep = endpoints.get(m.host); return ep?.served ? handRecords(ep, ctx.config.policy, now) : []; })
      : [];
    const totals = reports.get(d.domain);
    return {
      domain: d.domain,
      mail,
      dnsHost,
      dane: { category: categoryOf({ verdict: check?.verdict, notOurs: mail !== 'here', problems: checkProblems, changedSinceCheck: changed }), problems },
      dnssec: { state: chain.state, ds: status?.ds ?? [], parentDs: status?.parentDs ?? [] },
      recordsByHand: uniqueRecords(hand),
      tlsrpt: totals ? { successful7d: totals.successful, failed7d: totals.failed } : null,
      renewalBreaks: dnsHost === 'elsewhere' && mail === 'here' ? renewalBreaksAt(check?.result, now.getTime()) : null,
      mtaSts: stsOf(d.domain),
    };
  });
  return { account: who.name, domains };
}

/** The well-formed problems of a stored result (stored JSON is read as it is: anything else is dropped). */
function wellFormed(list: unknown): Problem[] {
  return Array.isArray(list) ? list.filter((p): p is Problem => typeof p?.code === 'string' && typeof p.message === 'string') : [];
}

/** What an owner is shown of a problem: its words and its fix. */
function shown(p: Problem): Pick<Problem, 'code' | 'message' | 'fix'> {
  return { code: p.code, message: p.message, ...(p.fix ? { fix: p.fix } : {}) };
}

/** Two MX hosts of one domain may share records (same owner only when the host is the same). */
function uniqueRecords(list: HandRecord[]): HandRecord[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const k = `${r.owner} ${r.usage} ${r.selector} ${r.matchingType} ${r.data}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
