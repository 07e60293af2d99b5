/**
 * What the zone's signer says: cPanel (PowerDNS, through WHM API 1) or Cloudflare. Reads only here;
 * enabling and disabling live in enable.ts. Output shapes follow cPanel's and Cloudflare's API
 * documentation (docs/reference-notes.md). cPanel's fetch_ds_records_for_domains also returns each
 * key's PRIVATE key: it is dropped on parsing and never leaves this module.
 */
import type { AppContext } from '../context.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { kindOf, providerFor, Providers } from '../provider-instances.js';
import type { CloudflareDnssec } from '../providers/cloudflare/client.js';
import { isProblem, type Problem } from '../problem.js';
import { providerModule } from '../providers/registry.js';
import type { ServerRoot } from '../util/server-root.js';
import type { DnskeyRecord, DsRecord } from './keys.js';
import type { Signing } from './state.js';

export interface SignerInfo {
  /** null: no signer we can ask (zone not managed here, BIND, or the signer did not answer). */
  signing: Signing | null;
  /** The DS the signer wants at the parent (empty when it has none or we do not know). */
  ds: DsRecord[];
  /** The DNSKEY the signer publishes for registries that take keys (Cloudflare only). */
  dnskey: DnskeyRecord[];
  /** The provider instance that serves the zone (`cpanel`, `cloudflare`, a named one). */
  source: string | null;
  /** cPanel: `bind`, `powerdns`, `disabled` (local_nameserver_type). */
  nameserver?: string;
  problem?: Problem;
}

export const CPANEL_CONFIG = '/var/cpanel/cpanel.config';

/**
 * `local_nameserver_type` from cpanel.config: bind, powerdns or disabled. A value that is missing
 * or none of these means PowerDNS to cPanel (Cpanel/NameServer/Conf.pm new); null when there is
 * no cpanel.config at all (not a cPanel server).
 */
export function nameserverType(ctx: { root: ServerRoot }): string | null {
  const text = ctx.root.readText(CPANEL_CONFIG);
  if (text === null) return null;
  const value = /^local_nameserver_type=(\S*)\s*$/m.exec(text)?.[1]?.toLowerCase();
  return value === 'bind' || value === 'disabled' || value === 'powerdns' ? value : 'powerdns';
}

// ---- cPanel -------------------------------------------------------------------------------

interface CpanelKey {
  active?: number | string;
  algo_num?: number | string;
  key_tag?: number | string;
  flags?: number | string;
  key_type?: string;
  digests?: { algo_num?: number | string; digest?: string }[];
}
export interface CpanelDsRow {
  domain?: string;
  ds_records?: { keys?: Record<string, CpanelKey> } | Record<string, never>;
}

/** One row of fetch_ds_records_for_domains → signing state and the DS of the active KSKs/CSKs. */
export function fromCpanelDsRow(row: CpanelDsRow): Pick<SignerInfo, 'signing' | 'ds'> {
  const keys = Object.values((row.ds_records as { keys?: Record<string, CpanelKey> } | undefined)?.keys ?? {});
  if (keys.length === 0) return { signing: 'off', ds: [] };
  const active = keys.filter((k) => Number(k.active) === 1);
  const entry = active.filter((k) => (k.key_type ?? '').toUpperCase() !== 'ZSK' && (Number(k.flags) & 1) === 1);
  const ds: DsRecord[] = [];
  for (const k of entry.length > 0 ? entry : active) {
    for (const d of k.digests ?? []) {
      if (!d.digest || !/^[0-9a-f]+$/i.test(d.digest)) continue;
      ds.push({ keyTag: Number(k.key_tag), algorithm: Number(k.algo_num), digestType: Number(d.algo_num), digest: d.digest.toLowerCase() });
    }
  }
  return { signing: active.length > 0 ? 'active' : 'pending', ds: preferSha256(ds) };
}

/** Registrars want one digest per key; SHA-256 is the one every registry accepts (RFC 8624 §3.3). */
export function preferSha256(ds: DsRecord[]): DsRecord[] {
  const tags = new Set(ds.map((d) => `${d.keyTag}/${d.algorithm}`));
  return [...tags].flatMap((t) => {
    const mine = ds.filter((d) => `${d.keyTag}/${d.algorithm}` === t);
    const sha256 = mine.filter((d) => d.digestType === 2);
    return sha256.length > 0 ? sha256 : mine.slice(0, 1);
  });
}

// ---- Cloudflare ---------------------------------------------------------------------------

/** Cloudflare's status → ours. `pending-disabled` still signs until Cloudflare finishes. */
export function fromCloudflare(d: CloudflareDnssec): Pick<SignerInfo, 'signing' | 'ds' | 'dnskey'> {
  const status = String(d.status ?? '');
  const signing: Signing | null = status === 'active' || status === 'pending-disabled' ? 'active' : status === 'pending' ? 'pending' : status === 'disabled' ? 'off' : null;
  const ds: DsRecord[] = [];
  const dnskey: DnskeyRecord[] = [];
  if (d.key_tag != null && d.digest && /^[0-9a-f]+$/i.test(d.digest)) {
    ds.push({ keyTag: Number(d.key_tag), algorithm: Number(d.algorithm), digestType: Number(d.digest_type), digest: d.digest.toLowerCase() });
  }
  if (d.public_key && d.flags != null) dnskey.push({ flags: Number(d.flags), protocol: 3, algorithm: Number(d.algorithm), publicKey: d.public_key });
  return { signing, ds, dnskey };
}

/**
 * The signer's view of every zone; zones no provider manages, and zones whose provider does not
 * declare the `dnssec` capability, get signing null. One status call per provider instance.
 */
export async function signerStatus(ctx: AppContext, zones: string[], providers = new Providers(ctx)): Promise<Map<string, SignerInfo>> {
  const local = new LocalZones(ctx.root).names;
  const byInstance = new Map<string, string[]>();
  const out = new Map<string, SignerInfo>();
  for (const z of zones) {
    const name = providerFor(z, ctx, local);
    if (name) byInstance.set(name, [...(byInstance.get(name) ?? []), z]);
    else out.set(z, { signing: null, ds: [], dnskey: [], source: null });
  }
  await Promise.all(
    [...byInstance].map(async ([name, list]) => {
      const none = (problem?: Problem): SignerInfo => ({ signing: null, ds: [], dnskey: [], source: name, ...(problem ? { problem } : {}) });
      const kind = kindOf(ctx.config, name);
      if (!kind || !providerModule(kind).capabilities.dnssec) {
        for (const z of list) out.set(z, none());
        return;
      }
      const p = await providers.get(name);
      if (isProblem(p) || !p.signer) {
        for (const z of list) out.set(z, none(isProblem(p) ? p : undefined));
        return;
      }
      const views = await p.signer.status(list);
      for (const z of list) out.set(z, { ...(views.get(z) ?? { signing: null, ds: [], dnskey: [] }), source: name });
    }),
  );
  return out;
}
