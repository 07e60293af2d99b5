import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mxMatches, mxPatterns, parsePolicy, parseStsTxt, policyId, policyText, stsTxtText, uncoveredMx } from '../../src/mtasts/policy.js';
import { desiredMtaSts, wantedPolicies } from '../../src/mtasts/desired.js';
import { MtaStsStore, type MtaStsDomainState } from '../../src/mtasts/store.js';
import { planZone, type ZonePlanInput } from '../../src/plan/plan.js';
import { managedTxt, mtaStsRecordFault, txtKindOf } from '../../src/dns/records.js';
import { configSchema } from '../../src/state/config.js';
import { editZone, parseZone, managedTxtRecordsAt } from '../../src/zonefile/index.js';
import type { PublishedRecord } from '../../src/providers/contract.js';
import type { DomainReport } from '../../src/cpanel/scan.js';
import { recordKey } from '../../src/tlsa/types.js';

/**
 * Issue 27 §1-2: the MTA-STS policy text, its id and the `_mta-sts` TXT record. Expected values
 * are written by hand from RFC 8461 (§3.1 TXT ABNF, §3.2 policy fields, §4.1 MX matching); the
 * ids are `sha256sum` of the texts (printf '...\r\n...' | sha256sum), first 32 hex digits.
 */
const S = { maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false };

describe('policy text (RFC 8461 §3.2)', () => {
  it('version, mode, one mx per MX host, max_age by mode, CRLF line ends', () => {
    expect(policyText('testing', ['mail.example.com'], S)).toBe('version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n');
    expect(policyText('enforce', ['MX2.example.net.', 'mail.example.com', 'mail.example.com'], S)).toBe('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: mx2.example.net\r\nmax_age: 1209600\r\n');
  });
  it('no MX: no policy', () => {
    expect(policyText('testing', [], S)).toBeNull();
  });
  it('*.parent only with mxWildcard and when every MX is one label below the same parent', () => {
    expect(mxPatterns(['a.example.com', 'b.example.com'], false)).toEqual(['a.example.com', 'b.example.com']);
    expect(mxPatterns(['a.example.com', 'b.example.com'], true)).toEqual(['*.example.com']);
    expect(mxPatterns(['a.example.com', 'b.example.net'], true)).toEqual(['a.example.com', 'b.example.net']);
    expect(mxPatterns(['a.example.com', 'x.b.example.com'], true)).toEqual(['a.example.com', 'x.b.example.com']);
    // *.com would cover every host under a TLD
    expect(mxPatterns(['example.com'], true)).toEqual(['example.com']);
    expect(policyText('enforce', ['a.example.com', 'b.example.com'], { ...S, mxWildcard: true })).toBe('version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 1209600\r\n');
  });
});

describe('policy id (RFC 8461 §3.1: 1-32 alphanumerics, changes iff the text changes)', () => {
  it('is the first 32 hex digits of SHA-256 of the text (sha256sum)', () => {
    expect(policyId('version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n')).toBe('be6a844a94b9834664e5d3709724dd35');
    expect(policyId('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: mx2.example.net\r\nmax_age: 1209600\r\n')).toBe('49a50f707ae5001f66f3dcfc915b0025');
    expect(policyId('version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 1209600\r\n')).toBe('ae881cc1fb8f6aa0d3c95878c2bbac9d');
  });
  it('same MX set in another order: same text, same id; a new MX or mode: new id', () => {
    const a = policyText('testing', ['b.example.com', 'a.example.com'], S)!;
    const b = policyText('testing', ['a.example.com', 'b.example.com'], S)!;
    expect(policyId(a)).toBe(policyId(b));
    expect(policyId(policyText('testing', ['a.example.com'], S)!)).not.toBe(policyId(a));
    expect(policyId(policyText('enforce', ['a.example.com', 'b.example.com'], S)!)).not.toBe(policyId(a));
  });
});

describe('the _mta-sts TXT record (RFC 8461 §3.1)', () => {
  it('is v=STSv1; id=<id>; and reads back', () => {
    expect(stsTxtText('be6a844a94b9834664e5d3709724dd35')).toBe('v=STSv1; id=be6a844a94b9834664e5d3709724dd35;');
    expect(parseStsTxt('v=STSv1; id=20160831085700Z;')).toEqual({ id: '20160831085700Z' });
    expect(parseStsTxt('v=STSv1;id=abc')).toEqual({ id: 'abc' });
    expect(parseStsTxt('v=STSv1; id=abc; ext=1;')).toEqual({ id: 'abc' });
  });
  it('refuses what senders discard', () => {
    expect(parseStsTxt('v=STSv2; id=abc;')).toHaveProperty('fault');
    expect(parseStsTxt('v=STSv1;')).toHaveProperty('fault');
    expect(parseStsTxt('v=STSv1; id=abc; id=def;')).toHaveProperty('fault');
    expect(parseStsTxt(`v=STSv1; id=${'a'.repeat(33)};`)).toHaveProperty('fault');
    expect(parseStsTxt('v=STSv1; id=a-b;')).toHaveProperty('fault');
  });
  it('is a managed TXT kind by its version tag; other TXT is not ours', () => {
    expect(txtKindOf('v=STSv1; id=abc;')).toBe('MTASTS');
    expect(txtKindOf('v=TLSRPTv1; rua=mailto:a@b.c')).toBe('TLSRPT');
    expect(txtKindOf('v=spf1 -all')).toBeNull();
    expect(managedTxt('_mta-sts.example.com', 60, 'v=STSv1; id=abc;')).toEqual({ kind: 'MTASTS', owner: '_mta-sts.example.com', ttl: 60, text: 'v=STSv1; id=abc;' });
    expect(mtaStsRecordFault({ kind: 'MTASTS', owner: '_mta-sts.example.com', ttl: 60, text: 'v=STSv1; id=abc;' })).toBeNull();
    expect(mtaStsRecordFault({ kind: 'MTASTS', owner: '_smtp._tls.example.com', ttl: 60, text: 'v=STSv1; id=abc;' })).toMatch(/not _mta-sts/);
    expect(mtaStsRecordFault({ kind: 'MTASTS', owner: '_mta-sts.example.com', ttl: 60, text: 'v=STSv1; id="x";' })).toMatch(/printable|valid/);
  });
});

describe('reading a policy and matching MX hosts (§3.2, §4.1)', () => {
  it('reads the RFC example (LF line ends accepted, unknown keys ignored)', () => {
    expect(parsePolicy('version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\nfoo: bar\n')).toEqual({ mode: 'enforce', mx: ['mail.example.com', '*.example.net', 'backupmx.example.com'], maxAge: 604800 });
  });
  it('refuses a policy without version, mode, max_age or mx', () => {
    expect(parsePolicy('mode: enforce\r\nmx: a.b\r\nmax_age: 1\r\n')).toHaveProperty('fault');
    expect(parsePolicy('version: STSv1\r\nmode: strict\r\nmx: a.b\r\nmax_age: 1\r\n')).toHaveProperty('fault');
    expect(parsePolicy('version: STSv1\r\nmode: enforce\r\nmx: a.b\r\nmax_age: 31557601\r\n')).toHaveProperty('fault');
    expect(parsePolicy('version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n')).toHaveProperty('fault');
    expect(parsePolicy('<html>not found</html>')).toHaveProperty('fault');
  });
  it('a wildcard covers exactly one leftmost label', () => {
    expect(mxMatches('*.example.net', 'mx1.example.net')).toBe(true);
    expect(mxMatches('*.example.net', 'example.net')).toBe(false);
    expect(mxMatches('*.example.net', 'a.mx1.example.net')).toBe(false);
    expect(mxMatches('mail.example.com', 'MAIL.example.com.')).toBe(true);
    expect(uncoveredMx(['mail.example.com'], ['mail.example.com', 'mx2.example.com'])).toEqual(['mx2.example.com']);
  });
});

const domain = (name: string, mx: string[], extra: Partial<DomainReport> = {}): DomainReport => ({ domain: name, owner: 'u', mail: 'local', zone: name, mx: mx.map((host, i) => ({ host, preference: 10 + i, pointsHere: true, why: 'test', addresses: [] })), problems: [], ...extra });
const st = (d: string, s: Partial<MtaStsDomainState>): MtaStsDomainState => ({ domain: d, mode: 'testing', modeSince: '2026-01-01T00:00:00Z', servedText: null, servedId: null, servedAt: null, subdomainOurs: false, policyFile: null, retiring: null, ...s });

describe('which domains get a policy, and which id the TXT announces', () => {
  const settings = { ...S, publish: 'all' as const, mode: 'testing' as const };
  it('opted-in local domains with MX; the stored mode wins over the start mode', () => {
    const r = wantedPolicies([domain('a.test', ['mail.a.test']), domain('b.test', ['mail.b.test']), domain('r.test', ['mx.r.test'], { mail: 'remote' })], settings, new Map([['b.test', st('b.test', { mode: 'enforce' })]]));
    expect(r.policies.map((p) => [p.domain, p.mode])).toEqual([['a.test', 'testing'], ['b.test', 'enforce']]);
    expect(wantedPolicies([domain('a.test', ['mail.a.test'])], { ...settings, publish: ['b.test'] }, new Map()).policies).toEqual([]);
    expect(wantedPolicies([domain('a.test', ['mail.a.test'])], { ...settings, publish: 'off' }, new Map()).policies).toEqual([]);
  });
  it('the TXT announces the id proven served, not the one only wanted; none before the first serve', () => {
    const [p] = wantedPolicies([domain('a.test', ['mail.a.test'])], settings, new Map()).policies;
    const zoneOf = () => 'a.test';
    const none = desiredMtaSts([p!], new Map(), zoneOf, 3600);
    expect(none.byZone.size).toBe(0);
    expect(none.problems.map((x) => x.code)).toEqual(['mta-sts-not-served']);
    const stale = desiredMtaSts([p!], new Map([['a.test', st('a.test', { servedId: 'oldid' })]]), zoneOf, 3600);
    expect(stale.byZone.get('a.test')!.map((r) => r.text)).toEqual(['v=STSv1; id=oldid;']);
    const fresh = desiredMtaSts([p!], new Map([['a.test', st('a.test', { servedId: p!.id })]]), zoneOf, 3600);
    expect(fresh.byZone.get('a.test')!.map((r) => [r.owner, r.text])).toEqual([['_mta-sts.a.test', `v=STSv1; id=${p!.id};`]]);
  });
});

describe('MTA-STS records in the planner (one per name; foreign never touched)', () => {
  const zone = 'a.test';
  const owner = '_mta-sts.a.test';
  const want = (id: string) => ({ kind: 'MTASTS' as const, owner, ttl: 3600, text: `v=STSv1; id=${id};`, domain: 'a.test', reason: 'test' });
  const pub = (id: string): PublishedRecord => ({ kind: 'MTASTS', owner, ttl: 3600, text: `v=STSv1; id=${id};` });
  const plan = (p: Partial<ZonePlanInput>, ours: PublishedRecord[] = []) => {
    const keys = new Set(ours.map(recordKey));
    return planZone({ zone, provider: 'cpanel', desired: [], published: [], ledger: { publishedSince: () => 0, createdByUs: (_z, k) => keys.has(k) }, stillServed: () => false, now: 1, ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10, ...p });
  };
  const summary = (p: ReturnType<typeof plan>) => p.changes.map((c) => [c.kind, c.record.owner, 'text' in c.record ? c.record.text : '']);
  it('creates, replaces ours in one apply, retires ours when no longer wanted', () => {
    expect(summary(plan({ mtaSts: [want('a1')] }))).toEqual([['create', owner, 'v=STSv1; id=a1;']]);
    expect(summary(plan({ mtaSts: [want('a2')], published: [pub('a1')] }, [pub('a1')]))).toEqual([['create', owner, 'v=STSv1; id=a2;'], ['delete', owner, 'v=STSv1; id=a1;']]);
    expect(summary(plan({ mtaSts: [], published: [pub('a1')] }, [pub('a1')]))).toEqual([['delete', owner, 'v=STSv1; id=a1;']]);
  });
  it('a v=STSv1 record we did not create is never touched and is named with the fix', () => {
    const p = plan({ mtaSts: [want('a1')], published: [pub('theirs')] });
    expect(p.changes).toEqual([]);
    expect(p.foreign.map((f) => 'text' in f && f.text)).toEqual(['v=STSv1; id=theirs;']);
    expect(p.warnings.map((w) => w.code)).toEqual(['mta-sts-foreign']);
    expect(p.warnings[0]!.fix).toMatch(/Remove that TXT record|--takeover _mta-sts\.a\.test/);
    expect(plan({ mtaSts: [], published: [pub('theirs')] }).changes).toEqual([]);
  });
  it('TLS-RPT and MTA-STS at their own owners do not mix', () => {
    const p = plan({ mtaSts: [want('a1')], tlsrpt: [{ kind: 'TLSRPT', owner: '_smtp._tls.a.test', ttl: 3600, text: 'v=TLSRPTv1; rua=mailto:r@a.test', domain: 'a.test', reason: 't' }] });
    expect(summary(p)).toEqual([['create', '_smtp._tls.a.test', 'v=TLSRPTv1; rua=mailto:r@a.test'], ['create', owner, 'v=STSv1; id=a1;']]);
  });
});

describe('the zone editor and the config', () => {
  it('writes an MTA-STS TXT line that reads back as the MTASTS kind, and never reads other TXT as ours', () => {
    const text = '$ORIGIN a.test.\n$TTL 3600\n@ IN SOA ns.a.test. h.a.test. ( 2026010101 3600 600 86400 300 )\n@ IN NS ns.a.test.\n_mta-sts IN TXT "v=spf1 -all"\n';
    const parsed = parseZone(text, 'a.test');
    expect(managedTxtRecordsAt(parsed, ['_mta-sts.a.test'])).toEqual([]);
    const out = editZone(text, parsed, { add: [{ kind: 'MTASTS', owner: '_mta-sts.a.test', ttl: 3600, text: 'v=STSv1; id=abc;' }], remove: [], serial: 2026010102 });
    const back = managedTxtRecordsAt(parseZone(out, 'a.test'), ['_mta-sts.a.test']);
    expect(back.map((r) => [r.kind, r.text])).toEqual([['MTASTS', 'v=STSv1; id=abc;']]);
  });
  it('mtaSts defaults to off, testing, a day and two weeks; refuses a bad mode', () => {
    const c = configSchema.parse({});
    expect(c.mtaSts).toEqual({ publish: 'off', mode: 'testing', maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false, autoEnforce: { enabled: false, afterDays: 14 } });
    expect(configSchema.safeParse({ mtaSts: { mode: 'strict' } }).success).toBe(false);
    expect(configSchema.safeParse({ mtaSts: { maxAgeEnforce: 31557601 } }).success).toBe(false);
    expect(configSchema.safeParse({ mtaSts: { publish: ['a.test'], caFile: '/x/ca.pem' } }).success).toBe(true);
  });
});

describe('per-domain state in the state database', () => {
  it('starts in the given mode, keeps its mode and since across ensure, moves on setMode, remembers the served policy', () => {
    const s = new MtaStsStore(new Database(':memory:'));
    expect(s.ensure('a.test', 'testing', '2026-01-01T00:00:00Z').mode).toBe('testing');
    expect(s.ensure('a.test', 'enforce', '2026-02-01T00:00:00Z')).toMatchObject({ mode: 'testing', modeSince: '2026-01-01T00:00:00Z' });
    s.setMode('a.test', 'enforce', '2026-03-01T00:00:00Z');
    s.setMode('a.test', 'enforce', '2026-04-01T00:00:00Z');
    expect(s.get('a.test')).toMatchObject({ mode: 'enforce', modeSince: '2026-03-01T00:00:00Z' });
    s.markServed('a.test', 'TEXT', 'id1', '2026-03-02T00:00:00Z');
    expect(s.get('a.test')).toMatchObject({ servedText: 'TEXT', servedId: 'id1' });
    s.remove('a.test');
    expect(s.get('a.test')).toBeNull();
  });
});
