import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATEGORIES } from '../../src/dane/category.js';
import { VERDICTS } from '../../src/dane/verdict.js';
import { parseBundle } from '../../src/tlsa/certificate.js';
import { EXPIRING_DAYS, expiresSoon } from '../../src/tlsa/expiry.js';
import { lintRecord } from '../../src/tlsa/lint.js';
import { retireAfterMs, WAKE_MARGIN_MS } from '../../src/plan/retire-after.js';
import { makePki } from '../helpers/openssl.js';

/** One place per rule (issue 25 §5): the expiring limit and the 2×TTL retirement wait. */
describe('the expiring limit', () => {
  const pki = makePki();
  const now = new Date();
  it('certificates made by openssl with days left on either side of the limit: lint says expiring only below it', () => {
    const codes = (days: number) => {
      const leaf = pki.leaf(`mail${days}.expiry.example`, { days });
      return lintRecord({ usage: 3, selector: 1, matchingType: 1 }, parseBundle(readFileSync(leaf.combined), 'c').certificates, { host: `mail${days}.expiry.example`, now }).map((p) => p.code);
    };
    expect(codes(EXPIRING_DAYS - 1)).toEqual(['cert-expiring']);
    expect(codes(EXPIRING_DAYS + 1)).toEqual([]);
  });
  it('boundaries, and the words every page shows name the same number', () => {
    const day = 86_400_000;
    expect(expiresSoon(new Date(now.getTime() + EXPIRING_DAYS * day - 1), now)).toBe(true);
    expect(expiresSoon(new Date(now.getTime() + EXPIRING_DAYS * day), now)).toBe(false);
    expect(expiresSoon(new Date(now.getTime() - 1), now)).toBe(false);
    expect(CATEGORIES.expiring.short).toContain(`${EXPIRING_DAYS} days`);
    expect(CATEGORIES.expiring.explain).toContain(`${EXPIRING_DAYS} days`);
    expect(VERDICTS.expiring.explain).toContain(`${EXPIRING_DAYS} days`);
  });
});

describe('the retirement wait', () => {
  it('is two TTLs, plus a named margin where the timer wakes', () => {
    expect(retireAfterMs(3600)).toBe(7_200_000);
    expect(retireAfterMs(300, WAKE_MARGIN_MS)).toBe(601_000);
  });
});

describe('the TLSA-state list', () => {
  it('the domain list filters by exactly the states the audit reports, each with its label', async () => {
    const { TLSA_STATES, TLSA_STATE_LABELS } = await import('../../src/report/audit.js');
    const { parseListQuery } = await import('../../src/web/list-query.js');
    const { TLSA_LABELS } = await import('../../src/web/view-helpers.js');
    expect(TLSA_STATES).toEqual(['in-sync', 'pending', 'not-managed', 'no-certificate', 'not-ours', 'unknown']);
    for (const t of TLSA_STATES) {
      expect(parseListQuery({ tlsa: t }).tlsa).toBe(t);
      expect(TLSA_LABELS[t]).toBe(TLSA_STATE_LABELS[t]);
    }
    expect(parseListQuery({ tlsa: 'bogus' }).tlsa).toBe('');
  });
});
