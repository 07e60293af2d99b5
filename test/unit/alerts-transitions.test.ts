import { describe, expect, it } from 'vitest';
import {
  conditionEvents, domainTransition, evaluateRun, expiryConditions, publishCondition, SERVER_KEY, timerCondition,
  type AlertEvent, type DomainState, type Incident,
} from '../../src/alerts/transitions.js';
import type { Verdict } from '../../src/dane/verdict.js';

const st = (verdict: Verdict, ds: boolean | null = true): DomainState => ({ verdict, ds });
const raised = (events: AlertEvent[]) => events.filter((e) => e.type === 'raise').map((e) => (e.type === 'raise' ? `${e.incident.kind}:${e.incident.subject}` : ''));
const resolved = (events: AlertEvent[]) => events.filter((e) => e.type === 'resolve').map((e) => e.key);
const incidentOf = (events: AlertEvent[]): Incident => {
  const e = events.find((x) => x.type === 'raise');
  if (!e || e.type !== 'raise') throw new Error('no raise');
  return e.incident;
};

describe('domainTransition: transitions, not states', () => {
  it('raises when a valid domain gets worse, with old → new verdicts', () => {
    const ev = domainTransition('a.test', st('valid'), st('tlsa-mismatch'), undefined);
    expect(raised(ev)).toEqual(['domain-degraded:a.test']);
    const i = incidentOf(ev);
    expect([i.verdictFrom, i.verdictTo, i.severity]).toEqual(['valid', 'tlsa-mismatch', 'critical']);
  });

  it('does not raise for a domain that was never valid, nor for valid → expiring (still validates)', () => {
    expect(domainTransition('a.test', st('no-dnssec', false), st('no-dnssec', false), undefined)).toEqual([]);
    expect(domainTransition('a.test', st('no-tlsa'), st('tlsa-mismatch'), undefined)).toEqual([]);
    expect(domainTransition('a.test', st('valid'), st('expiring'), undefined)).toEqual([]);
  });

  it('the first check of a domain raises only when it finds the domain broken, and that incident clears once it is not broken', () => {
    for (const v of ['valid', 'expiring', 'no-tlsa', 'no-dnssec', 'no-ds'] as const) expect(domainTransition('a.test', undefined, st(v), undefined), v).toEqual([]);
    const stale = domainTransition('a.test', undefined, st('tlsa-mismatch'), undefined);
    expect(raised(stale)).toEqual(['domain-broken:a.test']);
    const i = incidentOf(stale);
    expect([i.verdictFrom, i.verdictTo, i.severity, i.baseline]).toEqual([undefined, 'tlsa-mismatch', 'critical', undefined]);
    expect(i.title).toBe('DANE TLSA mismatch for a.test');
    expect(raised(domainTransition('a.test', undefined, st('bogus', null), undefined))).toEqual(['dnssec-bogus:a.test']);
    // still broken (another cause): the same incident stays open; not broken any more: resolved
    expect(domainTransition('a.test', st('tlsa-mismatch'), st('unreachable'), i)).toEqual([]);
    expect(resolved(domainTransition('a.test', st('unreachable'), st('no-tlsa'), i))).toEqual(['domain:a.test']);
    expect(resolved(domainTransition('a.test', st('tlsa-mismatch'), st('valid'), i))).toEqual(['domain:a.test']);
  });

  it('names the most specific cause: DNSSEC bogus, then a DS that disappeared', () => {
    expect(raised(domainTransition('a.test', st('valid'), st('bogus', null), undefined))).toEqual(['dnssec-bogus:a.test']);
    // bogus is an alert even for a domain that never had DANE: its mail stops entirely
    expect(raised(domainTransition('a.test', st('no-tlsa'), st('bogus', null), undefined))).toEqual(['dnssec-bogus:a.test']);
    expect(raised(domainTransition('a.test', st('valid', true), st('no-ds', false), undefined))).toEqual(['ds-missing:a.test']);
    expect(raised(domainTransition('a.test', st('no-tlsa', true), st('no-ds', false), undefined))).toEqual(['ds-missing:a.test']);
  });

  it('keeps one incident while it stays broken (even when the cause changes) and resolves when back at its baseline', () => {
    const open = incidentOf(domainTransition('a.test', st('valid'), st('tlsa-mismatch'), undefined));
    expect(domainTransition('a.test', st('tlsa-mismatch'), st('tlsa-mismatch'), open)).toEqual([]);
    expect(domainTransition('a.test', st('tlsa-mismatch'), st('unreachable'), open)).toEqual([]);
    expect(domainTransition('a.test', st('unreachable'), st('no-tlsa'), open)).toEqual([]);
    expect(resolved(domainTransition('a.test', st('no-tlsa'), st('valid'), open))).toEqual(['domain:a.test']);
    expect(resolved(domainTransition('a.test', st('no-tlsa'), st('expiring'), open))).toEqual(['domain:a.test']);
  });

  it('a DS incident clears only when the DS is back; a bogus one when validation works at the old level', () => {
    const ds = incidentOf(domainTransition('a.test', st('no-tlsa', true), st('no-ds', false), undefined));
    expect(domainTransition('a.test', st('no-ds', false), st('no-ds', false), ds)).toEqual([]);
    expect(resolved(domainTransition('a.test', st('no-ds', false), st('no-tlsa', true), ds))).toEqual(['domain:a.test']);
    const bogus = incidentOf(domainTransition('a.test', st('no-tlsa'), st('bogus', null), undefined));
    expect(domainTransition('a.test', st('bogus', null), st('bogus', null), bogus)).toEqual([]);
    expect(resolved(domainTransition('a.test', st('bogus', null), st('no-tlsa'), bogus))).toEqual(['domain:a.test']);
  });
});

describe('evaluateRun: a server-wide cause is one server incident', () => {
  const base = (entries: [string, Verdict][]) => new Map(entries.map(([d, v]) => [d, st(v)]));
  it('many domains failing alike at once → one server incident, no domain incidents, baselines kept', () => {
    const domains = ['a', 'b', 'c', 'd'].map((x) => `${x}.test`);
    const out = evaluateRun({
      checked: domains.map((domain) => ({ domain, state: st('dns-error', null) })),
      baselines: base(domains.map((d) => [d, 'valid'])),
      open: new Map(),
      resolverOk: true,
    });
    expect(raised(out.events)).toEqual(['server-checks:server']);
    expect(out.baselines.size).toBe(0);
  });

  it('a resolver that does not validate is a server incident; it clears on evidence and domains are judged against their old state', () => {
    const domains = ['a.test', 'b.test'];
    const first = evaluateRun({ checked: domains.map((domain) => ({ domain, state: st('resolver-not-validating', null) })), baselines: base([['a.test', 'valid'], ['b.test', 'valid']]), open: new Map(), resolverOk: false, resolverMessage: 'no AD bit' });
    expect(raised(first.events)).toEqual(['server-checks:server']);
    const server = incidentOf(first.events);
    expect(server.detail).toContain('no AD bit');
    // Fixed resolver: a.test is fine, b.test really broke meanwhile.
    const second = evaluateRun({ checked: [{ domain: 'a.test', state: st('valid') }, { domain: 'b.test', state: st('tlsa-mismatch') }], baselines: base([['a.test', 'valid'], ['b.test', 'valid']]), open: new Map([[SERVER_KEY, server]]), resolverOk: true });
    expect(resolved(second.events)).toEqual([SERVER_KEY]);
    expect(raised(second.events)).toEqual(['domain-degraded:b.test']);
  });

  it('a first run raises the broken domains only, and a first run that fails alike everywhere is one server incident', () => {
    const first = evaluateRun({ checked: [{ domain: 'a.test', state: st('tlsa-mismatch') }, { domain: 'b.test', state: st('no-tlsa') }, { domain: 'c.test', state: st('bogus', null) }, { domain: 'd.test', state: st('valid') }], baselines: new Map(), open: new Map(), resolverOk: true });
    expect(raised(first.events)).toEqual(['domain-broken:a.test', 'dnssec-bogus:c.test']);
    expect(first.baselines.size).toBe(4);
    const domains = ['a', 'b', 'c', 'd'].map((x) => `${x}.test`);
    const outage = evaluateRun({ checked: domains.map((domain) => ({ domain, state: st('unreachable') })), baselines: new Map(), open: new Map(), resolverOk: true });
    expect(raised(outage.events)).toEqual(['server-checks:server']);
  });

  it('one domain failing is that domain\'s incident, and a lone failure does not clear an open outage', () => {
    const single = evaluateRun({ checked: [{ domain: 'a.test', state: st('unreachable') }, { domain: 'b.test', state: st('valid') }, { domain: 'c.test', state: st('valid') }], baselines: base([['a.test', 'valid'], ['b.test', 'valid'], ['c.test', 'valid']]), open: new Map(), resolverOk: true });
    expect(raised(single.events)).toEqual(['domain-degraded:a.test']);
    const outage: Incident = { key: SERVER_KEY, kind: 'server-checks', severity: 'critical', subject: 'server', title: 't', detail: 'd' };
    const lone = evaluateRun({ checked: [{ domain: 'a.test', state: st('dns-error', null) }], baselines: base([['a.test', 'valid']]), open: new Map([[SERVER_KEY, outage]]), resolverOk: true });
    expect(lone.events).toEqual([]);
    expect(lone.baselines.size).toBe(0);
  });
});

describe('condition families', () => {
  const H = 3_600_000;
  it('publish failed twice raises once; success resolves', () => {
    expect(publishCondition('z.test', 1, 'x')).toEqual([]);
    const two = publishCondition('z.test', 2, 'SERVFAIL');
    expect(raised(conditionEvents('publish-failed', two, [], () => ''))).toEqual(['publish-failed:z.test']);
    expect(conditionEvents('publish-failed', publishCondition('z.test', 3, 'x'), two, () => '')).toEqual([]);
    expect(resolved(conditionEvents('publish-failed', publishCondition('z.test', 0, ''), two, () => 'ok'))).toEqual(['publish:z.test']);
  });

  it('the timer alert needs two missed intervals', () => {
    const now = 1_000 * H;
    expect(timerCondition(now - 9 * 60_000, now, 5 * 60_000, 0)).toEqual([]);
    expect(timerCondition(now - 11 * 60_000, now, 5 * 60_000, 0).map((i) => i.kind)).toEqual(['timer-stalled']);
    // never ran: counted from when the daemon started watching
    expect(timerCondition(null, now, 5 * 60_000, now - 5 * 60_000)).toEqual([]);
  });

  it('certificate expiry alerts only where 2 x x records depend on the certificate, inside 7 days', () => {
    const now = 1_000 * H;
    const c = expiryConditions([
      { host: 'ta.test', notAfter: now + 6 * 24 * H, taDependent: true },
      { host: 'ee.test', notAfter: now + 1 * 24 * H, taDependent: false },
      { host: 'later.test', notAfter: now + 8 * 24 * H, taDependent: true },
    ], now);
    expect(c.map((i) => i.key)).toEqual(['expiry:ta.test']);
  });
});

describe('issuer not covered (planner warnings → alerts)', () => {
  it('raises per MX host for a new warning, keeps it while warned, resolves when the warning is gone', async () => {
    const { issuerConditions } = await import('../../src/alerts/transitions.js');
    const warn = [{ code: 'issuer-not-covered', subject: 'mail.a.test', message: 'mail.a.test now presents a certificate from CN=New CA' }];
    const first = conditionEvents('issuer-not-covered', issuerConditions(warn), [], () => 'pinned');
    expect(raised(first)).toEqual(['issuer-not-covered:mail.a.test']);
    const open = [incidentOf(first)];
    expect(conditionEvents('issuer-not-covered', issuerConditions(warn), open, () => 'pinned')).toEqual([]);
    expect(resolved(conditionEvents('issuer-not-covered', issuerConditions([]), open, () => 'pinned'))).toEqual(['issuer:mail.a.test']);
  });
});
