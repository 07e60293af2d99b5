import { enclosingZone } from '../cpanel/local-zones.js';
import { summarizeCertificate, type CertificateSummary, type Endpoint, type ScanResult } from '../cpanel/scan.js';
import type { NextKey } from '../cpanel/key-preference.js';
import type { Problem } from '../problem.js';
import { recordKey, type TlsaRecord } from '../tlsa/types.js';
import type { DesiredRecord, DesiredTlsrpt } from './desired.js';
import type { DesiredMtaSts, WantedPolicy } from '../mtasts/desired.js';
import type { ZonePlan } from './plan.js';
import type { RunPlan } from './run.js';

/**
 * A plan as the pages and the audit show it, kept for the life of the web app's snapshot: what
 * they read and nothing else (issue 26: the service's memory). Left out of a RunPlan: the inputs
 * apply needs to re-plan (desired records with their reasons per zone, what each zone showed, the
 * per-zone plans), and the parsed certificates (DER buffers, four per certificate): each served
 * certificate becomes the summary the domain page shows, made once per certificate file.
 */
export interface EndpointView {
  host: string;
  domains: string[];
  served: CertificateSummary | null;
  problems: Problem[];
  nextKey?: NextKey;
}

/** What auditRows reads (src/report/audit.ts): `audit` builds this much, the web app all of PlanView. */
export interface AuditInput {
  scan: { domains: ScanResult['domains']; endpoints: EndpointView[] };
  zones: ZonePlan[];
  unmanaged: RunPlan['unmanaged'];
}

export interface PlanView extends AuditInput {
  scan: Omit<ScanResult, 'endpoints'> & { endpoints: EndpointView[] };
  refused: RunPlan['refused'];
  /** The MTA-STS policies the settings want served now (the domain page's MTA-STS panel). */
  mtaStsPolicies: WantedPolicy[];
  problems: Problem[];
  /** TLSRPT policies wanted, by the zone of their mail domain (the domain page's policy panel). */
  tlsrptByZone: Map<string, DesiredTlsrpt[]>;
  /** MTA-STS TXT records wanted, by the zone of their mail domain (the domain page's MTA-STS panel). */
  mtaStsByZone: Map<string, DesiredMtaSts[]>;
  /** Per MX host with a served certificate: the records the domain page lists as expected. */
  expectedByHost: Map<string, TlsaRecord[]>;
}

/** The endpoints with their certificates summarised (a certificate file shared by many hosts: one summary). */
function endpointViews(endpoints: Endpoint[]): EndpointView[] {
  const summaries = new Map<NonNullable<Endpoint['served']>, CertificateSummary>();
  return endpoints.map((e) => {
    let served: CertificateSummary | null = null;
    if (e.served) {
      served = summaries.get(e.served) ?? summarizeCertificate(e.served);
      summaries.set(e.served, served);
    }
    return { host: e.host, domains: e.domains, served, problems: e.problems, ...(e.nextKey ? { nextKey: e.nextKey } : {}) };
  });
}

export function auditInput(plan: RunPlan): AuditInput {
  return { scan: { domains: plan.scan.domains, endpoints: endpointViews(plan.scan.endpoints) }, zones: plan.zones, unmanaged: plan.unmanaged };
}

/** A plan's zones by name, to find the zone of a host. */
export interface ZoneIndex {
  names: Set<string>;
  byName: Map<string, ZonePlan>;
}

export function zoneIndex(plan: { zones: ZonePlan[] }): ZoneIndex {
  const byName = new Map<string, ZonePlan>();
  for (const z of plan.zones) if (!byName.has(z.zone)) byName.set(z.zone, z);
  return { names: new Set(byName.keys()), byName };
}

/** The plan of the zone holding `host`'s TLSA owners: the longest enclosing planned zone. */
export function zonePlanFor(zones: ZoneIndex, host: string): ZonePlan | null {
  const zone = enclosingZone(host, zones.names);
  return zone === null ? null : (zones.byName.get(zone) ?? null);
}

/**
 * The records wanted for each MX host, as run.ts desiredFor picks them (the unmanaged host's own
 * list, else the first zone's records for the host), made in one pass over the plan.
 */
function desiredByHost(plan: RunPlan): Map<string, DesiredRecord[]> {
  const out = new Map<string, DesiredRecord[]>();
  const zoneOf = new Map<string, string>();
  for (const [zone, records] of plan.inputs.desiredByZone) {
    for (const r of records) {
      const first = zoneOf.get(r.host);
      if (first !== undefined && first !== zone) continue;
      zoneOf.set(r.host, zone);
      const list = out.get(r.host);
      if (list) list.push(r);
      else out.set(r.host, [r]);
    }
  }
  const unmanaged = new Map<string, DesiredRecord[]>();
  for (const u of plan.unmanaged) if (!unmanaged.has(u.host)) unmanaged.set(u.host, u.records);
  for (const [host, records] of unmanaged) out.set(host, records);
  return out;
}

/**
 * The expected records of one host on the domain page: wanted and within the owner's budget,
 * each once (the same record wanted twice at a renewal is one row), as published records (no
 * reason, priority or issuer). Owners are shared strings: the same owner text once in memory.
 */
function expectedRecords(desired: DesiredRecord[], zp: ZonePlan | null, host: string, owners: Map<string, string>): TlsaRecord[] {
  const left = new Set((zp?.overBudget ?? []).filter((o) => o.record.host === host).map((o) => recordKey(o.record)));
  const seen = new Set<string>();
  const out: TlsaRecord[] = [];
  for (const d of desired) {
    const k = recordKey(d);
    if (left.has(k) || seen.has(k)) continue;
    seen.add(k);
    const { host: _h, port: _p, reason: _r, priority: _o, issuer: _i, ...r } = d;
    let owner = owners.get(r.owner);
    if (owner === undefined) owners.set(r.owner, (owner = r.owner));
    out.push({ ...r, owner });
  }
  return out;
}

export function planView(plan: RunPlan): PlanView {
  const base = auditInput(plan);
  const zones = zoneIndex(plan);
  const desired = desiredByHost(plan);
  const owners = new Map<string, string>();
  const expectedByHost = new Map<string, TlsaRecord[]>();
  for (const e of base.scan.endpoints) {
    if (!e.served) continue;
    expectedByHost.set(e.host, expectedRecords(desired.get(e.host) ?? [], zonePlanFor(zones, e.host), e.host, owners));
  }
  return {
    ...base,
    scan: { ...plan.scan, endpoints: base.scan.endpoints },
    refused: plan.refused,
    mtaStsPolicies: plan.mtaStsPolicies,
    problems: plan.problems,
    tlsrptByZone: plan.inputs.tlsrptByZone,
    mtaStsByZone: plan.inputs.mtaStsByZone,
    expectedByHost,
  };
}
