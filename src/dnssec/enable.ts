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
import { problem, toProblem, type Problem } from '../problem.js';
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
    `cPanel signs zones only with PowerDNS; this server runs BIND. Either switch to PowerDNS (WHM » Service Configuration » Nameserver Selection » PowerDNS, then run tlsa-manager dnssec enable ${zone} again),`,
    `or sign with BIND itself: in the zone "${zone}" block of /etc/named.conf add \`dnssec-policy default; inline-signing yes;\` (BIND 9.16+), run \`rndc reconfig\`, and check with \`tlsa-manager dnssec ds ${zone}\`.`,
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

async function cloudflare(ctx: AppContext, providers: Providers): Promise<CloudflareProvider | Problem> {
  const p = await providers.get('cloudflare');
  return 'code' in p ? (p as Problem) : (p as CloudflareProvider);
}

function cloudflareProblem(err: unknown, zone: string, what: string): Problem {
  const p = toProblem(err, 'cloudflare-error', zone);
  if (p.code === 'cloudflare-permission') {
    return { ...p, message: `The Cloudflare API token may not ${what} DNSSEC for ${zone}; nothing was changed.`, fix: 'Give the token the Zone:DNS:Edit permission for this zone (and Zone:Zone:Read).' };
  }
  return p;
}

async function enableOne(ctx: AppContext, providers: Providers, zone: string, kind: ProviderKind, algorithm: number): Promise<SignerChange> {
  if (kind === 'cpanel') {
    const ns = nameserverType(ctx);
    if (ns !== 'powerdns') return refused(zone, kind, problem('dnssec-needs-powerdns', bindInstructions(zone)));
    if (!WhmApi.available(ctx.root)) return refused(zone, kind, problem('dnssec-no-whmapi', 'WHM API 1 (/usr/local/cpanel/bin/whmapi1) is not available; cannot enable DNSSEC through cPanel.'));
    try {
      const data = await new WhmApi(ctx.root).call<{ domains?: { domain?: string; enabled?: number | string; error?: string }[] }>('enable_dnssec_for_domains', [
        ['domain', zone], ['algo_num', String(algorithm)], ['key_setup', algorithm > 8 ? 'simple' : 'classic'], ['active', '1'], ['use_nsec3', '0'],
      ]);
      const row = (data.domains ?? []).find((d) => String(d.domain).toLowerCase() === zone);
      if (!row || Number(row.enabled) !== 1) return refused(zone, kind, problem('whmapi-error', `cPanel did not enable DNSSEC for ${zone}: ${row?.error ?? 'no result for the zone'}.`));
    } catch (err) {
      return refused(zone, kind, toProblem(err, 'whmapi-error', zone));
    }
  } else {
    const cf = await cloudflare(ctx, providers);
    if ('code' in cf) return refused(zone, kind, cf);
    try {
      await cf.dnssecEdit(zone, 'active');
    } catch (err) {
      return refused(zone, kind, cloudflareProblem(err, zone, 'enable'));
    }
  }
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
  if (kind === 'cpanel') {
    if (nameserverType(ctx) !== 'powerdns' || !WhmApi.available(ctx.root)) {
      return refused(zone, kind, problem('dnssec-needs-powerdns', `cPanel signs zones only with PowerDNS; ${zone} is not signed by cPanel here, so there is nothing cPanel can switch off.`));
    }
    try {
      const data = await new WhmApi(ctx.root).call<{ domains?: { domain?: string; disabled?: number | string; error?: string }[] }>('disable_dnssec_for_domains', [['domain', zone]]);
      const row = (data.domains ?? []).find((d) => String(d.domain).toLowerCase() === zone);
      if (!row || Number(row.disabled) !== 1) return refused(zone, kind, problem('whmapi-error', `cPanel did not disable DNSSEC for ${zone}: ${row?.error ?? 'no result for the zone'}.`));
    } catch (err) {
      return refused(zone, kind, toProblem(err, 'whmapi-error', zone));
    }
  } else {
    const cf = await cloudflare(ctx, providers);
    if ('code' in cf) return refused(zone, kind, cf);
    try {
      await cf.dnssecEdit(zone, 'disabled');
    } catch (err) {
      return refused(zone, kind, cloudflareProblem(err, zone, 'disable'));
    }
  }
  return { zone, ok: true, signer: kind, signing: 'off', ds: [], message: `Signing stopped for ${zone} (${kind}).` };
}

