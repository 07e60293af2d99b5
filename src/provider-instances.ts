import type { AppContext } from './context.js';
import { problem, type Problem } from './problem.js';
import type { DnsProvider } from './providers/contract.js';
import { LocalZones } from './cpanel/local-zones.js';
import { SealedSet } from './util/change-stamp.js';
import { cloudflareAccess } from './providers/cloudflare/index.js';
import { BUILTIN_INSTANCES, providerModule, type BuiltinInstance, type ProviderKind } from './providers/registry.js';
import type { ProviderHost } from './providers/types.js';

export type { ProviderKind };

/** The Cloudflare token and base URL of the built-in instance (see providers/cloudflare/index.ts). */
export function builtinCloudflareAccess(config: AppContext['config']): { apiToken?: string; baseURL?: string } {
  return cloudflareAccess(config.cloudflare);
}

/** An instance's kind and settings: the built-ins' settings at their top-level config key, the rest under `providers`. */
export function providerInstance(config: AppContext['config'], name: string): { kind: ProviderKind; settings: unknown } | null {
  if ((BUILTIN_INSTANCES as readonly string[]).includes(name)) return { kind: name as BuiltinInstance, settings: config[name as BuiltinInstance] };
  const inst = Object.hasOwn(config.providers, name) ? config.providers[name] : undefined;
  if (!inst) return null;
  const { kind, ...settings } = inst;
  return { kind, settings };
}

/**
 * What the domain page says about a zone's provider instance: its kind's label and the server it
 * talks to as the module describes it (never a secret), e.g. "Cloudflare · Cloudflare API".
 */
export function describeInstance(config: AppContext['config'], name: string): string | null {
  const inst = providerInstance(config, name);
  if (!inst) return null;
  const m = providerModule(inst.kind);
  return `${m.label} · ${m.describe(inst.settings)}`;
}

/** The kind of a provider instance (null for `none` and unknown names). */
export function kindOf(config: AppContext['config'], name: string | null): ProviderKind | null {
  return name ? (providerInstance(config, name)?.kind ?? null) : null;
}

/**
 * Which provider instance serves a zone: the settings first; otherwise `cpanel` when the zone
 * file is on this server; otherwise nobody ("not managed here").
 */
export function providerFor(zone: string, ctx: AppContext, localZones: Set<string>): string | null {
  const configured = ctx.config.zones[zone]?.provider;
  if (configured === 'none') return null;
  if (configured) return configured;
  return localZones.has(zone) ? 'cpanel' : null;
}

/** All zones some provider manages: local zone files plus zones configured in the settings. */
export function managedZones(ctx: AppContext, localZones: Set<string>): Set<string> {
  // The running service hands the same (sealed) listing to every event until /var/named changes:
  // the answer is kept for that listing and that config object (the settings page replaces it whole).
  const kept = managedCache.get(localZones);
  if (kept && kept.config === ctx.config) return kept.zones;
  const out: string[] = [];
  for (const z of localZones) if (providerFor(z, ctx, localZones)) out.push(z);
  for (const [z, c] of Object.entries(ctx.config.zones)) if (c.provider !== 'none') out.push(z);
  const zones = new SealedSet(out);
  if (localZones instanceof SealedSet) managedCache.set(localZones, { config: ctx.config, zones });
  return zones;
}

const managedCache = new WeakMap<Set<string>, { config: AppContext['config']; zones: Set<string> }>();

/** Every zone managed on this server (its zone files and the configured zones), sorted. */
export function serverManagedZones(ctx: AppContext): string[] {
  return [...managedZones(ctx, new LocalZones(ctx.root).names)].sort();
}

/** The narrow part of the running process a provider may use. */
export function providerHost(ctx: AppContext): ProviderHost {
  return { root: ctx.root, journalStep: (zone, step) => ctx.state().journalStep(zone, step), logger: ctx.logger, now: () => ctx.now() };
}

/**
 * One provider per instance per run (caches such as Cloudflare zone ids live in them). Each
 * module loads its implementation only when a zone uses it (the Cloudflare SDK costs ~0.5 s,
 * which hooks cannot spare).
 */
export class Providers {
  private readonly made = new Map<string, Promise<DnsProvider | Problem>>();
  constructor(private readonly ctx: AppContext) {}

  get(name: string): Promise<DnsProvider | Problem> {
    let p = this.made.get(name);
    if (!p) {
      p = this.create(name);
      this.made.set(name, p);
    }
    return p;
  }

  private async create(name: string): Promise<DnsProvider | Problem> {
    const inst = providerInstance(this.ctx.config, name);
    if (!inst) return problem('provider-unknown', `No provider instance is named "${name}".`, { fix: 'Name a provider from the settings (or cpanel, cloudflare, none) for the zone.', severity: 'error' });
    return providerModule(inst.kind).create(inst.settings, providerHost(this.ctx));
  }
}
