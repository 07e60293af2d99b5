import type { AppContext } from '../context.js';
import { scanServer, type Endpoint, type ScanResult } from '../cpanel/scan.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { managedZones, providerKindFor, type Providers } from '../dns/registry.js';
import type { ApplyResult, Change } from '../dns/provider.js';
import { toProblem, type Problem } from '../problem.js';
import { computeRdata } from '../tlsa/records.js';
import type { TlsaRecord } from '../tlsa/types.js';
import { desiredRecords, type DesiredSet } from './desired.js';
import { planZone, type ZonePlan } from './plan.js';
import { emptyLedger } from '../state/db.js';
import { mapLimit } from '../util/concurrency.js';

export interface RunPlan {
  scan: ScanResult;
  zones: ZonePlan[];
  unmanaged: DesiredSet['unmanaged'];
  problems: Problem[];
}

export interface PlanOptions {
  /** Only these domains (partial run: hooks, "publish selected"). */
  domains?: string[];
  force?: boolean;
  takeover?: string[];
  /** Use the ledger in the state database (false: a read-only preview without one). */
  useState?: boolean;
  /** Scan result to reuse (the web app keeps one). */
  scan?: ScanResult;
}

/** The whole pipeline up to the changes: scan → desired → populate → plan. Changes nothing but the ledger's sightings. */
export async function makePlan(ctx: AppContext, providers: Providers, opts: PlanOptions = {}): Promise<RunPlan> {
  const scan =
    opts.scan ??
    (await scanServer(ctx.root, {
      extraAddresses: ctx.config.serverAddresses,
      ...(opts.domains ? { onlyDomains: new Set(opts.domains) } : {}),
    }));
  const managed = managedZones(ctx, scan.localZones);
  const desired = desiredRecords(scan.endpoints, { ...ctx.config.policy }, (host) => LocalZones.enclosing(host, managed));
  const problems: Problem[] = [...scan.problems, ...desired.problems];
  const ledger = opts.useState === false ? emptyLedger : ctx.state();
  const partial = opts.domains !== undefined;
  const servedByHost = new Map(scan.endpoints.map((e) => [e.host, e]));
  const zonesToPlan = new Set(desired.byZone.keys());
  if (!partial && opts.useState !== false) {
    // Zones where we published before may need cleaning even if nothing is desired there now.
    for (const z of managed) if (ctx.state().ownersInZone(z).length > 0) zonesToPlan.add(z);
  }

  const zones = await mapLimit([...zonesToPlan].sort(), 8, async (zone): Promise<ZonePlan | null> => {
    const kind = providerKindFor(zone, ctx, scan.localZones);
    if (!kind) return null;
    const provider = providers.get(kind);
    const want = desired.byZone.get(zone) ?? [];
    if ('code' in provider) {
      problems.push({ ...provider, subject: zone });
      return null;
    }
    const owners = new Set(want.map((d) => d.owner));
    if (!partial && opts.useState !== false) for (const o of ctx.state().ownersInZone(zone)) owners.add(o);
    let published;
    try {
      published = await provider.populate(zone, [...owners]);
    } catch (err) {
      problems.push({ ...toProblem(err, 'provider-read-failed', zone), severity: 'error' });
      return null;
    }
    if (opts.useState !== false) ctx.state().observe(zone, [...owners], published, ctx.now());
    return planZone({
      zone,
      provider: kind,
      desired: want,
      published,
      ledger,
      stillServed: (r) => stillServed(servedByHost, r),
      ...(opts.takeover ? { takeover: new Set(opts.takeover) } : {}),
      now: ctx.now(),
      ttl: ctx.config.policy.ttl,
      maxDeleteShare: ctx.config.policy.maxDeleteShare,
      force: opts.force ?? false,
    });
  });
  return { scan, zones: zones.filter((z): z is ZonePlan => z !== null), unmanaged: desired.unmanaged, problems };
}

function stillServed(servedByHost: Map<string, Endpoint>, r: TlsaRecord): boolean {
  const host = r.owner.replace(/^_\d+\._tcp\./, '');
  const ep = servedByHost.get(host);
  if (!ep?.served) return false;
  const rd = computeRdata(ep.served.chain, r);
  return 'data' in rd && rd.data === r.data.toLowerCase();
}

/** Carry out each zone's changes through its provider; failures are per zone and recorded. */
export async function applyPlan(ctx: AppContext, providers: Providers, plan: RunPlan, actor: string): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const zp of plan.zones) {
    if (zp.changes.length === 0) continue;
    const provider = providers.get(zp.provider as 'cpanel' | 'cloudflare');
    if ('code' in provider) {
      results.push({ zone: zp.zone, provider: zp.provider, applied: [], problem: provider });
      continue;
    }
    let result: ApplyResult;
    try {
      result = await provider.apply(zp.zone, zp.changes);
    } catch (err) {
      result = { zone: zp.zone, provider: zp.provider, applied: [], problem: toProblem(err, 'apply-failed', zp.zone) };
    }
    recordResult(ctx, actor, zp.changes, result);
    results.push(result);
  }
  return results;
}

function recordResult(ctx: AppContext, actor: string, changes: Change[], result: ApplyResult): void {
  const state = ctx.state();
  const now = ctx.now();
  const created = result.applied.filter((c) => c.kind === 'create').map((c) => c.record);
  const deleted = result.applied.filter((c) => c.kind === 'delete').map((c) => c.record);
  state.recordApplied(result.zone, created, deleted, now);
  for (const c of result.applied) {
    state.logActivity({ actor, kind: c.kind, zone: result.zone, subject: c.record.owner, detail: `${c.record.usage} ${c.record.selector} ${c.record.matchingType} ${c.record.data} (${c.reason})`, ok: true });
  }
  if (result.problem) {
    state.logActivity({ actor, kind: 'apply-failed', zone: result.zone, subject: result.zone, detail: `${changes.length} change(s) not applied: ${result.problem.message}`, ok: false });
  }
}
