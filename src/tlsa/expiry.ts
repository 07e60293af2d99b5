/**
 * The one rule for "expiring": a certificate whose notAfter is less than EXPIRING_DAYS away
 * (and not past). The DANE check's verdict (dane/check.ts), the record lint (tlsa/lint.ts, the
 * scan's served-certificate lint) and the verdict/category texts all read it here.
 */
export const EXPIRING_DAYS = 14;

/** Does a certificate valid until `notAfter` count as expiring at `now` (already expired: no)? */
export function expiresSoon(notAfter: Date, now: Date, days = EXPIRING_DAYS): boolean {
  const left = notAfter.getTime() - now.getTime();
  return left >= 0 && left < days * 86_400_000;
}
