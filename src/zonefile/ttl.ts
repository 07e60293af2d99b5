/** BIND's TTL syntax: plain seconds, or number+unit groups (`1h30m`, `1W`, `2d`), case-insensitive. */

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
export const MAX_TTL = 2147483647;
const MAX_U32 = 4294967295;

/** True when the token can only be a TTL (starts with a digit), used to tell TTL from class/type. */
export function looksLikeTtl(token: string): boolean {
  const c = token.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/**
 * Seconds, or throws with the reason. Values above 2^31-1 are refused rather than silently turned
 * into 0 as BIND does: a TTL that large is a typo we should not build on.
 */
export function parseTtl(token: string, max = MAX_TTL): number {
  let total = 0;
  if (allDigits(token)) {
    total = Number(token);
  } else {
    let i = 0;
    const n = token.length;
    while (i < n) {
      const from = i;
      while (i < n && token.charCodeAt(i) >= 48 && token.charCodeAt(i) <= 57) i++;
      if (i === from || i >= n) throw new Error(`"${token}" is not a TTL (use seconds or units like 1h, 30m, 1d, 1w)`);
      const unit = UNIT[token[i]!.toLowerCase()];
      if (unit === undefined) throw new Error(`"${token}" is not a TTL (unknown unit "${token[i]}")`);
      total += Number(token.slice(from, i)) * unit;
      i++;
    }
  }
  if (total > MAX_U32) throw new Error(`TTL "${token}" does not fit in 32 bits`);
  if (total > max) throw new Error(`TTL "${token}" is larger than ${max} seconds`);
  return total;
}

/**
 * A record or `$TTL` TTL as BIND 9 loads it: up to 2^32-1 is accepted, and a value above 2^31-1 is
 * loaded as 0 with a warning (RFC 2181 §8). We read it the same way so the zone means to us what
 * it means to BIND; those lines are never rewritten.
 */
export function recordTtl(token: string): number {
  const t = parseTtl(token, MAX_U32);
  return t > MAX_TTL ? 0 : t;
}

function allDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
