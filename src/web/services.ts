import type { AppContext } from '../context.js';
import { checkDomains } from '../dane/check.js';
import type { DomainCheck } from '../dane/verdict.js';
import { Providers, type ProviderKind } from '../dns/registry.js';
import type { ApplyResult, PublishedRecord } from '../dns/provider.js';
import { applyPlan, makePlan, type RunPlan } from '../plan/run.js';
import { problem, toProblem, type Problem } from '../problem.js';

/** What the Cloudflare "Test" button reports (a subset of CloudflareProvider's TokenCheck). */
export interface TokenTest {
  ok: boolean;
  summary: string;
  problems: Problem[];
}

/**
 * The backends the web app drives. Route handlers call these and nothing else, so tests and the
 * benchmark can swap in fakes (no DNS, no network).
 */
export interface WebServices {
  plan(domains?: string[]): Promise<RunPlan>;
  publish(domains: string[] | undefined, actor: string): Promise<{ plan: RunPlan; results: ApplyResult[] }>;
  check(domains: string[], onProgress: (done: number, total: number) => void): Promise<DomainCheck[]>;
  published(zone: string, provider: string, owners: string[]): Promise<PublishedRecord[]>;
  testCloudflareToken(token: string, zone?: string): Promise<TokenTest>;
}

export function defaultServices(ctx: AppContext): WebServices {
  return {
    plan: (domains) => makePlan(ctx, new Providers(ctx), domains ? { domains, kinds: true } : { kinds: true }),
    async publish(domains, actor) {
      const providers = new Providers(ctx);
      const plan = await makePlan(ctx, providers, domains ? { domains } : {});
      const results = await applyPlan(ctx, providers, plan, actor);
      return { plan, results };
    },
    check: (domains, onProgress) => checkDomains(ctx, domains, { onProgress }),
    async published(zone, provider, owners) {
      const p = await new Providers(ctx).get(provider as ProviderKind);
      if ('code' in p) throw Object.assign(new Error(p.message), { problem: p });
      return p.populate(zone, owners);
    },
    testCloudflareToken: (token, zone) => testToken(ctx, token, zone),
  };
}

/** Loaded lazily: the Cloudflare module (and SDK) is only needed when someone presses "Test". */
async function testToken(ctx: AppContext, apiToken: string, zone?: string): Promise<TokenTest> {
  let mod: typeof import('../dns/cloudflare.js');
  try {
    mod = await import('../dns/cloudflare.js');
  } catch (err) {
    return { ok: false, summary: 'The Cloudflare provider is not available in this build.', problems: [toProblem(err, 'cloudflare-unavailable')] };
  }
  if (typeof mod.CloudflareProvider?.prototype?.verifyToken !== 'function') {
    return { ok: false, summary: 'This build cannot test Cloudflare tokens.', problems: [problem('cloudflare-unavailable', 'Token testing is not available in this build.')] };
  }
  const baseURL = ctx.config.cloudflare.baseURL ?? process.env.CLOUDFLARE_BASE_URL;
  const provider = new mod.CloudflareProvider({ apiToken, ...(baseURL ? { baseURL } : {}), logger: ctx.logger, maxRetries: 0, requestTimeoutMs: 10_000 });
  try {
    const r = await provider.verifyToken(zone);
    return { ok: r.ok, summary: r.summary, problems: r.problems };
  } catch (err) {
    return { ok: false, summary: 'The token could not be tested.', problems: [toProblem(err, 'cloudflare-test-failed')] };
  }
}
