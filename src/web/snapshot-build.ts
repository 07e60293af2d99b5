import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { AppContext } from '../context.js';
import { makePlan } from '../plan/run.js';
import { planView, type PlanView } from '../plan/view.js';
import { Providers } from '../provider-instances.js';

/** The plan the web pages show: every domain, labelled main/addon/parked/sub, nothing kept for apply. */
export function pagePlan(ctx: AppContext, domains?: string[]) {
  return makePlan(ctx, new Providers(ctx), domains ? { domains, kinds: true, showOnly: true } : { kinds: true, showOnly: true });
}

const WORKER = fileURLToPath(new URL('./snapshot-worker.js', import.meta.url));

/**
 * The snapshot's PlanView, built in a worker thread when the compiled worker is there (the
 * service; tests run the sources and build it in-process). Why: a scan + plan of 10,000 domains
 * allocates several times what the view keeps, and V8 keeps the heap it grew to for the life of
 * the process (issue 26: 207 MB of old space committed for 83 MB live after the build). The
 * worker's heap goes away with the worker; the service gets only the view, allocated densely.
 * Same code, same input: the worker gets the config the service holds now.
 */
export function buildPlanView(ctx: AppContext): Promise<PlanView> {
  if (!existsSync(WORKER)) return pagePlan(ctx).then(planView);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { root: ctx.root.root, configPath: ctx.configPath, config: ctx.config, logLevel: ctx.logger.level } });
    let view: PlanView | null = null;
    worker.once('message', (v: PlanView) => (view = v));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (!view) return reject(new Error(`the snapshot worker stopped (exit code ${code}) without a plan`));
      ctx.logger.debug('snapshot plan built in a worker thread');
      resolve(view);
    });
  });
}
