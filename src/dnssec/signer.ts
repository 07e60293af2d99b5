/**
 * What the zone's signer says: cPanel (PowerDNS, through WHM API 1) or Cloudflare. Reads only here;
 * enabling and disabling live in enable.ts. Output shapes follow cPanel's and Cloudflare's API
 * documentation (docs/reference-notes.md). cPanel's fetch_ds_records_for_domains also returns each
 * key's PRIVATE key: it is dropped on parsing and never leaves this module.
 */
import type { AppContext } from '../context.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { WhmApi } from '../cpanel/whmapi.js';
import { providerKindFor, Providers, type ProviderKind } from '../dns/registry.js';
import type { CloudflareDnssec, CloudflareProvider } from '../dns/cloudflare.js';
import { isProblem, problem, toProblem, type Problem } from '../problem.js';
import { mapLimit } from '../util/concurrency.js';
import type { DnskeyRecord, DsRecord } from './keys.js';
import type { Signing } from './state.js';

export interface SignerInfo {
  /** null: no signer we can ask (zone not managed here, BIND, or the signer did not answer). */
  signing: Signing | null;
  /** The DS the signer wants at the parent (empty when it has none or we do not know). */
  ds: DsRecord[];
  /** The DNSKEY the signer publishes for registries that take keys (Cloudflare only). */
  dnskey: DnskeyRecord[];
  source: ProviderKind | null;
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
export function nameserverType(ctx: AppContext): string | null {
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
function preferSha256(ds: DsRecord[]): DsRecord[] {
  const tags = new Set(ds.map((d) => `${d.keyTag}/${d.algorithm}`));
  return [...tags].flatMap((t) => {
    const mine = ds.filter((d) => `${d.keyTag}/${d.algorithm}` === t);
    const sha256 = mine.filter((d) => d.digestType === 2);
    return sha256.length > 0 ? sha256 : mine.slice(0, 1);
  });
}

const FETCH_CHUNK = 50;

async function cpanelSigners(ctx: AppContext, zones: string[]): Promise<Map<string, SignerInfo>> {
  const out = new Map<string, SignerInfo>();
  const ns = nameserverType(ctx) ?? 'unknown';
  const none = (p?: Problem): SignerInfo => ({ signing: null, ds: [], dnskey: [], source: 'cpanel', nameserver: ns, ...(p ? { problem: p } : {}) });
  if (ns !== 'powerdns' || !WhmApi.available(ctx.root)) {
    // With BIND cPanel does not sign; the zone may still be signed by hand, which the live chain shows.
    for (const z of zones) out.set(z, none());
    return out;
  }
  const api = new WhmApi(ctx.root);
  for (let i = 0; i < zones.length; i += FETCH_CHUNK) {
    const chunk = zones.slice(i, i + FETCH_CHUNK);
    try {
      const data = await api.call<{ domains?: CpanelDsRow[] }>('fetch_ds_records_for_domains', chunk.map((z) => ['domain', z] as [string, string]));
      const rows = new Map((data.domains ?? []).map((r) => [String(r.domain ?? '').toLowerCase(), r]));
      for (const z of chunk) {
        const row = rows.get(z);
        out.set(z, row ? { ...fromCpanelDsRow(row), dnskey: [], source: 'cpanel', nameserver: ns } : none(problem('dnssec-signer-missing', `fetch_ds_records_for_domains returned nothing for ${z}.`)));
      }
    } catch (err) {
      for (const z of chunk) out.set(z, none(toProblem(err, 'whmapi-error', z)));
    }
  }
  return out;
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

async function cloudflareSigners(providers: Providers, zones: string[]): Promise<Map<string, SignerInfo>> {
  const out = new Map<string, SignerInfo>();
  const p = await providers.get('cloudflare');
  if (isProblem(p)) {
    for (const z of zones) out.set(z, { signing: null, ds: [], dnskey: [], source: 'cloudflare', problem: p });
    return out;
  }
  const cf = p as CloudflareProvider;
  if (zones.length > 3) await cf.prepare(zones).catch(() => undefined);
  await mapLimit(zones, 4, async (z) => {
    try {
      out.set(z, { ...fromCloudflare(await cf.dnssec(z)), source: 'cloudflare' });
    } catch (err) {
      out.set(z, { signing: null, ds: [], dnskey: [], source: 'cloudflare', problem: toProblem(err, 'cloudflare-error', z) });
    }
  });
  return out;
}

/** The signer's view of every zone; zones no provider manages get signing null. */
export async function signerStatus(ctx: AppContext, zones: string[], providers = new Providers(ctx)): Promise<Map<string, SignerInfo>> {
  const local = new LocalZones(ctx.root).names;
  const byKind: Record<ProviderKind, string[]> = { cpanel: [], cloudflare: [] };
  const out = new Map<string, SignerInfo>();
  for (const z of zones) {
    const kind = providerKindFor(z, ctx, local);
    if (kind) byKind[kind].push(z);
    else out.set(z, { signing: null, ds: [], dnskey: [], source: null });
  }
  const [c, f] = await Promise.all([
    byKind.cpanel.length ? cpanelSigners(ctx, byKind.cpanel) : new Map<string, SignerInfo>(),
    byKind.cloudflare.length ? cloudflareSigners(providers, byKind.cloudflare) : new Map<string, SignerInfo>(),
  ]);
  for (const [z, v] of [...c, ...f]) out.set(z, v);
  return out;
}
