import { enclosingZone } from '../cpanel/local-zones.js';
import type { CertificateSummary, DomainReport, MxHost } from '../cpanel/scan.js';
import { dnskeyField, dsField, type DnskeyField, type DsField } from '../dnssec/handover.js';
import { closestStatus } from '../dnssec/summary.js';
import type { DnssecStatus } from '../dnssec/status.js';
import type { DomainCheck } from '../dane/verdict.js';
import { tlsaHost, tlsaOwner } from '../dns/names.js';
import type { Change, PublishedRecord } from '../providers/contract.js';
import type { HeldBackRecord, HeldRecord } from '../plan/plan.js';
import { toProblem, type Problem } from '../problem.js';
import { zoneIndex, zonePlanFor } from '../plan/view.js';
import { formatRecord, type TlsaRecord } from '../tlsa/types.js';
import type { NextKey } from '../cpanel/key-preference.js';
import type { Config } from '../state/config.js';
import { isManagedTxt, isMtaSts, isTlsrpt, mtaStsOwner, tlsrptOwner, type TxtKind } from '../dns/records.js';
import type { WebServices } from './services.js';
import type { ListRow, SnapshotData } from './snapshot.js';

export interface HostDetail {
  mx: MxHost;
  certificate: CertificateSummary | null;
  /** The key of the next AutoSSL certificate (the owner's preference), when known. */
  nextKey: NextKey | null;
  problems: Problem[];
  zone: string | null;
  provider: string | null;
  expected: TlsaRecord[];
  /** Null when the zone is not managed here or could not be read. */
  published: PublishedRecord[] | null;
  publishedProblem: Problem | null;
  creates: Change[];
  deletes: Change[];
  waiting: HeldRecord[];
  foreign: PublishedRecord[];
  /** Desired records the owner's budget leaves out (named, never silently dropped). */
  overBudget: HeldBackRecord[];
  /** Within the budget but waiting for older records to retire first. */
  deferred: HeldBackRecord[];
  blocked: Problem | null;
  /** Zone-file lines for the admin to add by hand (zone not managed here). */
  manualLines: string[];
}

export interface DomainDetail {
  row: ListRow;
  report: DomainReport;
  hosts: HostDetail[];
  check: DomainCheck | null;
  /** The zone's last DNSSEC chain status with the DS to hand over (null: not checked yet). */
  dnssec: DnssecHandoverView | null;
  /** The domain's TLSRPT policy record as the plan sees it (null: none wanted or found in a managed zone). */
  policy: PolicyView | null;
}

/** A managed TXT record of one domain (`_smtp._tls` TLS-RPT, `_mta-sts` MTA-STS): what is wanted, what the plan will do, what stays. */
export interface PolicyView {
  owner: string;
  /** The text wanted (null: none is wanted any more). */
  wanted: string | null;
  /** What the next apply does there; `foreign`: someone else's record is there and stays. */
  state: 'create' | 'replace' | 'delete' | 'in-sync' | 'foreign';
  /** The changes planned at the owner, in words. */
  changes: Change[];
  /** Records there that TLSA Manager did not create (never touched). */
  foreign: string[];
  notes: Problem[];
}

/** Per TXT kind: its owner name, which records are of the kind, the plan's wanted records, the warning naming a foreign one. */
const TXT_VIEWS = {
  TLSRPT: { owner: tlsrptOwner, is: isTlsrpt, wanted: (d: SnapshotData) => d.plan.tlsrptByZone, foreignCode: 'tlsrpt-foreign' },
  MTASTS: { owner: mtaStsOwner, is: isMtaSts, wanted: (d: SnapshotData) => d.plan.mtaStsByZone, foreignCode: 'mta-sts-foreign' },
} as const;

/** The domain's TXT record of a kind from the snapshot's plan (pure: the plan read the zone already). */
export function policyView(data: SnapshotData, domain: string, kind: TxtKind = 'TLSRPT'): PolicyView | null {
  const k = TXT_VIEWS[kind];
  const owner = k.owner(domain);
  const zone = enclosingZone(domain, new Set(data.plan.zones.map((z) => z.zone)));
  const zp = data.plan.zones.find((z) => z.zone === zone);
  if (!zp) return null;
  const wanted = k.wanted(data).get(zp.zone)?.find((t) => t.owner === owner)?.text ?? null;
  const changes = zp.changes.filter((c) => c.record.owner === owner && k.is(c.record));
  const foreign = zp.foreign.filter((f) => f.owner === owner && k.is(f)).map((f) => (isManagedTxt(f) ? f.text : ''));
  const notes = zp.warnings.filter((w) => w.code === k.foreignCode && w.subject === domain);
  if (wanted === null && changes.length === 0 && foreign.length === 0) return null;
  const creates = changes.some((c) => c.kind === 'create');
  const deletes = changes.some((c) => c.kind === 'delete');
  const state = foreign.length > 0 && !creates ? (deletes ? 'delete' : 'foreign') : creates ? (deletes ? 'replace' : 'create') : deletes ? 'delete' : 'in-sync';
  return { owner, wanted, state, changes, foreign, notes };
}

/** The DNSSEC panel: the stored status plus the DS and DNSKEY in the forms registrars ask for. */
export interface DnssecHandoverView {
  status: DnssecStatus;
  ds: DsField[];
  dnskey: DnskeyField[];
}

export function dnssecView(status: DnssecStatus | null): DnssecHandoverView | null {
  if (!status) return null;
  return { status, ds: status.ds.map((d) => dsField(status.zone, d)), dnskey: status.dnskey.map((k) => dnskeyField(status.zone, k)) };
}



/** Everything the domain page shows, from the snapshot plus a live read of the published records. */
export async function domainDetail(data: SnapshotData, domain: string, config: Config, services: WebServices): Promise<DomainDetail | null> {
  const row = data.byDomain.get(domain);
  const report = data.plan.scan.domains.find((d) => d.domain === domain);
  if (!row || !report) return null;
  const endpoints = new Map(data.plan.scan.endpoints.map((e) => [e.host, e]));
  const zones = zoneIndex(data.plan);
  const hosts: HostDetail[] = [];
  for (const mx of report.mx) {
    const ep = mx.pointsHere ? endpoints.get(mx.host) : undefined;
    const zp = zonePlanFor(zones, mx.host);
    const mine = (owner: string) => tlsaHost(owner) === mx.host;
    const expected: TlsaRecord[] = ep?.served ? (data.plan.expectedByHost.get(mx.host) ?? []) : [];
    const unmanaged = data.plan.unmanaged.find((u) => u.host === mx.host);
    const h: HostDetail = {
      mx,
      certificate: ep?.served ?? null,
      nextKey: ep?.served ? (ep.nextKey ?? null) : null,
      problems: [...(ep?.problems ?? []), ...(zp?.warnings.filter((w) => w.subject === mx.host) ?? [])],
      zone: zp?.zone ?? null,
      provider: zp?.provider ?? null,
      expected,
      published: null,
      publishedProblem: null,
      creates: zp?.changes.filter((c) => c.kind === 'create' && mine(c.record.owner)) ?? [],
      deletes: zp?.changes.filter((c) => c.kind === 'delete' && mine(c.record.owner)) ?? [],
      waiting: zp?.waiting.filter((w) => mine(w.record.owner)) ?? [],
      foreign: zp?.foreign.filter((f) => mine(f.owner)) ?? [],
      overBudget: zp?.overBudget.filter((o) => o.record.host === mx.host) ?? [],
      deferred: zp?.deferred.filter((o) => o.record.host === mx.host) ?? [],
      blocked: zp?.blocked ?? null,
      manualLines: unmanaged ? unmanaged.records.map(formatRecord) : [],
    };
    if (zp && mx.pointsHere) {
      const owners = config.policy.ports.map((p) => tlsaOwner(p, mx.host));
      try {
        h.published = await services.published(zp.zone, zp.provider, owners);
      } catch (err) {
        h.publishedProblem = toProblem(err, 'provider-read-failed', zp.zone);
      }
    }
    hosts.push(h);
  }
  const stored = data.checks.get(domain);
  return { row, report, hosts, check: (stored?.result as DomainCheck | undefined) ?? null, dnssec: dnssecView(closestStatus(row.domain, row.zone, data.dnssec)), policy: policyView(data, domain) };
}


/**
 * What the domain page can do itself, so every fix is a button where the product can do it and an
 * exact instruction (with the real names) where only a person can (issue 24).
 */
export interface DomainActions {
  /** The zone is managed here and has an MX host here: Publish works. */
  publish: boolean;
  /** Owners of this domain's MX hosts holding records TLSA Manager did not create. */
  takeover: string[];
  /** Enable DNSSEC works here (cPanel with PowerDNS, or Cloudflare). */
  enableDnssec: boolean;
  /** The zone is on this server's BIND, which cPanel does not sign with. */
  bind: boolean;
  /** The zone the domain lives in (or the domain itself when no zone here holds it). */
  zone: string;
}

export function domainActions(d: DomainDetail, nameserver: string | null): DomainActions {
  const managedHosts = d.hosts.filter((h) => h.mx.pointsHere && h.zone !== null);
  const provider = d.row.provider;
  return {
    publish: managedHosts.length > 0 && d.row.tlsa !== 'not-managed' && d.row.tlsa !== 'not-ours',
    takeover: [...new Set(managedHosts.flatMap((h) => h.foreign.map((f) => f.owner)))],
    enableDnssec: d.row.zone !== null && (provider === 'cloudflare' || (provider === 'cpanel' && nameserver === 'powerdns')),
    bind: d.row.zone !== null && provider === 'cpanel' && nameserver !== 'powerdns',
    zone: d.row.zone ?? d.row.domain,
  };
}
