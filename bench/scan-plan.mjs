// (2) scan + plan over a large root, in-process timing and peak memory.
import { createContext, createLogger } from '../dist/context.js';
import { Providers } from '../dist/provider-instances.js';
import { makePlan } from '../dist/plan/run.js';
import { maxRssKB, ms } from './lib.mjs';

const root = process.argv[2];
const t0 = process.hrtime.bigint();
const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
const plan = await makePlan(ctx, new Providers(ctx), { useState: false });
const elapsed = ms(t0);
console.log(JSON.stringify({
  domains: plan.scan.domains.length,
  endpoints: plan.scan.endpoints.length,
  zones: plan.zones.length,
  creates: plan.zones.reduce((n, z) => n + z.changes.filter((c) => c.kind === 'create').length, 0),
  scanPlanMs: Math.round(elapsed),
  maxRssKB: maxRssKB(),
}));
