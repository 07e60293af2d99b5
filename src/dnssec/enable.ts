/**
 * Switching signing on and off where the zone lives: cPanel (PowerDNS through WHM API 1) or
 * Cloudflare. Guards come first and change nothing when they refuse: a DS at the parent that the
 * new keys would not match (the zone would go bogus), a parent that does not answer, a server
 * without PowerDNS, a token without permission.
 */
import type { AppContext } from '../context.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { WhmApi } from '../cpanel/whmapi.js';
import type { CloudflareProvider } from '../dns/cloudflare.js';
import { normalizeName } from '../dns/names.js';
import { providerKindFor, Providers, type ProviderKind } from '../dns/registry.js';
import { isProblem, problem, toProblem, type Problem } from '../problem.js';
import type { DsRecord } from './keys.js';
import { nameserverType, signerStatus } from './signer.js';
import type { Signing } from './state.js';
import { dnssecStatus, type DnssecStatus } from './status.js';
import { recordStatuses, watchZones } from './watch.js';

export const DEFAULT_ALGORITHM = 13;

export interface SignerChange {
  zone: string;
  ok: boolean;
  /** Nothing was done because nothing needed doing (already signing / already off). */
  unchanged?: boolean;
  signer: ProviderKind | null;
  signing: Signing | null;
  /** The DS to hand over after enabling. */
  ds: DsRecord[];
  message: string;
  problem?: Problem;
}

/** What to change on a cPanel server running BIND: cPanel itself cannot sign there. */
export function bindInstructions(zone: string): string {
  return [
    `cPanel signs zones only with PowerDNS; this server runs BIND. Either switch to PowerDNS (WHM » Service Configuration » Nameserver Selection » PowerDNS, then enable DNSSEC for ${zone} again: the button on its page or \`tlsa-manager dnssec enable ${zone}\`),`,
    `or sign with BIND itself: in the zone "${zone}" block of /etc/named.conf add \`dnssec-policy default; inline-signing yes;\` (BIND 9.16+), run \`rndc reconfig\`; the domain page (or \`tlsa-manager dnssec ds ${zone}\`) then shows the DS for the registrar.`,
    'Note: cPanel rewrites named.conf when zones are added or removed; a hand edit there must be repeated, PowerDNS is the supported way.',
  ].join(' ');
}

function refused(zone: string, signer: ProviderKind | null, p: Problem): SignerChange {
  return { zone, ok: false, signer, signing: null, ds: [], message: p.message, problem: { ...p, subject: zone } };
}

/** Pure: may signing be switched on for a zone in this state? null = yes. */
export function enableGuard(s: DnssecStatus, force: boolean): Problem | null {
  if (force) return null;
  if (s.state === 'unknown' && s.failed.some((f) => /parent|DS/.test(f))) {
    return problem('dnssec-parent-unreachable', `Could not read the DS of ${s.zone} at its parent (${s.failed.join('; ')}); nothing was changed.`, { fix: 'Check that the parent zone\'s name servers answer, or pass --force if you know the parent has no DS.' });
  }
  if (s.parentDs.length > 0 && s.state !== 'secure') {
    const list = s.parentDs.map((d) => `${d.keyTag} ${d.algorithm} ${d.digestType}`).join(', ');
    return problem('dnssec-ds-conflict', `The parent of ${s.zone} already has DS ${list}, which new keys will not match: enabling would make ${s.zone} bogus; nothing was changed.`, {
      fix: 'Remove that DS at the registrar first (or import the matching key), then enable; --force enables anyway.',
    });
  }
  return null;
}

async function cloudflare(providers: Providers): Promise<CloudflareProvider | Problem> {
  const p = await providers.get('cloudflare');
  return isProblem(p) ? p : (p as CloudflareProvider);
}

function cloudflareProblem(err: unknown, zone: string, what: Switch): Problem {
  const p = toProblem(err, 'cloudflare-error', zone);
  if (p.code === 'cloudflare-permission') {
    return { ...p, message: `The Cloudflare API token may not ${what} DNSSEC for ${zone}; nothing was changed.`, fix: 'Give the token the Zone:DNS:Edit permission for this zone (and Zone:Zone:Read).' };
  }
  return p;
}

type Switch = 'enable' | 'disable';

/** A row of whmapi1 enable_dnssec_for_domains / disable_dnssec_for_domains: the flag is 1 when done. */
type WhmDnssecRow = { domain?: string; enabled?: number | string; disabled?: number | string; error?: string };

/**
 * Switch the signer of `zone` on or off where it lives; null when it did. cPanel answers a row
 * per domain whose `enabled`/`disabled` flag says whether it happened (the call itself succeeds
 * either way); Cloudflare changes the zone's DNSSEC status. The guards that differ per direction
 * stay with the callers.
 */
async function switchSigner(ctx: AppContext, providers: Providers, zone: string, kind: ProviderKind, to: Switch, whmArgs: [string, string][] = []): Promise<Problem | null> {
  if (kind === 'cpanel') {
    const flag = to === 'enable' ? 'enabled' : 'disabled';
    try {
      const data = await new WhmApi(ctx.root).call<{ domains?: WhmDnssecRow[] }>(`${to}_dnssec_for_domains`, [['domain', zone], ...whmArgs]);
      const row = (data.domains ?? []).find((d) => String(d.domain).toLowerCase() === zone);
      if (!row || Number(row[flag]) !== 1) return problem('whmapi-error', `cPanel did not ${to} DNSSEC for ${zone}: ${row?.error ?? 'no result for the zone'}.`);
    } catch (err) {
      return toProblem(err, 'whmapi-error', zone);
    }
    return null;
  }
  const cf = await cloudflare(providers);
  if (isProblem(cf)) return cf;
  try {
    await cf.dnssecEdit(zone, to === 'enable' ? 'active' : 'disabled');
  } catch (err) {
    return cloudflareProblem(err, zone, to);
  }
  return null;
}

async function enableOne(ctx: AppContext, providers: Providers, zone: string, kind: ProviderKind, algorithm: number): Promise<SignerChange> {
  if (kind === 'cpanel') {
    if (nameserverType(ctx) !== 'powerdns') return refused(zone, kind, problem('dnssec-needs-powerdns', bindInstructions(zone)));
    if (!WhmApi.available(ctx.root)) return refused(zone, kind, problem('dnssec-no-whmapi', 'WHM API 1 (/usr/local/cpanel/bin/whmapi1) is not available; cannot enable DNSSEC through cPanel.'));
  }
  const failed = await switchSigner(ctx, providers, zone, kind, 'enable', [
    ['algo_num', String(algorithm)], ['key_setup', algorithm > 8 ? 'simple' : 'classic'], ['active', '1'], ['use_nsec3', '0'],
  ]);
  if (failed) return refused(zone, kind, failed);
  const after = (await signerStatus(ctx, [zone], providers)).get(zone);
  return { zone, ok: true, signer: kind, signing: after?.signing ?? null, ds: after?.ds ?? [], message: `Signing enabled for ${zone} (${kind}, algorithm ${algorithm}); give the DS to the registrar.` };
}

export interface EnableOptions {
  force?: boolean;
  algorithm?: number;
  resolver?: string;
  actor?: string;
}

export async function enableSigning(ctx: AppContext, zones: string[], opts: EnableOptions = {}): Promise<SignerChange[]> {
  const names = [...new Set(zones.map((z) => normalizeName(z, 'zone')))];
  const algorithm = opts.algorithm ?? DEFAULT_ALGORITHM;
  const providers = new Providers(ctx);
  const local = new LocalZones(ctx.root).names;
  const before = await dnssecStatus(ctx, names, opts.resolver ? { resolver: opts.resolver } : {});
  const out: SignerChange[] = [];
  for (const s of before) {
    const kind = providerKindFor(s.zone, ctx, local);
    if (!kind) {
      out.push(refused(s.zone, null, problem('dnssec-not-managed', `${s.zone} is not served from this server or a configured Cloudflare account; sign it where its DNS is hosted.`)));
      continue;
    }
    if (s.signing === 'active' || s.signing === 'pending') {
      out.push({ zone: s.zone, ok: true, unchanged: true, signer: kind, signing: s.signing, ds: s.ds, message: `${s.zone} is already signing (${kind}: ${s.signing}); nothing to do.` });
      continue;
    }
    const guard = enableGuard(s, opts.force === true);
    if (guard) {
      out.push(refused(s.zone, kind, guard));
      continue;
    }
    const r = await enableOne(ctx, providers, s.zone, kind, algorithm);
    if (r.ok) {
      ctx.state().logActivity({ actor: opts.actor ?? 'cli', kind: 'dnssec', zone: s.zone, subject: s.zone, detail: r.message, ok: true });
      watchZones(ctx, [s.zone]);
    }
    out.push(r);
  }
  return out;
}

/** The safe order for switching signing off, in words (RFC 6781 §4.3.5.2 in short). */
export function safeDisableOrder(zone: string, dsTtl: number | null, dnskeyTtl: number | null): string {
  const wait = dsTtl !== null && dnskeyTtl !== null ? ` (here ${dsTtl} s + ${dnskeyTtl} s)` : '';
  return [
    `1. Remove the DS record of ${zone} at the registrar.`,
    `2. Wait until the parent no longer serves it, plus the parent's DS TTL and the zone's DNSKEY TTL${wait}, so no resolver still holds the DS.`,
    `3. Then stop signing: tlsa-manager dnssec disable ${zone}, or let the timer do it: tlsa-manager dnssec disable ${zone} --after-ds-gone.`,
  ].join('\n');
}

export async function disableOne(ctx: AppContext, providers: Providers, zone: string, kind: ProviderKind): Promise<SignerChange> {
  if (kind === 'cpanel' && (nameserverType(ctx) !== 'powerdns' || !WhmApi.available(ctx.root))) {
    return refused(zone, kind, problem('dnssec-needs-powerdns', `cPanel signs zones only with PowerDNS; ${zone} is not signed by cPanel here, so there is nothing cPanel can switch off.`));
  }
  const failed = await switchSigner(ctx, providers, zone, kind, 'disable');
  if (failed) return refused(zone, kind, failed);
  return { zone, ok: true, signer: kind, signing: 'off', ds: [], message: `Signing stopped for ${zone} (${kind}).` };
}
