/**
 * Switching signing on and off where the zone lives: cPanel (PowerDNS through WHM API 1) or
 * Cloudflare. Guards come first and change nothing when they refuse: a DS at the parent that the
 * new keys would not match (the zone would go bogus), a parent that does not answer, a server
 * without PowerDNS, a token without permission.
 */
import type { AppContext } from '../context.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { normalizeName } from '../dns/names.js';
import { kindOf, providerFor, Providers } from '../provider-instances.js';
import { isProblem, problem, type Problem } from '../problem.js';
import { providerModule } from '../providers/registry.js';
import type { DsRecord } from './keys.js';
import { signerStatus } from './signer.js';
import type { Signing } from './state.js';
import { dnssecStatus, type DnssecStatus } from './status.js';
import { recordStatuses, watchZones } from './watch.js';

export const DEFAULT_ALGORITHM = 13;

export interface SignerChange {
  zone: string;
  ok: boolean;
  /** Nothing was done because nothing needed doing (already signing / already off). */
  unchanged?: boolean;
  /** The provider instance that signs (or would sign) the zone. */
  signer: string | null;
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

function refused(zone: string, signer: string | null, p: Problem): SignerChange {
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

type Switch = 'enable' | 'disable';

/**
 * Switch the signer of `zone` on or off where it lives, through its provider's `dnssec`
 * capability; null when it did. The guards that differ per direction stay with the callers.
 */
async function switchSigner(ctx: AppContext, providers: Providers, zone: string, name: string, to: Switch, algorithm = DEFAULT_ALGORITHM): Promise<Problem | null> {
  const kind = kindOf(ctx.config, name);
  if (!kind || !providerModule(kind).capabilities.dnssec) {
    return problem('dnssec-not-managed', `${zone} is served by the provider "${name}", which cannot ${to} DNSSEC; ${to} it where the zone is signed.`);
  }
  const p = await providers.get(name);
  if (isProblem(p)) return p;
  if (!p.signer) return problem('dnssec-not-managed', `The provider "${name}" declares DNSSEC but offers no signer; nothing was changed.`);
  return to === 'enable' ? p.signer.enable(zone, algorithm) : p.signer.disable(zone);
}

async function enableOne(ctx: AppContext, providers: Providers, zone: string, name: string, algorithm: number): Promise<SignerChange> {
  const failed = await switchSigner(ctx, providers, zone, name, 'enable', algorithm);
  if (failed) return refused(zone, name, failed);
  const after = (await signerStatus(ctx, [zone], providers)).get(zone);
  return { zone, ok: true, signer: name, signing: after?.signing ?? null, ds: after?.ds ?? [], message: `Signing enabled for ${zone} (${name}, algorithm ${algorithm}); give the DS to the registrar.` };
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
    const kind = providerFor(s.zone, ctx, local);
    if (!kind) {
      out.push(refused(s.zone, null, problem('dnssec-not-managed', `${s.zone} is not served from this server or by a configured DNS provider; sign it where its DNS is hosted.`)));
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

export async function disableOne(ctx: AppContext, providers: Providers, zone: string, name: string): Promise<SignerChange> {
  const failed = await switchSigner(ctx, providers, zone, name, 'disable');
  if (failed) return refused(zone, name, failed);
  return { zone, ok: true, signer: name, signing: 'off', ds: [], message: `Signing stopped for ${zone} (${name}).` };
}
