import { describe, expect, it } from 'vitest';
import { composeOwnerMail } from '../../src/alerts/channels/owner.js';
import { ownerConditions, ownerMessage, ownerTransitions, DS_WAIT_MS, type OwnerCondition } from '../../src/access/owner-notify.js';
import type { DomainStatus } from '../../src/access/status.js';
import { renewalBreaksAt } from '../../src/access/renewal.js';

const NOW = Date.UTC(2026, 11, 1);
const base: DomainStatus = { domain: 'x.test', mail: 'here', dnsHost: 'here', dane: { category: 'valid', problems: [] }, dnssec: { state: 'secure', ds: [], parentDs: [] }, recordsByHand: [], tlsrpt: null, renewalBreaks: null, mtaSts: { mode: 'off', state: null, checkedAt: null, problems: [] } };

describe("account owners' conditions (pure)", () => {
  it('DS missing counts from the watcher’s since, at 7 days', () => {
    const d = { ...base, dnssec: { ...base.dnssec, state: 'signed-no-ds' as const } };
    expect(ownerConditions(d, NOW - DS_WAIT_MS + 1, NOW).has('ds-missing')).toBe(false);
    expect(ownerConditions(d, NOW - DS_WAIT_MS, NOW).has('ds-missing')).toBe(true);
    expect(ownerConditions(d, null, NOW).size).toBe(0);
  });

  it('records wrong only where the DNS is elsewhere and the check is broken', () => {
    expect([...ownerConditions({ ...base, dnsHost: 'elsewhere', dane: { category: 'broken', problems: [] } }, null, NOW)]).toEqual(['records-wrong']);
    expect(ownerConditions({ ...base, dnsHost: 'here', dane: { category: 'broken', problems: [] } }, null, NOW).size).toBe(0);
    expect(ownerConditions({ ...base, dnsHost: 'elsewhere', dane: { category: 'unprotected', problems: [] } }, null, NOW).size).toBe(0);
  });

  it('senders failing: failed sessions in the last 7 days', () => {
    expect([...ownerConditions({ ...base, tlsrpt: { successful7d: 10, failed7d: 2 } }, null, NOW)]).toEqual(['senders-failing']);
    expect(ownerConditions({ ...base, tlsrpt: { successful7d: 10, failed7d: 0 } }, null, NOW).size).toBe(0);
  });

  it('transitions: needed once, done only after needed, nothing for what never held', () => {
    const told = new Map<OwnerCondition, 'needed' | 'done'>();
    expect(ownerTransitions(told, new Set())).toEqual([]);
    expect(ownerTransitions(told, new Set(['senders-failing']))).toEqual([{ condition: 'senders-failing', to: 'needed' }]);
    told.set('senders-failing', 'needed');
    expect(ownerTransitions(told, new Set(['senders-failing']))).toEqual([]);
    expect(ownerTransitions(told, new Set())).toEqual([{ condition: 'senders-failing', to: 'done' }]);
    told.set('senders-failing', 'done');
    expect(ownerTransitions(told, new Set())).toEqual([]);
  });

  it('no control character from outside reaches the mail’s headers or body', () => {
    const d = { ...base, domain: 'x.test\r\nBcc: victim@example.net\u001b[2J', dnsHost: 'elsewhere', dane: { category: 'broken' as const, problems: [] } };
    const m = ownerMessage('acct', ['a@x.test'], d, { condition: 'records-wrong', to: 'needed' }, 'srv\u0007');
    const mail = composeOwnerMail(m);
    expect(mail).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(mail.split('\n').filter((l) => l.startsWith('Bcc:'))).toEqual([]);
    expect(mail).toContain('TLSA records there (records that tell other mail servers');
  });

  it('records at a DNS host elsewhere that pin only the current key (3 x x) break at the renewal when the certificate ends within 30 days', () => {
    const ends = (days: number) => new Date(NOW + days * 86_400_000).toISOString();
    const check = (usages: number[], ...days: number[]) => ({ mx: [{ tlsa: usages.map((usage) => ({ usage, selector: 1, matchingType: 1, data: 'ab' })), ports: days.map((d) => ({ presentedNotAfter: ends(d) })) }] });
    expect(renewalBreaksAt(check([3], 20), NOW)).toBe(ends(20));
    expect(renewalBreaksAt(check([3], 40, 12, 25), NOW)).toBe(ends(12));
    expect(renewalBreaksAt(check([3], 30), NOW)).toBe(ends(30));
    expect(renewalBreaksAt(check([3], 30.01), NOW)).toBeNull();
    expect(renewalBreaksAt(check([3, 2], 20), NOW)).toBeNull();
    expect(renewalBreaksAt(check([], 20), NOW)).toBeNull();
    expect(renewalBreaksAt({ mx: 'hostile' }, NOW)).toBeNull();
    expect(renewalBreaksAt({ mx: [null, { tlsa: [{ usage: 3 }], ports: [{ presentedNotAfter: 'soon' }] }] }, NOW)).toBeNull();
    const d = { ...base, dnsHost: 'elsewhere', mail: 'here' as const };
    expect([...ownerConditions({ ...d, renewalBreaks: ends(20) }, null, NOW)]).toEqual(['records-fragile']);
    expect(ownerConditions(d, null, NOW).size).toBe(0);
    // Wrong records are told first: a broken domain is not also "about to break".
    expect([...ownerConditions({ ...d, renewalBreaks: ends(20), dane: { category: 'broken', problems: [] } }, null, NOW)]).toEqual(['records-wrong']);
  });
});
