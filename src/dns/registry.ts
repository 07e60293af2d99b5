import type { AppContext } from '../context.js';
import { problem, type Problem } from '../problem.js';
import type { DnsProvider } from './provider.js';
import { WhmApi } from '../cpanel/whmapi.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { createWhmApi1Provider } from './whmapi1-provider.js';
import { createZoneFileProvider } from './zonefile-provider.js';

import type { ProviderKind } from './provider.js';

export type { ProviderKind };

/**
 * The Cloudflare API token and base URL: the settings first, then the environment
 * (CLOUDFLARE_API_TOKEN, CLOUDFLARE_BASE_URL). The one place that reads either.
 */
export function cloudflareAccess(config: AppContext['config']): { apiToken?: string; baseURL?: string } {
  const apiToken = config.cloudflare.apiToken ?? process.env.CLOUDFLARE_API_TOKEN;
  const baseURL = config.cloudflare.baseURL ?? process.env.CLOUDFLARE_BASE_URL;
  return { ...(apiToken ? { apiToken } : {}), ...(baseURL ? { baseURL } : {}) };
}

/**
 * Which provider serves a zone: the settings first; otherwise `cpanel` when the zone file is on
 * this server; otherwise nobody ("not managed here").
 */
export function providerKindFor(zone: string, ctx: AppContext, localZones: Set<string>): ProviderKind | null {
  const configured = ctx.config.zones[zone]?.provider;
  if (configured === 'none') return null;
  if (configured) return configured;
  return localZones.has(zone) ? 'cpanel' : null;
}

/** All zones some provider manages: local zone files plus zones configured in the settings. */
export function managedZones(ctx: AppContext, localZones: Set<string>): Set<string> {
  const out = new Set<string>();
  for (const z of localZones) if (providerKindFor(z, ctx, localZones)) out.add(z);
  for (const [z, c] of Object.entries(ctx.config.zones)) if (c.provider !== 'none') out.add(z);
  return out;
}

/** Every zone managed on this server (its zone files and the configured zones), sorted. */
export function serverManagedZones(ctx: AppContext): string[] {
  return [...managedZones(ctx, new LocalZones(ctx.root).names)].sort();
}

/**
 * One provider instance per kind per run (caches such as Cloudflare zone ids live in them). The
 * Cloudflare SDK is loaded only when a zone uses it: it costs ~0.5 s, which hooks cannot spare.
 */
export class Providers {
  private readonly made = new Map<ProviderKind, Promise<DnsProvider | Problem>>();
  constructor(private readonly ctx: AppContext) {}

  get(kind: ProviderKind): Promise<DnsProvider | Problem> {
    let p = this.made.get(kind);
    if (!p) {
      p = this.create(kind);
      this.made.set(kind, p);
    }
    return p;
  }

  private async create(kind: ProviderKind): Promise<DnsProvider | Problem> {
    if (kind === 'cpanel') {
      // Through WHM API 1 when cPanel is present, so DNS clusters sync; otherwise the zone file itself.
      const useApi = this.ctx.config.cpanel.useWhmApi && WhmApi.available(this.ctx.root);
      return useApi ? createWhmApi1Provider(this.ctx) : createZoneFileProvider(this.ctx);
    }
    const { apiToken, baseURL } = cloudflareAccess(this.ctx.config);
    if (!apiToken) {
      return problem('cloudflare-no-token', 'A zone is set to Cloudflare but no API token is configured.', {
        fix: 'Enter a Cloudflare API token (Zone:Zone:Read and Zone:DNS:Edit) in the settings, or set CLOUDFLARE_API_TOKEN.',
        severity: 'error',
      });
    }
    const { CloudflareProvider } = await import('./cloudflare.js');
    return new CloudflareProvider({ apiToken, ...(baseURL ? { baseURL } : {}), logger: this.ctx.logger });
  }
}
