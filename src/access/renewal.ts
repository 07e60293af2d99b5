import type { DomainCheck } from '../dane/verdict.js';

/** A certificate this close to its end is replaced soon: AutoSSL renews ahead of expiry, with a new key. */
export const RENEWAL_WARN_MS = 30 * 24 * 3_600_000;

/**
 * Pure: when records at the owner's DNS host break at the next renewal, the end of the
 * certificate that is renewed first (ISO time), else null. AutoSSL makes a new key at every
 * renewal (Cpanel/SSL/Auto/Provider.pm `generate_key`), so an MX host whose published TLSA
 * records are all `3 x x` (they pin the current key) stops matching then; "next" is a presented
 * certificate ending within RENEWAL_WARN_MS. Reads the latest stored check as stored (hostile
 * shapes count as nothing). The page warns with it and the owner's e-mail is sent on it.
 */
export function renewalBreaksAt(check: unknown, now: number): string | null {
  const mx = (check as Partial<DomainCheck> | undefined)?.mx;
  if (!Array.isArray(mx)) return null;
  let first: number | null = null;
  for (const m of mx) {
    const tlsa = Array.isArray(m?.tlsa) ? m.tlsa : [];
    if (tlsa.length === 0 || !tlsa.every((r) => r?.usage === 3)) continue;
    for (const p of Array.isArray(m.ports) ? m.ports : []) {
      const t = Date.parse(p?.presentedNotAfter ?? '');
      if (!Number.isNaN(t) && t - now <= RENEWAL_WARN_MS && (first === null || t < first)) first = t;
    }
  }
  return first === null ? null : new Date(first).toISOString();
}
