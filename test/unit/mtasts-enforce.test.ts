import { describe, expect, it } from 'vitest';
import { enforceDecision, type CheckEvidence, type EnforceInput, type ReportEvidence } from '../../src/mtasts/enforce.js';
import { mtaStsBrokenCondition, mtaStsEnforcedIncident } from '../../src/alerts/transitions.js';

/**
 * Auto-enforce (issue 27 §5): testing → enforce after afterDays of clean checks without a gap and
 * clean authenticated sts reports, at least one. Times are written out by hand.
 */
const DAY = 86_400_000;
const H = 3_600_000;
const T0 = Date.parse('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** A clean testing check every day at 06:00 from day `from` to day `to` (inclusive). */
function daily(from: number, to: number, over: (day: number) => Partial<CheckEvidence> = () => ({})): CheckEvidence[] {
  const out: CheckEvidence[] = [];
  for (let d = from; d <= to; d++) out.push({ time: iso(T0 + d * DAY + 6 * H), state: 'testing', problems: [], ...over(d) });
  return out;
}
const report = (endDay: number, over: Partial<ReportEvidence> = {}): ReportEvidence => ({ policyType: 'sts', organization: 'Google Inc.', authenticated: true, start: T0 + (endDay - 1) * DAY, end: T0 + endDay * DAY, successful: 120, failed: 0, ...over });

function input(over: Partial<EnforceInput>): EnforceInput {
  return { mode: 'testing', modeSince: iso(T0), checks: daily(0, 14), reports: [report(5), report(10)], settings: { enabled: true, afterDays: 14 }, now: T0 + 14 * DAY + 6 * H, ...over };
}

describe('auto-enforce decision', () => {
  it('exactly afterDays after the first clean check, with clean signed reports: moves; a minute before: not yet, with the countdown', () => {
    const at = T0 + 14 * DAY + 6 * H;
    const yes = enforceDecision(input({ now: at }));
    expect(yes).toMatchObject({ move: true, enforceAt: '2026-11-15T06:00:00.000Z' });
    expect(yes.evidence).toEqual({ since: '2026-11-01T06:00:00.000Z', checks: 15, lastCheck: '2026-11-15T06:00:00.000Z', reports: 2, successfulSessions: 240, failedSessions: 0, organizations: ['Google Inc.'], unauthenticatedIgnored: 0 });
    const before = enforceDecision(input({ now: at - 60_000, checks: daily(0, 13) }));
    expect(before).toMatchObject({ move: false, enforceAt: '2026-11-15T06:00:00.000Z' });
    expect(before.why).toContain('at 2026-11-15T06:00:00.000Z');
  });

  it('a gap of more than 36 h between checks is not evidence: the stretch restarts after it', () => {
    const checks = [...daily(0, 5), ...daily(7, 14)]; // no check on day 6: 48 h between day 5 and day 7
    const d = enforceDecision(input({ checks }));
    expect(d.move).toBe(false);
    expect(d.evidence.since).toBe('2026-11-08T06:00:00.000Z');
    expect(d.enforceAt).toBe('2026-11-22T06:00:00.000Z');
    // 30 h apart (a check late by 6 h) is no gap.
    const late = daily(0, 14, (day) => (day === 6 ? { time: iso(T0 + 6 * DAY + 12 * H) } : {}));
    expect(enforceDecision(input({ checks: late })).move).toBe(true);
  });

  it('no check for more than 36 h before now: no move (a stopped timer proves nothing)', () => {
    const d = enforceDecision(input({ checks: daily(0, 14), now: T0 + 16 * DAY + 7 * H }));
    expect(d).toMatchObject({ move: false, enforceAt: null });
    expect(d.why).toContain('older than 36 hours');
  });

  it('a check with a problem restarts the stretch at the next clean check', () => {
    const checks = daily(0, 14, (day) => (day === 3 ? { problems: ['mta-sts-mx-certificate-invalid'] } : {}));
    const d = enforceDecision(input({ checks }));
    expect(d).toMatchObject({ move: false, enforceAt: '2026-11-19T06:00:00.000Z' });
    expect(d.evidence.since).toBe('2026-11-05T06:00:00.000Z');
    // A policy not seen as testing (not served) is not clean either.
    expect(enforceDecision(input({ checks: daily(0, 14, (day) => (day === 0 ? { state: 'none' } : {})) })).evidence.since).toBe('2026-11-02T06:00:00.000Z');
  });

  it('one failing authenticated sts report: no move; the stretch restarts after its period', () => {
    const d = enforceDecision(input({ reports: [report(5), report(10, { failed: 1, organization: 'Yahoo' })] }));
    expect(d.move).toBe(false);
    expect(d.evidence.since).toBe('2026-11-11T06:00:00.000Z');
    expect(d.enforceAt).toBe('2026-11-25T06:00:00.000Z');
  });

  it('an unauthenticated report is ignored, failing or clean: it neither blocks nor counts', () => {
    const failing = enforceDecision(input({ reports: [report(5), report(10, { authenticated: false, failed: 500 })] }));
    expect(failing.move).toBe(true);
    expect(failing.evidence).toMatchObject({ reports: 1, unauthenticatedIgnored: 1, failedSessions: 0 });
    const onlyUnsigned = enforceDecision(input({ reports: [report(5, { authenticated: false })] }));
    expect(onlyUnsigned.move).toBe(false);
    expect(onlyUnsigned.why).toContain('no authenticated TLS report');
  });

  it('no report at all: no move, even after the stretch; reports of another policy type do not count', () => {
    expect(enforceDecision(input({ reports: [] }))).toMatchObject({ move: false, enforceAt: '2026-11-15T06:00:00.000Z' });
    expect(enforceDecision(input({ reports: [report(5, { policyType: 'tlsa' })] })).move).toBe(false);
  });

  it('only testing moves, and only when enabled; evidence before the mode began does not count', () => {
    expect(enforceDecision(input({ mode: 'enforce' })).move).toBe(false);
    expect(enforceDecision(input({ settings: { enabled: false, afterDays: 14 } }))).toMatchObject({ move: false, enforceAt: null });
    const d = enforceDecision(input({ modeSince: iso(T0 + 2 * DAY) }));
    expect(d).toMatchObject({ move: false, enforceAt: '2026-11-17T06:00:00.000Z' });
  });

  it('report text is bounded and stripped of control characters', () => {
    const d = enforceDecision(input({ reports: [report(5, { organization: `Evil\u0007\u001b[31m${'x'.repeat(500)}` })] }));
    expect(d.evidence.organizations[0]).toHaveLength(80);
    expect(d.evidence.organizations[0]).not.toMatch(/[\u0000-\u001f]/);
  });
});

describe('MTA-STS alert conditions', () => {
  it('a problem under enforce is critical and says senders keep the policy for max_age; none is nothing', () => {
    const [i] = mtaStsBrokenCondition([{ domain: 'a.test', maxAge: 1209600, problems: [{ code: 'mta-sts-mx-certificate-invalid', message: 'The certificate mail.a.test presents is self-signed.', fix: 'Install a CA certificate for mail.a.test.' }] }, { domain: 'b.test', maxAge: 1209600, problems: [] }]);
    expect(i).toMatchObject({ key: 'mta-sts-broken:a.test', kind: 'mta-sts-broken', severity: 'critical', domain: 'a.test' });
    expect(i!.detail).toContain('1209600 s, about 14 day(s)');
    expect(i!.detail).toContain('back to testing does not help at once');
    expect(i!.detail).toContain('Install a CA certificate for mail.a.test.');
    expect(mtaStsEnforcedIncident('a.test', 'because')).toMatchObject({ kind: 'mta-sts-enforced', severity: 'info', key: 'mta-sts-enforced:a.test' });
  });
});
