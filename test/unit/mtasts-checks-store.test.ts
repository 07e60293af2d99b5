import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { MAX_STATUS_JSON, MtaStsChecks } from '../../src/mtasts/checks-store.js';
import type { StsStatus } from '../../src/mtasts/status.js';
import { problem } from '../../src/problem.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const H = 3_600_000;

function status(domain: string, over: Partial<StsStatus> = {}): StsStatus {
  return { domain, state: 'testing', id: '20261201', policy: { mode: 'testing', mx: [`mail.${domain}`], maxAge: 86400 }, served: true, mx: [{ host: `mail.${domain}`, address: '192.0.2.1', covered: true, certificateValid: true }], problems: [], ...over };
}

describe('MTA-STS check results (mta_sts_check, migration 6)', () => {
  it('records, reads the latest per domain and all latest, lists since a time in order, prunes', () => {
    const s = new MtaStsChecks(new Database(':memory:'));
    expect(s.latest('a.test')).toBeNull();
    expect(s.latestAll().size).toBe(0);
    s.record(status('a.test'), T0);
    const bad = status('a.test', { state: 'testing', problems: [problem('mta-sts-mx-not-covered', 'x', { subject: 'a.test' }), problem('mta-sts-id-stale', 'y'), problem('mta-sts-mx-not-covered', 'z')] });
    const second = s.record(bad, T0 + H);
    expect(second).toMatchObject({ domain: 'a.test', time: new Date(T0 + H).toISOString(), state: 'testing', id: '20261201', served: true, problems: ['mta-sts-mx-not-covered', 'mta-sts-id-stale'] });
    expect(second.status).toEqual(bad);
    s.record(status('b.test', { state: 'none', id: null, served: false, policy: null }), T0 + 2 * H);
    expect(s.latest('a.test')!.time).toBe(new Date(T0 + H).toISOString());
    const all = s.latestAll();
    expect([...all.keys()]).toEqual(['a.test', 'b.test']);
    expect(all.get('b.test')).toMatchObject({ state: 'none', id: null, served: false, problems: [] });
    expect(s.since('a.test', new Date(T0).toISOString()).map((c) => c.time)).toEqual([new Date(T0).toISOString(), new Date(T0 + H).toISOString()]);
    expect(s.since('a.test', new Date(T0 + 1).toISOString()).length).toBe(1);
    expect(s.verdictsSince('a.test', new Date(T0).toISOString())).toEqual([
      { time: new Date(T0).toISOString(), state: 'testing', problems: [] },
      { time: new Date(T0 + H).toISOString(), state: 'testing', problems: ['mta-sts-mx-not-covered', 'mta-sts-id-stale'] },
    ]);
    expect(s.prune(new Date(T0 + H).toISOString())).toBe(1);
    expect(s.since('a.test', '1970-01-01T00:00:00.000Z').length).toBe(1);
  });

  it('a hostile status (huge MX list, long texts) is stored bounded, verdict and codes intact', () => {
    const s = new MtaStsChecks(new Database(':memory:'));
    const long = 'x'.repeat(5000);
    const huge = status('h.test', {
      state: 'broken',
      mx: Array.from({ length: 500 }, (_, i) => ({ host: `mx${i}.h.test`, address: '192.0.2.1', covered: false, certificateValid: false, detail: long })),
      problems: Array.from({ length: 300 }, () => problem('mta-sts-mx-certificate-invalid', long, { fix: long })),
    });
    const c = s.record(huge, T0);
    const db = (s as unknown as { db: Database.Database }).db;
    const stored = db.prepare('SELECT length(status) AS n FROM mta_sts_check').get() as { n: number };
    expect(stored.n).toBeLessThanOrEqual(MAX_STATUS_JSON);
    expect(c).toMatchObject({ state: 'broken', problems: ['mta-sts-mx-certificate-invalid'] });
    expect(c.status.cut).toBe(true);
    expect(c.status.mx.length).toBe(10);
    expect(c.status.problems[0]!.code).toBe('mta-sts-mx-certificate-invalid');
  });

  it('a read-only view of an older database (no table) reads nothing and creates nothing', () => {
    const db = new Database(':memory:');
    const s = new MtaStsChecks(db, { readOnly: true });
    expect(s.latest('a.test')).toBeNull();
    expect(s.latestAll().size).toBe(0);
    expect(s.since('a.test', '1970-01-01T00:00:00Z')).toEqual([]);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'mta_sts_check'").get()).toEqual({ n: 0 });
  });
});
