/**
 * Every DNS provider there is, in one list. The config schema (state/config.ts), redaction
 * (context.ts, redactConfig), the settings page and the DNSSEC code read it; adding a provider
 * is one module file and one entry here. Kinds are the list's `kind`s, so a lookup by kind
 * cannot miss one (there is no "everything else is Cloudflare" branch).
 */
import { z } from 'zod';
import { cloudflareProvider } from './cloudflare/index.js';
import { cpanelProvider } from './cpanel/index.js';
import { powerdnsProvider } from './powerdns/index.js';
import { rfc2136Provider } from './rfc2136/index.js';
import type { ProviderModule } from './types.js';

export const PROVIDERS = [cpanelProvider, cloudflareProvider, powerdnsProvider, rfc2136Provider] as const;

export type ProviderKind = (typeof PROVIDERS)[number]['kind'];
export const PROVIDER_KINDS = PROVIDERS.map((p) => p.kind) as readonly ProviderKind[];
type ModuleOf<K extends ProviderKind> = Extract<(typeof PROVIDERS)[number], { kind: K }>;
export type SettingsOf<K extends ProviderKind> = ModuleOf<K> extends ProviderModule<K, infer S> ? S : never;

/** One named instance as the config holds it: its kind and that kind's settings. */
export type ProviderInstance = { [K in ProviderKind]: { kind: K } & SettingsOf<K> }[ProviderKind];

/**
 * The built-in instances: a zone set to `cpanel` or `cloudflare` uses the settings at the config's
 * top-level key of that name (as before named instances existed). Their names are reserved.
 */
export const BUILTIN_INSTANCES = ['cpanel', 'cloudflare'] as const satisfies readonly ProviderKind[];
export type BuiltinInstance = (typeof BUILTIN_INSTANCES)[number];
/** Names `providers.<name>` may not use: the built-ins and `none` (a zone nobody manages). */
export const RESERVED_NAMES: readonly string[] = [...BUILTIN_INSTANCES, 'none'];

const byKind = new Map<string, ProviderModule<ProviderKind, unknown>>(PROVIDERS.map((p) => [p.kind, p as unknown as ProviderModule<ProviderKind, unknown>]));

export function providerModule(kind: ProviderKind): ProviderModule<ProviderKind, unknown> {
  return byKind.get(kind)!;
}

export function isProviderKind(s: string): s is ProviderKind {
  return byKind.has(s);
}

export { ZOD_CUSTOM } from './schema-parts.js';
import { ZOD_CUSTOM } from './schema-parts.js';

const NAMED_KINDS = PROVIDERS.filter((p) => p.namedInstances).map((p) => p.kind);

/** An instance name: a DNS-label-like word, so it reads well in URLs, logs and the journal. */
export const instanceName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'must be 1 to 32 lowercase letters, digits or "-", starting with a letter');

/** `providers.<name>`: `kind` picks the module, whose schema checks the rest. */
export const instanceSchema = z
  .object({ kind: z.string() })
  .loose()
  .transform((v, ctx): ProviderInstance => {
    const { kind, ...rest } = v;
    if (!isProviderKind(kind) || !NAMED_KINDS.includes(kind)) {
      ctx.addIssue({ code: ZOD_CUSTOM, path: ['kind'], message: `must be one of ${NAMED_KINDS.join(', ')}${kind === 'cpanel' ? ' (the server\'s own zones are the built-in "cpanel")' : ''}` });
      return z.NEVER;
    }
    const r = providerModule(kind).settings.safeParse(rest);
    if (!r.success) {
      for (const i of r.error.issues) ctx.addIssue({ code: ZOD_CUSTOM, path: i.path as (string | number)[], message: i.message });
      return z.NEVER;
    }
    return { kind, ...(r.data as object) } as ProviderInstance;
  });

/** Dot paths of every secret a config can hold in provider settings (for masking). */
export function providerSecretPaths(providers: Record<string, ProviderInstance>): string[][] {
  const out: string[][] = [];
  for (const b of BUILTIN_INSTANCES) for (const s of providerModule(b).secrets) out.push([b, ...s.split('.')]);
  for (const [name, inst] of Object.entries(providers)) for (const s of providerModule(inst.kind).secrets) out.push(['providers', name, ...s.split('.')]);
  return out;
}

/** pino redact paths for provider secrets, wherever a config or settings object is logged. */
export function providerRedactPaths(): string[] {
  const out = new Set<string>();
  for (const p of PROVIDERS) {
    for (const s of p.secrets) {
      out.add(s);
      out.add(`*.${s}`);
      out.add(`providers.*.${s}`);
      out.add(`config.providers.*.${s}`);
    }
  }
  for (const b of BUILTIN_INSTANCES) for (const s of providerModule(b).secrets) out.add(`${b}.${s}`);
  return [...out];
}
