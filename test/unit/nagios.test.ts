import { describe, expect, it } from 'vitest';
import { nagiosReport, parseThreshold, parseThresholds } from '../../src/cli/nagios.js';
import { exitCodeOf, ProblemError, type Problem } from '../../src/problem.js';
import type { DomainCheck, Verdict } from '../../src/dane/verdict.js';
import type { StsStatus } from '../../src/mtasts/status.js';

const c = (domain: string, verdict: Verdict, message = 'm'): DomainCheck => ({ domain, time: '', verdict, message, fix: '', mxSecure: true, dnssec: { signed: true, ds: true }, mx: [] });

describe('Nagios mode (Monitoring Plugins guidelines)', () => {
  const t = { warning: 1, critical: 1 };
  it('OK / WARNING / CRITICAL by the number of broken domains, perfdata with thresholds and bounds', () => {
    const ok = nagiosReport([c('a.test', 'valid'), c('b.test', 'expiring'), c('c.test', 'no-dnssec')], t);
    expect(ok).toEqual({ exitCode: 0, output: 'TLSA_MANAGER OK - 2 of 3 domain(s) validate, 1 without DANE | valid=1;;;0;3 expiring=1;;;0;3 broken=0;1;1;0;3 unprotected=1;;;0;3 warnings=0;;;0;3 expired=0;;;0;3' });
    const two = [c('a.test', 'tlsa-mismatch'), c('b.test', 'bogus'), c('c.test', 'valid')];
    expect(nagiosReport(two, t)).toMatchObject({ exitCode: 2, output: expect.stringMatching(/^TLSA_MANAGER CRITICAL - 2 of 3 domain\(s\) broken \(a\.test: TLSA mismatch, b\.test: DNSSEC bogus\) \| /) });
    expect(nagiosReport(two, { warning: 1, critical: 3 }).exitCode).toBe(1);
    expect(nagiosReport(two, { warning: 3, critical: 3 }).exitCode).toBe(0);
    // the thresholds are "this many or more": one broken domain is CRITICAL by default
    expect(nagiosReport([c('a.test', 'unreachable'), c('b.test', 'valid')], t).exitCode).toBe(2);
    expect(nagiosReport(two, { warning: 2, critical: 3 }).exitCode).toBe(1);
  });

  it('expired and valid-with-warnings are their own perfdata, the old labels keep their meaning', () => {
    const warned = { ...c('w.test', 'valid'), problems: [{ code: 'dane-ta-name-mismatch' as const, message: 'm', severity: 'warning' as const }] };
    const r = nagiosReport([c('a.test', 'valid'), warned, c('e.test', 'expired'), c('s.test', 'expiring')], t);
    expect(r).toEqual({ exitCode: 0, output: 'TLSA_MANAGER OK - 4 of 4 domain(s) validate, 0 without DANE | valid=2;;;0;4 expiring=1;;;0;4 broken=0;1;1;0;4 unprotected=0;;;0;4 warnings=1;;;0;4 expired=1;;;0;4' });
  });

  it('a resolver that does not validate is UNKNOWN, not OK or CRITICAL', () => {
    expect(nagiosReport([c('a.test', 'resolver-not-validating', 'no AD bit from 127.0.0.1')], t)).toEqual({ exitCode: 3, output: 'TLSA_MANAGER UNKNOWN - cannot judge DANE: no AD bit from 127.0.0.1' });
  });

  it('a "|" in a message cannot start the perfdata early', () => {
    const r = nagiosReport([c('a.test', 'tlsa-mismatch')].map((x) => ({ ...x, domain: 'a|b.test' })), t);
    expect(r.output.split('|')).toHaveLength(2);
  });

  it('thresholds are whole numbers from 1', () => {
    expect(parseThreshold('warning', undefined, 1)).toBe(1);
    expect(parseThreshold('warning', '3', 1)).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'x', '']) expect(() => parseThreshold('critical', bad, 1)).toThrow(/--critical must be a whole number/);
  });

  it('a bad threshold is a usage Problem (exit 2 outside Nagios mode) with the fix, not a bare error', () => {
    const thrown = (f: () => unknown): Problem => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(ProblemError);
        return (err as ProblemError).problem;
      }
      throw new Error('did not throw');
    };
    const bad = thrown(() => parseThreshold('warning', 'x', 1));
    expect(bad).toMatchObject({ code: 'usage', message: '--warning must be a whole number of broken domains, 1 or more (got "x")', fix: expect.stringContaining('--warning 1 --critical 3') });
    expect(exitCodeOf(bad)).toBe(2);
    expect(thrown(() => parseThresholds({ warning: '3', critical: '2' }))).toMatchObject({ code: 'usage', message: '--critical (2) must not be below --warning (3)' });
    expect(parseThresholds({ warning: '2', critical: '5' })).toEqual({ warning: 2, critical: 5 });
    expect(parseThresholds({})).toEqual({ warning: 1, critical: 1 });
  });
});

describe('check --nagios --mta-sts (issue 27 §6)', () => {
  const t = { warning: 1, critical: 1 };
  const sts = (domain: string, state: StsStatus['state']): StsStatus => ({ domain, state, id: null, policy: null, served: true, mx: [], problems: [] });
  const dane = [c('a.test', 'valid'), c('b.test', 'valid'), c('c.test', 'no-dnssec')];
  const plain = 'TLSA_MANAGER OK - 2 of 3 domain(s) validate, 1 without DANE | valid=2;;;0;3 expiring=0;;;0;3 broken=0;1;1;0;3 unprotected=1;;;0;3 warnings=0;;;0;3 expired=0;;;0;3';

  it('without the flag the line is byte for byte what it was; with it, sts_broken= ends the perfdata', () => {
    expect(nagiosReport(dane, t).output).toBe(plain);
    expect(nagiosReport(dane, t, [sts('a.test', 'enforce'), sts('b.test', 'testing')])).toEqual({ exitCode: 0, output: `${plain} sts_broken=0;1;1;0;2` });
    expect(nagiosReport(dane, t, []).output).toBe(`${plain} sts_broken=0;1;1;0;0`);
  });

  it('a broken MTA-STS domain counts like a DANE-broken one, once per domain, and is named', () => {
    const r = nagiosReport(dane, t, [sts('a.test', 'broken'), sts('b.test', 'testing')]);
    expect(r).toEqual({ exitCode: 2, output: 'TLSA_MANAGER CRITICAL - 1 of 3 domain(s) broken (a.test: MTA-STS broken) | valid=2;;;0;3 expiring=0;;;0;3 broken=0;1;1;0;3 unprotected=1;;;0;3 warnings=0;;;0;3 expired=0;;;0;3 sts_broken=1;1;1;0;2' });
    const both = nagiosReport([c('a.test', 'tlsa-mismatch'), c('b.test', 'valid')], { warning: 2, critical: 3 }, [sts('a.test', 'broken'), sts('b.test', 'broken')]);
    expect(both.exitCode).toBe(1);
    expect(both.output).toMatch(/^TLSA_MANAGER WARNING - 2 of 2 domain\(s\) broken \(a\.test: TLSA mismatch, a\.test: MTA-STS broken, b\.test: MTA-STS broken\) \| .* broken=1;2;3;0;2 .* sts_broken=2;2;3;0;2$/);
    // a.test broken both ways is one broken domain: below a threshold of 2.
    expect(nagiosReport([c('a.test', 'tlsa-mismatch'), c('b.test', 'valid')], { warning: 2, critical: 2 }, [sts('a.test', 'broken')]).exitCode).toBe(0);
  });
});
