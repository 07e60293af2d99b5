import type { AppContext } from '../context.js';
import type { Providers } from '../provider-instances.js';
import { makePlan, type PlanOptions, type RunPlan } from '../plan/run.js';
import { serveAll, type ServeOutcome } from './serve.js';

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
