import type { AppContext } from '../context.js';
import { scanServer, type Endpoint, type ScanResult } from '../cpanel/scan.js';
import { enclosingZone, zoneNegativeTtl } from '../cpanel/local-zones.js';
import { resolverDns } from '../cpanel/resolver-dns.js';
import { managedZones, providerFor, type Providers } from '../provider-instances.js';
import type { ApplyResult, Change, PublishedRecord, PublishedTlsa } from '../providers/contract.js';
import { describeData, isManagedTxt, defaultReportAddress } from '../dns/records.js';
import { problem, ProblemError, toProblem, type Problem, isProblem } from '../problem.js';
import { tlsaHost } from '../dns/names.js';
import { computeRdata } from '../tlsa/records.js';
import { findIssuer } from '../tlsa/certificate.js';
import type { TlsaRecord } from '../tlsa/types.js';
import { desiredRecords, desiredTlsrpt, type DesiredRecord, type DesiredSet, type DesiredTlsrpt } from './desired.js';
import { desiredMtaSts, wantedPolicies, type DesiredMtaSts, type GoneDomain, type WantedPolicy } from '../mtasts/desired.js';
import { MtaStsStore } from '../mtasts/store.js';
import { holdBackGone, planZone, serverWideLimit, type ZonePlan } from './plan.js';
import { emptyLedger } from '../state/ledger.js';
import type { StateDb } from '../state/db.js';
import { mapLimit } from '../util/concurrency.js';
import { LockBusyError, withLock } from '../util/lock.js';
import { lockPath } from './locks.js';
import { logSettled, settleIntent } from './recover.js';
import { notePublishOutcome } from '../alerts/evaluate.js';
import { scheduleAfterPublish } from '../checks/scheduled.js';

/**
 * A zone on this server that TLSA Manager will not edit (it cannot read it exactly). Never
 * silent: plan and apply list it with the reason, and apply fails while it holds an MX host
 * served here (or cannot tell).
 */
export interface RefusedZone {
  zone: string;
  problem: Problem;
  domains: string[];
  /** MX hosts of those domains served here (from the readable part of the zone); null: cannot tell. */
  mxHere: string[] | null;
}

export interface RunPlan {
  scan: ScanResult;
  /** The MTA-STS policies the settings want served now (the serve step writes them, src/mtasts/serve.ts). */
  mtaStsPolicies: WantedPolicy[];
  /** Domains turned off whose senders can hold no policy any more: their record goes now, the rest after the apply (mtasts/run.ts). */
  mtaStsRetired: string[];
  /** Stored MTA-STS domains no longer on the server (full runs only), and what becomes of each row (retire.ts goneOf). */
  mtaStsGone: GoneDomain[];
  zones: ZonePlan[];
  refused: RefusedZone[];
  unmanaged: DesiredSet['unmanaged'];
  problems: Problem[];
  /** Inputs kept so apply can re-plan each zone under its lock. */
  inputs: PlanInputs;
}

interface PlanInputs {
  opts: PlanOptions;
  /** What each planned zone showed at the owners read: apply records it in the ledger. */
  seen: Map<string, { owners: string[]; published: PublishedRecord[] }>;
  /** Each zone's plan with the zone generation it was made at (see StateDb.zoneGeneration). */
  planned: Map<string, { plan: ZonePlan; generation: number }>;
  desiredByZone: Map<string, DesiredRecord[]>;
  /** TLSRPT policies wanted, by the zone of their mail domain. */
  tlsrptByZone: Map<string, DesiredTlsrpt[]>;
  /** MTA-STS TXT records wanted (the ids of policies proven served), by the zone of their mail domain. */
  mtaStsByZone: Map<string, DesiredMtaSts[]>;
  servedByHost: Map<string, Endpoint>;
  localZones: Set<string>;
  /** Set when the whole run would strip too many owners (serverWideLimit): held back in every zone. */
  massDeletion?: Problem;
}

export interface PlanOptions {
  /** Only these domains (partial run: hooks, "publish selected"): no clean-up of other owners. */
  domains?: string[];
  force?: boolean;
  takeover?: string[];
  /** Read the ledger in the state database (false: a preview that ignores it). Planning never writes it. */
  useState?: boolean;
  /** Scan result to reuse (the web app keeps one). */
  scan?: ScanResult;
  /** Label domains main/addon/parked/sub (audit and web; costs a YAML parse per account). */
  kinds?: boolean;
  /** Records wanted in addition to the served certificates' (AutoSSL pre hook: the incoming certificate). */
  extraDesired?: DesiredRecord[];
  /** Only add records; never delete (the pre stage of a renewal). */
  createOnly?: boolean;
  /**
   * Made to be shown, never applied (plan, audit, the web's list): what each zone showed is not
   * kept for apply's ledger (18 MB at 10,000 zones holding their records, issue 10 §7). applyPlan
   * refuses such a plan.
   */
  showOnly?: boolean;
}

/** The records the planner wants for one MX host (managed zone or not). */
export function desiredFor(plan: RunPlan, host: string): DesiredRecord[] {
  const unmanaged = plan.unmanaged.find((u) => u.host === host);
  if (unmanaged) return unmanaged.records;
  for (const records of plan.inputs.desiredByZone.values()) {
    const mine = records.filter((r) => r.host === host);
    if (mine.length > 0) return mine;
  }
  return [];
}

/** The server scan as the settings ask for it (extra addresses, resolver for outside zones). */
export function scanFor(ctx: AppContext, opts: { domains?: string[]; kinds?: boolean } = {}): Promise<ScanResult> {
  return scanServer(ctx.root, {
    extraAddresses: ctx.config.serverAddresses,
    kinds: opts.kinds === true,
    ...(ctx.config.resolver ? { externalDns: resolverDns(ctx.config.resolver) } : {}),
    ...(opts.domains ? { onlyDomains: new Set(opts.domains) } : {}),
  });
}

/**
 * scan → desired → populate → plan for every zone involved. Changes nothing: no DNS, and no file
 * (the state database is only read, and not created). What the zones showed is recorded in the
 * ledger by applyPlan, so `plan`, `scan` and `audit` stay read-only.
 */
export async function makePlan(ctx: AppContext, providers: Providers, opts: PlanOptions = {}): Promise<RunPlan> {
  // The state database first: read-only, it is loaded as a copy in memory, and the file's bytes are
  // held twice while it opens; before the scan that happens while the heap is still small.
  const ledger = opts.useState === false ? null : ctx.readState();
  const scan = opts.scan ?? (await scanFor(ctx, opts));
  const managed = managedZones(ctx, scan.localZones);
  const zoneOf = (host: string) => enclosingZone(host, managed);
  const desired = desiredRecords(scan.endpoints, { ...ctx.config.policy }, zoneOf, new Date(ctx.now()));
  for (const extra of opts.extraDesired ?? []) {
    const zone = zoneOf(extra.host);
    if (!zone) continue;
    const list = desired.byZone.get(zone);
    if (list) list.push(extra);
    else desired.byZone.set(zone, [extra]);
  }
  const reports = desiredTlsrpt(scan.endpoints, { publish: ctx.config.tlsrpt.publish, address: reportAddress(ctx, scan.hostname), ttl: ctx.config.policy.ttl }, zoneOf);
  const stsStored = ledger ? new MtaStsStore(ledger.db, { readOnly: true }).all() : new Map();
  // A run for some domains (a hook, the domain page) leaves the others' MTA-STS alone, turned off or not.
  const scanned = new Set(scan.domains.map((d) => d.domain));
  // Only a full scan of a readable domain list can tell that a stored domain was removed (retire.ts goneOf); a name
  // /etc/userdomains lists but the scan skipped (not a valid name) is still on the server.
  const listRead = !scan.problems.some((p) => p.code === 'no-userdomains');
  const listed = [...scanned, ...scan.problems.filter((p) => p.code === 'name-invalid' && p.subject).map((p) => p.subject!)];
  const sts = wantedPolicies(scan.domains, { ...ctx.config.mtaSts }, opts.domains || !listRead ? new Map([...stsStored].filter(([d]) => scanned.has(d))) : stsStored, ctx.now(), listed);
  const stsRecords = desiredMtaSts(sts.policies, stsStored, zoneOf, ctx.config.policy.ttl);
  const inputs: PlanInputs = { opts, seen: new Map(), planned: new Map(), desiredByZone: desired.byZone, tlsrptByZone: reports.byZone, mtaStsByZone: stsRecords.byZone, servedByHost: new Map(scan.endpoints.map((e) => [e.host, e])), localZones: scan.localZones };
  const problems: Problem[] = [...scan.problems, ...desired.problems, ...reports.problems, ...sts.problems, ...stsRecords.problems];

  const zonesToPlan = new Set([...desired.byZone.keys(), ...reports.byZone.keys(), ...stsRecords.byZone.keys()]);
  if (cleansUp(opts) && ledger) for (const z of managed) if (ledger.ownersInZone(z).length > 0) zonesToPlan.add(z);
  await prepareProviders(ctx, providers, [...zonesToPlan], scan.localZones);
  const zones = await mapLimit([...zonesToPlan].sort(), 8, async (zone) => {
    const generation = ledger?.zoneGeneration(zone) ?? 0;
    const r = await planOneZone(ctx, providers, zone, inputs, ledger);
    if (isProblem(r)) {
      problems.push(r);
      return null;
    }
    inputs.planned.set(zone, { plan: r, generation });
    return r;
  });
  const planned = zones.filter((z): z is ZonePlan => z !== null);
  const mass = cleansUp(opts) && !opts.force ? serverWideLimit(planned, ctx.config.policy) : null;
  if (mass) {
    inputs.massDeletion = mass;
    for (const z of planned) holdBackGone(z, mass);
  }
  return { scan, mtaStsPolicies: sts.policies, mtaStsRetired: sts.retired, mtaStsGone: sts.gone, zones: planned, refused: refusedZones(scan), unmanaged: desired.unmanaged, problems, inputs };
}

/** The TLS-RPT report address: the settings', else tlsrpt@<server hostname> (null: neither is usable). */
function reportAddress(ctx: AppContext, hostname: string | null): string | null {
  return ctx.config.tlsrpt.address || defaultReportAddress(hostname);
}

function refusedZones(scan: ScanResult): RefusedZone[] {
  const byZone = new Map<string, RefusedZone>();
  for (const d of scan.domains) {
    if (!d.refused) continue;
    const zone = d.refused.zone;
    let z = byZone.get(zone);
    if (!z) byZone.set(zone, (z = { zone, problem: d.refused.problem, domains: [], mxHere: [] }));
    z.domains.push(d.domain);
    const here = d.refused.mxHere;
    z.mxHere = here === null || z.mxHere === null ? null : [...new Set([...z.mxHere, ...here])];
  }
  return [...byZone.values()].sort((a, b) => a.zone.localeCompare(b.zone));
}

/** The activity log gets a refusal when it is new or its reason changed, not at every timer tick. */
function logRefusal(ctx: AppContext, actor: string, zone: string, message: string): void {
  const state = ctx.state();
  const key = `zoneRefused:${zone}`;
  if (state.getMeta(key) === message) return;
  state.logActivity({ actor, kind: 'zone-refused', zone, subject: zone, detail: message, ok: false });
  state.setMeta(key, message);
}

/** A refused zone that may hold mail served here: apply must not report success over it. */
export function refusalMatters(z: RefusedZone): boolean {
  return z.mxHere === null || z.mxHere.length > 0;
}

/** One sentence for a refused zone: the reason, and what it means for mail here. */
export function refusalMessage(z: RefusedZone): string {
  const mail = z.mxHere === null
    ? 'TLSA Manager cannot tell whether an MX host of it is served here'
    : z.mxHere.length > 0
      ? `its MX host${z.mxHere.length > 1 ? 's' : ''} ${z.mxHere.join(', ')} ${z.mxHere.length > 1 ? 'are' : 'is'} served here and get${z.mxHere.length > 1 ? '' : 's'} no TLSA changes until it is fixed`
      : 'no MX host of it is served here';
  return `Zone ${z.zone} is refused, nothing in it is changed: ${z.problem.message} (${mail}).`;
}

/** Let each provider batch its look-ups for the zones of this run (Cloudflare: one zone listing). */
async function prepareProviders(ctx: AppContext, providers: Providers, zones: string[], localZones: Set<string>): Promise<void> {
  const byKind = new Map<string, string[]>();
  for (const z of zones) {
    const kind = providerFor(z, ctx, localZones);
    if (!kind) continue;
    const list = byKind.get(kind);
    if (list) list.push(z);
    else byKind.set(kind, [z]);
  }
  for (const [kind, list] of byKind) {
    const p = await providers.get(kind);
    // A failed listing is not fatal: each zone is then looked up on its own (and explains itself).
    if (!(isProblem(p))) await p.prepare?.(list).catch(() => undefined);
  }
}

function cleansUp(opts: PlanOptions): boolean {
  return opts.domains === undefined && opts.useState !== false && !opts.createOnly;
}

/** One zone's plan over the ledger as it is (`ledger` null: none); reads, never writes. */
async function planOneZone(ctx: AppContext, providers: Providers, zone: string, inputs: PlanInputs, ledger: StateDb | null): Promise<ZonePlan | Problem> {
  const { opts } = inputs;
  const kind = providerFor(zone, ctx, inputs.localZones);
  if (!kind) return problem('zone-not-managed', `No provider manages ${zone}.`, { subject: zone });
  const provider = await providers.get(kind);
  if (isProblem(provider)) return { ...provider, subject: zone };
  const want = inputs.desiredByZone.get(zone) ?? [];
  const reports = inputs.tlsrptByZone.get(zone) ?? [];
  const sts = inputs.mtaStsByZone.get(zone) ?? [];
  const owners = new Set([...want.map((d) => d.owner), ...reports.map((d) => d.owner), ...sts.map((d) => d.owner)]);
  if (cleansUp(opts) && ledger) for (const o of ledger.ownersInZone(zone)) owners.add(o);
  let published;
  try {
    published = await provider.populate(zone, [...owners]);
  } catch (err) {
    return { ...toProblem(err, 'provider-read-failed', zone), severity: 'error' };
  }
  if (ledger && !opts.showOnly) inputs.seen.set(zone, { owners: [...owners], published });
  const plan = planZone({
    zone,
    provider: kind,
    desired: want,
    tlsrpt: reports,
    mtaSts: sts,
    published,
    ledger: ledger ?? emptyLedger,
    stillServed: (r) => stillServed(inputs.servedByHost, r),
    ...(opts.takeover ? { takeover: new Set(opts.takeover) } : {}),
    now: ctx.now(),
    ttl: ctx.config.policy.ttl,
    maxDeleteShare: ctx.config.policy.maxDeleteShare,
    minRecordsForDeleteLimit: ctx.config.policy.minRecordsForDeleteLimit,
    maxRecordsPerOwner: ctx.config.policy.maxRecordsPerOwner,
    force: opts.force ?? false,
  });
  // Only adds; a managed TXT replacement is a pair (one record per name), so it waits for a full run.
  if (opts.createOnly) plan.changes = plan.changes.filter((c) => c.kind === 'create' && !(isManagedTxt(c.record) && plan.changes.some((d) => d.kind === 'delete' && d.record.owner === c.record.owner)));
  if (inputs.massDeletion) holdBackGone(plan, inputs.massDeletion);
  plan.warnings.push(...uncoveredIssuers(want, published.filter((p): p is PublishedTlsa => !isManagedTxt(p)), inputs.servedByHost));
  return plan;
}

/**
 * A served certificate whose issuer had no `2 1 1` record published before it went live: the
 * issuer pins did not foresee it, so senders relied on `3 1 1` alone (a window if it came late).
 */
function uncoveredIssuers(want: DesiredRecord[], published: TlsaRecord[], servedByHost: Map<string, Endpoint>): Problem[] {
  const out: Problem[] = [];
  const hosts = new Set(want.filter((d) => d.usage === 2).map((d) => d.host));
  for (const host of hosts) {
    const chain = servedByHost.get(host)?.served?.chain;
    const issuer = chain && chain[0] ? findIssuer(chain[0], chain) : null;
    const atHost = published.filter((p) => tlsaHost(p.owner) === host);
    if (!issuer || atHost.length === 0) continue;
    if (atHost.some((p) => p.usage === 2 && p.data.toLowerCase() === issuer.spkiSha256)) continue;
    out.push(
      problem('issuer-not-covered', `${host} now presents a certificate from ${issuer.subject}, which the published 2 1 1 records did not cover.`, {
        subject: host,
        fix: 'TLSA Manager adds that issuer now; if this CA is not in the built-in list, expect a short window at its renewals unless its intermediate is seen on the server first.',
        severity: 'warning',
      }),
    );
  }
  return out;
}

function stillServed(servedByHost: Map<string, Endpoint>, r: TlsaRecord): boolean {
  const ep = servedByHost.get(tlsaHost(r.owner));
  if (!ep?.served) return false;
  const rd = computeRdata(ep.served.chain, r);
  return 'data' in rd && rd.data === r.data.toLowerCase();
}

/** Zones applied side by side (each under its own lock). */
const APPLY_CONCURRENCY = 4;

export { lockPath };

/**
 * Carry out the plan zone by zone. Each zone is re-read and re-planned under its lock, so two runs
 * (CLI, hook, timer, web) never apply stale plans over each other. Failures stay per zone.
 */
export async function applyPlan(ctx: AppContext, providers: Providers, plan: RunPlan, actor: string, opts: { lockWaitMs?: number; concurrency?: number; onZone?: (done: number, total: number) => void } = {}): Promise<ApplyResult[]> {
  // Its sightings were not kept: the ledger would miss first sightings (the rollover clock).
  if (plan.inputs.opts.showOnly) throw new ProblemError(problem('internal', 'A plan made only to be shown (showOnly) cannot be applied.'));
  recordSightings(ctx, plan.inputs);
  const pending = plan.zones.filter((z) => z.changes.length > 0);
  // Zones are independent (one lock each); most of a zone's time is spent in child processes
  // (named-checkzone, the reload) or waiting on an API, so a few run side by side.
  for (const z of plan.zones) if (ctx.state().getMeta(`zoneRefused:${z.zone}`)) ctx.state().setMeta(`zoneRefused:${z.zone}`, '');
  const refused = plan.refused.filter(refusalMatters).map((z): ApplyResult => {
    const p = { ...z.problem, code: 'zone-refused' as const, message: refusalMessage(z), subject: z.zone, severity: 'error' as const };
    logRefusal(ctx, actor, z.zone, p.message);
    return { zone: z.zone, provider: 'cpanel', applied: [], problem: p };
  });
  let zonesDone = 0;
  opts.onZone?.(0, pending.length);
  const results = await mapLimit(pending, opts.concurrency ?? APPLY_CONCURRENCY, async (planned): Promise<ApplyResult | null> => {
    const zone = planned.zone;
    try {
      return await withLock(lockPath(ctx, zone), () => applyZone(ctx, providers, zone, plan.inputs, actor), { ...(opts.lockWaitMs !== undefined ? { waitMs: opts.lockWaitMs } : {}) });
    } catch (err) {
      const p = err instanceof LockBusyError
        ? problem('zone-busy', `Another TLSA Manager run is changing ${zone}; these changes wait for the next run.`, { subject: zone, severity: 'warning' })
        : toProblem(err, 'apply-failed', zone);
      return { zone, provider: planned.provider, applied: [], problem: p };
    } finally {
      opts.onZone?.(++zonesDone, pending.length);
    }
  });
  return [...refused, ...results.filter((r): r is ApplyResult => r !== null)];
}

async function applyZone(ctx: AppContext, providers: Providers, zone: string, inputs: PlanInputs, actor: string): Promise<ApplyResult | null> {
  const state = ctx.state();
  // A killed run's intent for this zone is settled first (that changes the ledger, so re-plan).
  const left = state.journalEntries(zone)[0];
  if (left) logSettled(ctx, left, await settleIntent(ctx, providers, left), actor);
  // Re-read and re-plan only if another run of ours wrote this zone since we planned it.
  const earlier = inputs.planned.get(zone);
  let fresh: ZonePlan | Problem;
  if (earlier && earlier.generation === state.zoneGeneration(zone)) fresh = earlier.plan;
  else {
    fresh = await planOneZone(ctx, providers, zone, inputs, state);
    recordSightings(ctx, inputs, zone);
  }
  if (isProblem(fresh)) return { zone, provider: 'unknown', applied: [], problem: fresh };
  if (fresh.changes.length === 0) return null;
  const provider = await providers.get(fresh.provider);
  if (isProblem(provider)) return { zone, provider: fresh.provider, applied: [], problem: provider };
  state.beginIntent(zone, fresh.provider, fresh.changes, actor, ctx.now());
  let result: ApplyResult;
  try {
    result = await provider.apply(zone, fresh.changes);
  } catch (err) {
    result = { zone, provider: fresh.provider, applied: [], problem: toProblem(err, 'apply-failed', zone) };
  }
  if (result.problem) {
    // After a failure half-way, only the zone itself can tell what is in effect.
    const settled = await settleIntent(ctx, providers, { zone, provider: fresh.provider, step: 'intent', changes: fresh.changes, actor, time: ctx.now() });
    if (!settled.problem) result.applied = settled.applied;
  }
  recordResult(ctx, actor, fresh.changes, result);
  afterApply(ctx, result, inputs);
  return result;
}

/**
 * The ledger learns what the zones showed when they were planned: first sightings start the
 * rollover clock, records gone from our owners are forgotten. Only runs that apply do this.
 */
function recordSightings(ctx: AppContext, inputs: PlanInputs, only?: string): void {
  if (inputs.opts.useState === false) return;
  const state = ctx.state();
  // Records at owners taken over (apply --takeover, the domain page's button) become ours for good:
  // a later run must still be allowed to retire them once their successors are settled.
  const takeover = new Set(inputs.opts.takeover ?? []);
  for (const [zone, { owners, published }] of inputs.seen) {
    if (only !== undefined && zone !== only) continue;
    state.observe(zone, owners, takeover.size === 0 ? published : published.map((p) => (takeover.has(p.owner) ? { ...p, markedOurs: true } : p)), ctx.now());
    inputs.seen.delete(zone);
  }
}

/** Alerts and the schedule learn of every publish: the failure streak, and a check ~2×TTL later. */
function afterApply(ctx: AppContext, result: ApplyResult, inputs: PlanInputs): void {
  // A zone busy with another run of ours is a postponement, not a failure.
  notePublishOutcome(ctx, result.zone, result.problem && result.problem.severity !== 'warning' ? result.problem : undefined);
  const touched = new Set(result.applied.flatMap((c) => inputs.servedByHost.get(tlsaHost(c.record.owner))?.domains ?? []));
  if (touched.size > 0) {
    const changes = result.applied.map((c) => ({ kind: c.kind, ttl: c.existing?.ttl ?? c.record.ttl }));
    scheduleAfterPublish(ctx, touched, changes, result.provider === 'cpanel' ? zoneNegativeTtl(ctx.root, result.zone) : null);
  }
}

function recordResult(ctx: AppContext, actor: string, changes: Change[], result: ApplyResult): void {
  const state = ctx.state();
  state.bumpZoneGeneration(result.zone);
  const created = result.applied.filter((c) => c.kind === 'create').map((c) => c.record);
  const deleted = result.applied.filter((c) => c.kind === 'delete').map((c) => c.record);
  // A failure whose effect could not be read back stays journalled for the next run to settle.
  const unsettled = result.problem && state.journalEntries(result.zone).length > 0;
  if (unsettled) state.recordApplied(result.zone, created, deleted, ctx.now());
  else state.finishIntent(result.zone, created, deleted, ctx.now());
  for (const c of result.applied) {
    state.logActivity({ actor, kind: c.kind, zone: result.zone, subject: c.record.owner, detail: `${describeData(c.record)} (${c.reason})`, ok: true });
  }
  if (result.problem) {
    const n = changes.length - result.applied.length;
    state.logActivity({ actor, kind: 'apply-failed', zone: result.zone, subject: result.zone, detail: `${n} change(s) not applied: ${result.problem.message}`, ok: false });
  }
}
