import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { wantedPolicies } from '../../src/mtasts/desired.js';
import { parsePolicy } from '../../src/mtasts/policy.js';
import { goneOf, removableAt, retirementOf } from '../../src/mtasts/retire.js';
import type { DomainReport } from '../../src/cpanel/scan.js';
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
    // Still on the server (its mail now elsewhere): a domain the scan does not list is gone, below.
    const onServer = [{ domain: 'a.test', owner: 'a', mail: 'remote', mx: [] } as unknown as DomainReport];
    const stored = new Map([['a.test', st({ servedText: ENFORCE, servedId: 'old1' })]]);
    for (const publish of ['off', [] as string[], ['b.test']] as const) {
      const r = wantedPolicies(onServer, { ...S, publish: publish as 'off', mode: 'testing' }, stored, T);
      expect(r.policies).toEqual([expect.objectContaining({ domain: 'a.test', mode: 'none', text: NONE, heldMaxAge: 1209600 })]);
      expect(r.retired).toEqual([]);
    }
    const gone = new Map([['a.test', st({ servedText: NONE, servedId: 'n', retiring: { heldMaxAge: 86400, after: '2026-11-01T00:00:00Z' } })]]);
    expect(wantedPolicies(onServer, { ...S, publish: 'off', mode: 'testing' }, gone, T)).toMatchObject({ policies: [], retired: ['a.test'] });
    expect(wantedPolicies(onServer, { ...S, publish: 'all', mode: 'testing' }, gone, T).retired).toEqual([]);
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

describe('a stored domain no longer on the server', () => {
  const TESTING = 'version: STSv1\r\nmode: testing\r\nmx: mail.a.test\r\nmax_age: 86400\r\n';
  it('never announced: forgotten at once; announced: the wait starts with the max_age senders may hold', () => {
    expect(goneOf(st({}), T)).toEqual({ step: 'forget' });
    expect(goneOf(st({ servedText: ENFORCE, servedId: 'e1' }), T)).toEqual({ step: 'start', heldMaxAge: 1209600 });
    expect(goneOf(st({ mode: 'testing', servedText: TESTING, servedId: 't1' }), T)).toEqual({ step: 'start', heldMaxAge: 86400 });
    // Being turned off when it went: the older policy senders may hold counts (not the none policy's day).
    expect(goneOf(st({ servedText: NONE, servedId: 'n1', retiring: { heldMaxAge: 1209600, after: null } }), T)).toEqual({ step: 'start', heldMaxAge: 1209600 });
  });

  it('waits until the time set, and forgets exactly then', () => {
    const after = '2026-12-15T00:00:00.000Z';
    const waiting = st({ servedText: ENFORCE, servedId: 'e1', retiring: { heldMaxAge: 1209600, after } });
    expect(goneOf(waiting, Date.parse(after) - 1)).toEqual({ step: 'wait', until: after });
    expect(goneOf(waiting, Date.parse(after))).toEqual({ step: 'forget' });
  });

  it('wanted: nothing for it (no policy, no record, not retired through the files), whatever publish says; a domain on the server is not gone', () => {
    const stored = new Map([['a.test', st({ servedText: ENFORCE, servedId: 'e1' })]]);
    for (const publish of ['all', ['a.test'], 'off'] as const) {
      const r = wantedPolicies([], { ...S, publish: publish as 'all', mode: 'testing' }, stored, T);
      expect(r).toMatchObject({ policies: [], retired: [], gone: [{ domain: 'a.test', step: 'start', heldMaxAge: 1209600 }] });
    }
    const here = { domain: 'A.test', owner: 'a', mail: 'remote', mx: [] } as unknown as DomainReport;
    expect(wantedPolicies([here], { ...S, publish: 'all', mode: 'testing' }, stored, T).gone).toEqual([]);
  });
});
