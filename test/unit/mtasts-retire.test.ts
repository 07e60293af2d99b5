import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { wantedPolicies } from '../../src/mtasts/desired.js';
import { parsePolicy } from '../../src/mtasts/policy.js';
import { removableAt, retirementOf } from '../../src/mtasts/retire.js';
import { MtaStsStore, type MtaStsDomainState } from '../../src/mtasts/store.js';

/**
 * Turning MTA-STS off (RFC 8461 §8.3): a policy senders may hold is first replaced by a served
 * and announced `mode: none` policy; only after the held policy's max_age has passed since that
 * announcement is everything removed. Expected texts written by hand from RFC 8461 §3.2.
 */
const S = { maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false };
const ENFORCE = 'version: STSv1\r\nmode: enforce\r\nmx: mail.a.test\r\nmx: mx2.a.test\r\nmax_age: 1209600\r\n';
const NONE = 'version: STSv1\r\nmode: none\r\nmx: mail.a.test\r\nmx: mx2.a.test\r\nmax_age: 86400\r\n';
const T = Date.parse('2026-12-01T00:00:00Z');
const st = (s: Partial<MtaStsDomainState>): MtaStsDomainState => ({ domain: 'a.test', mode: 'enforce', modeSince: '2026-01-01T00:00:00Z', servedText: null, servedId: null, servedAt: null, subdomainOurs: true, policyFile: null, retiring: null, ...s });

describe('turning MTA-STS off for a domain', () => {
  it('never announced: removed at once (nothing senders hold)', () => {
    expect(retirementOf(st({}), S, T)).toEqual({ step: 'remove' });
    expect(retirementOf(st({ servedText: ENFORCE, servedId: null }), S, T)).toEqual({ step: 'remove' });
  });

  it('an announced enforce policy: mode none with the same mx and a day max_age first, holding 14 days', () => {
    const r = retirementOf(st({ servedText: ENFORCE, servedId: 'old1' }), S, T);
    expect(r).toMatchObject({ step: 'announce-none', text: NONE, mx: ['mail.a.test', 'mx2.a.test'], heldMaxAge: 1209600 });
    expect(parsePolicy(NONE)).toEqual({ mode: 'none', mx: ['mail.a.test', 'mx2.a.test'], maxAge: 86400 });
  });

  it('none served: waits until announced plus the held max_age, then removes; exactly at the time', () => {
    const announced = T;
    const after = removableAt(announced, 1209600);
    expect(after).toBe('2026-12-15T00:00:00.000Z');
    const notYet = st({ servedText: NONE, servedId: 'none1', retiring: { heldMaxAge: 1209600, after: null } });
    expect(retirementOf(notYet, S, T + 400 * 86_400_000)).toMatchObject({ step: 'wait', until: null, id: 'none1' });
    const waiting = st({ servedText: NONE, servedId: 'none1', retiring: { heldMaxAge: 1209600, after } });
    expect(retirementOf(waiting, S, Date.parse(after) - 1)).toMatchObject({ step: 'wait', until: after });
    expect(retirementOf(waiting, S, Date.parse(after))).toEqual({ step: 'remove' });
  });

  it('wanted: the retiring domain wants its none policy whatever publish says; opted in again it wants its own mode', () => {
    const stored = new Map([['a.test', st({ servedText: ENFORCE, servedId: 'old1' })]]);
    for (const publish of ['off', [] as string[], ['b.test']] as const) {
      const r = wantedPolicies([], { ...S, publish: publish as 'off', mode: 'testing' }, stored, T);
      expect(r.policies).toEqual([expect.objectContaining({ domain: 'a.test', mode: 'none', text: NONE, heldMaxAge: 1209600 })]);
      expect(r.retired).toEqual([]);
    }
    const gone = new Map([['a.test', st({ servedText: NONE, servedId: 'n', retiring: { heldMaxAge: 86400, after: '2026-11-01T00:00:00Z' } })]]);
    expect(wantedPolicies([], { ...S, publish: 'off', mode: 'testing' }, gone, T)).toMatchObject({ policies: [], retired: ['a.test'] });
    expect(wantedPolicies([], { ...S, publish: 'all', mode: 'testing' }, gone, T).retired).toEqual([]);
  });

  it('the store keeps the retirement: set starts it, announce sets the time once, null ends it', () => {
    const s = new MtaStsStore(new Database(':memory:'));
    s.ensure('a.test', 'enforce', '2026-01-01T00:00:00Z');
    s.markAnnounced('a.test', '2026-02-01T00:00:00Z');
    expect(s.get('a.test')!.retiring).toBeNull();
    s.setRetiring('a.test', 1209600);
    s.markAnnounced('a.test', '2026-02-01T00:00:00Z');
    s.markAnnounced('a.test', '2026-03-01T00:00:00Z');
    expect(s.get('a.test')!.retiring).toEqual({ heldMaxAge: 1209600, after: '2026-02-01T00:00:00Z' });
    s.setRetiring('a.test', null);
    expect(s.get('a.test')!.retiring).toBeNull();
  });
});
