import { describe, expect, it } from 'vitest';
import { categoryOf } from '../../src/web/snapshot.js';
import type { AuditRow } from '../../src/report/audit.js';

const row = (verdict: string | null, tlsa = 'in-sync') => ({ verdict, tlsa }) as unknown as AuditRow;

describe('overview category of a domain', () => {
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
    expect(categoryOf(row('valid', 'not-ours'))).toBe('not-ours');
  });
});
