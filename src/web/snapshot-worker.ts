import { parentPort, workerData } from 'node:worker_threads';
import { createContext, createLogger } from '../context.js';
import { makePlan } from '../plan/run.js';
import { planView } from '../plan/view.js';
import { Providers } from '../provider-instances.js';
import type { Config } from '../state/config.js';

/**
 * The web snapshot's scan + plan of every domain, run in a worker thread (src/web/snapshot-build.ts
 * says why). Gets the service's root, config path, config (as the service holds it now, so an
 * unsaved in-memory change is seen exactly as in-process) and log level; answers the PlanView.
 */
const input = workerData as { root: string; configPath: string; config: Config; logLevel: string };
const ctx = { ...createContext({ root: input.root, config: input.configPath, logger: createLogger({ level: input.logLevel }) }), config: input.config };
const view = planView(await makePlan(ctx, new Providers(ctx), { kinds: true, showOnly: true }));
parentPort!.postMessage(view);
