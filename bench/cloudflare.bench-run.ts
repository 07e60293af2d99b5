// (3b) Cloudflare: every zone of a demo root configured `provider: cloudflare` against the fake
// Cloudflare API (real SDK, real HTTP on 127.0.0.1). makePlan + applyPlan twice: the first run
// creates everything, the second must write nothing. Reports API calls per run.
//
// The real budget (1,200 requests / 5 min per token) is kept, but on a simulated clock: its
// sleeps advance a virtual clock instead of waiting, so the run finishes in seconds and the
// projected wall time is the measured time plus the budget's simulated waits.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { startFakeCloudflare } from '../test/fakes/cloudflare/server.js';

const clock = { skewMs: 0 };
let current: import('../dist/providers/cloudflare/rate-limit.js').RequestBudget | null = null;

vi.mock('../dist/providers/cloudflare/rate-limit.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../dist/providers/cloudflare/rate-limit.js')>();
  return {
    ...real,
    sharedBudgetFor: () => {
      current ??= new real.RequestBudget({
        ...real.CLOUDFLARE_BUDGET,
        now: () => Date.now() + clock.skewMs,
        sleep: async (ms: number) => {
          clock.skewMs += ms;
        },
      });
      return current;
    },
  };
});

const { createContext, createLogger } = await import('../dist/context.js');
const { Providers } = await import('../dist/provider-instances.js');
const { applyPlan, makePlan } = await import('../dist/plan/run.js');
const { largeRoot } = await import('./lib.mjs');
const { freshCopy, zoneFileConfig } = await import('./work-root.mjs');

const N = Number(process.env.BENCH_CF_DOMAINS ?? 1000);

it(`Cloudflare apply over the zones of a ${N}-domain root`, async () => {
  const root = freshCopy(largeRoot(N), 'cloudflare');
  const cf = await startFakeCloudflare();
  try {
    const zones = readdirSync(join(root, 'var/named')).filter((f) => f.endsWith('.db')).map((f) => f.slice(0, -3));
    for (const z of zones) cf.fake.addZone(z);
    zoneFileConfig(root, {
      zones: Object.fromEntries(zones.map((z) => [z, { provider: 'cloudflare' }])),
      cloudflare: { apiToken: cf.token, baseURL: cf.url },
    });

    // Each run as a new process would do it: new context, new providers, new budget.
    const run = async () => {
      current = null;
      clock.skewMs = 0;
      cf.fake.resetLog();
      const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
      ctx.now = () => Date.now() + clock.skewMs;
      const t0 = performance.now();
      const providers = new Providers(ctx);
      const plan = await makePlan(ctx, providers);
      const results = await applyPlan(ctx, providers, plan, 'bench');
      const ms = performance.now() - t0;
      const stats = current?.stats() ?? { granted: 0, delayed: 0, totalWaitMs: 0 };
      return {
        zonesPlanned: plan.zones.length,
        zonesChanged: results.length,
        failed: results.filter((r) => r.problem).map((r) => `${r.zone}: ${r.problem!.message}`).slice(0, 3),
        created: results.reduce((n, r) => n + r.applied.filter((c) => c.kind === 'create').length, 0),
        calls: cf.fake.log.length,
        writes: cf.fake.writeCount(),
        byRoute: cf.fake.counts(),
        measuredMs: Math.round(ms),
        // Under-counts on the simulated clock (requests that arrive after a jump never wait); budgetWaitMs is the figure.
        budgetDelayed: stats.delayed,
        budgetWaitMs: Math.round(clock.skewMs),
        projectedMs: Math.round(ms + clock.skewMs),
      };
    };
    const first = await run();
    const second = await run();
    const tlsa = zones.reduce((n, z) => n + cf.fake.recordsOf(z, 'TLSA').length, 0);
    const out = { zones: zones.length, tlsaRecords: tlsa, first, second, maxRssKB: process.resourceUsage().maxRSS };
    writeFileSync(process.env.BENCH_OUT ?? '/dev/stdout', `${JSON.stringify(out)}\n`);
    expect(first.failed).toEqual([]);
    expect(second.writes).toBe(0);
  } finally {
    await cf.fake.stop();
  }
});
