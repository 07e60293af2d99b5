import { describe, expect, it } from 'vitest';
import { categoryOf } from '../../src/dane/category.js';

const row = (verdict: string | null, notOurs = false, problems: { severity: string }[] = []) => ({ verdict, notOurs, problems });

describe('the one category of a domain (src/dane/category.ts)', () => {
  it('puts a signed zone without DS with the other unprotected domains (mail flows, unauthenticated), like alerts and Nagios do', () => {
    expect(categoryOf(row('no-ds'))).toBe('unprotected');
    expect(categoryOf(row('no-dnssec'))).toBe('unprotected');
    expect(categoryOf(row('no-tlsa'))).toBe('unprotected');
  });

  it('keeps what makes DANE senders refuse or fail in Broken, and names the rest', () => {
    expect(categoryOf(row('tlsa-mismatch'))).toBe('broken');
    expect(categoryOf(row('bogus'))).toBe('broken');
    expect(categoryOf(row('something-unknown'))).toBe('broken');
    expect(categoryOf(row('valid'))).toBe('valid');
    expect(categoryOf(row(null))).toBe('unchecked');
    expect(categoryOf(row('valid', true))).toBe('not-ours');
  });

  it('tells valid, valid with warnings, expiring and expired apart', () => {
    expect(categoryOf(row('valid', false, [{ severity: 'info' }]))).toBe('valid');
    expect(categoryOf(row('valid', false, [{ severity: 'warning' }]))).toBe('valid-warnings');
    expect(categoryOf(row('expiring'))).toBe('expiring');
    expect(categoryOf(row('expired'))).toBe('expired');
    // An expired certificate is expired even when the check also names a warning.
    expect(categoryOf(row('expired', false, [{ severity: 'warning' }]))).toBe('expired');
  });
});
