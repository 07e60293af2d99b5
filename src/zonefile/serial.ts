/** SOA serial arithmetic (RFC 1982, SERIAL_BITS = 32). */

const MOD = 4294967296;
const HALF = 2147483648;

export function isSerial(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < MOD;
}

/** `a` is greater than `b` in serial number arithmetic (undefined distance 2^31 counts as not greater). */
export function serialGreater(a: number, b: number): boolean {
  const d = (((a - b) % MOD) + MOD) % MOD;
  return d > 0 && d < HALF;
}

/**
 * The serial after `current`: today's `YYYYMMDD00` (UTC) when that is greater in RFC 1982 terms,
 * else `current + 1` modulo 2^32 (same-day edits, or a serial already ahead of the date scheme).
 */
export function nextSerial(current: number, now: Date): number {
  if (!isSerial(current)) throw new RangeError(`SOA serial ${String(current)} is not an integer 0-4294967295`);
  const ymd = now.getUTCFullYear() * 10000 + (now.getUTCMonth() + 1) * 100 + now.getUTCDate();
  const dated = ymd * 100;
  if (isSerial(dated) && serialGreater(dated, current)) return dated;
  return (current + 1) % MOD;
}
