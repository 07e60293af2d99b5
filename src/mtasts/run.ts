import type { AppContext } from '../context.js';
import { mtaStsOwner } from '../dns/records.js';
import type { ApplyResult } from '../providers/contract.js';
import type { Providers } from '../provider-instances.js';
import { makePlan, type PlanOptions, type RunPlan } from '../plan/run.js';
import { problem, type Problem } from '../problem.js';
import { stsTxtText } from './policy.js';
import { ourRecordLeft, removeServed } from './remove.js';
import { removableAt } from './retire.js';
import { serveAll, type ServeOutcome } from './serve.js';
import { mtaStsStore } from './store.js';

/**
 * The MTA-STS order inside a run that publishes (apply, reconcile): the plan says which policies
 * are wanted; each is written and fetched back (serve.ts); only when a served id changed is the
 * plan made again (same scan), so the `_mta-sts` records it publishes announce policies that are
 * already served. Problems of the serve step join the plan's, one domain failing alone.
 */
export async function serveThenPlan(ctx: AppContext, providers: Providers, plan: RunPlan, opts: PlanOptions, actor: string): Promise<{ plan: RunPlan; served: ServeOutcome[] }> {
  if (plan.mtaStsPolicies.length === 0) return { plan, served: [] };
  const served = await serveAll(ctx, plan.mtaStsPolicies, plan.scan.domains, actor);
  const next = served.some((s) => s.changed) ? await makePlan(ctx, providers, { ...opts, scan: plan.scan }) : plan;
  next.problems.push(...served.flatMap((s) => (s.problem ? [s.problem] : [])).filter((p) => !next.problems.some((q) => q.code === p.code && q.subject === p.subject)));
  return { plan: next, served };
}

/**
 * After the run's apply, the steps of turning MTA-STS off that wait for the DNS (retire.ts):
 * a none policy whose record the zone now holds starts the held policy's max_age; a retired
 * domain whose record is gone (no longer ours in the ledger, its zone applied without a problem)
 * has its files, subdomain and state removed (remove.ts). One domain failing fails alone.
 */
export async function afterMtaStsApply(ctx: AppContext, plan: RunPlan, results: ApplyResult[], actor: string): Promise<Problem[]> {
  if (plan.mtaStsPolicies.every((p) => p.mode !== 'none') && plan.mtaStsRetired.length === 0 && plan.mtaStsGone.length === 0) return [];
  const store = mtaStsStore(ctx);
  const state = ctx.state();
  const now = ctx.now();
  const failedZones = new Set(results.filter((r) => r.problem).map((r) => r.zone));
  const zoneWith = (owner: string, text: string | null): string | null => {
    for (const [zone, records] of plan.inputs.mtaStsByZone) if (records.some((r) => r.owner === owner && (text === null || r.text === text))) return zone;
    return null;
  };
  const problems: Problem[] = [];
  for (const p of plan.mtaStsPolicies) {
    if (p.mode !== 'none') continue;
    const s = store.get(p.domain);
    if (!s?.retiring || s.retiring.after !== null || s.servedId !== p.id) continue;
    const zone = zoneWith(mtaStsOwner(p.domain), stsTxtText(p.id));
    if (zone !== null && !failedZones.has(zone)) {
      store.markAnnounced(p.domain, removableAt(now, s.retiring.heldMaxAge));
      state.logActivity({ actor, kind: 'mta-sts', zone, subject: p.domain, detail: `MTA-STS turned off: the mode none policy (id ${p.id}) is announced; the record and files go after ${removableAt(now, s.retiring.heldMaxAge)}, when no sender can hold the earlier policy (max_age ${s.retiring.heldMaxAge} s)`, ok: true });
    }
  }
  const owners = new Map(plan.scan.domains.map((d) => [d.domain, d.owner]));
  for (const domain of plan.mtaStsRetired) {
    const s = store.get(domain);
    if (!s) continue;
    const owner = mtaStsOwner(domain);
    // The record goes first: one of ours not deleted yet (a failed or held-back apply) means wait.
    if (ourRecordLeft(ctx, domain, [...plan.inputs.localZones, ...plan.zones.map((z) => z.zone)]) || [...failedZones].some((z) => owner.endsWith(`.${z}`))) continue;
    try {
      const p = await removeServed(ctx, s, owners.get(domain) ?? '', actor);
      if (p) problems.push(p);
    } catch (err) {
      problems.push(problem('mta-sts-remove-failed', `Turning MTA-STS off for ${domain} failed: ${(err as Error).message.slice(0, 200)}; the next run tries again.`, { subject: domain }));
    }
  }
  for (const g of plan.mtaStsGone) {
    if (g.step === 'start') {
      const until = removableAt(now, g.heldMaxAge);
      store.setRetiring(g.domain, g.heldMaxAge);
      store.markAnnounced(g.domain, until);
      state.logActivity({ actor, kind: 'mta-sts', zone: null, subject: g.domain, detail: `${g.domain} is no longer on this server: its MTA-STS policy and subdomain went with it, and our _mta-sts record goes where a zone here still holds it; its stored mode is forgotten after ${until}, when no sender can hold its policy (max_age ${g.heldMaxAge} s), unless the domain comes back`, ok: true });
    } else if (g.step === 'forget' && !ourRecordLeft(ctx, g.domain, [...plan.inputs.localZones, ...plan.zones.map((z) => z.zone)])) {
      // As for a domain turned off: the row goes only after our record (a failed apply leaves it for the next run).
      store.remove(g.domain);
      state.logActivity({ actor, kind: 'mta-sts', zone: null, subject: g.domain, detail: `${g.domain} is no longer on this server and no sender can hold its MTA-STS policy any more: its stored MTA-STS state is forgotten`, ok: true });
    }
  }
  return problems;
}
