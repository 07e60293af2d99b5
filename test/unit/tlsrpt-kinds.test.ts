import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planZone, serverWideLimit, type ZonePlanInput } from '../../src/plan/plan.js';
import type { DesiredRecord, DesiredTlsrpt } from '../../src/plan/desired.js';
import type { PublishedRecord } from '../../src/providers/contract.js';
import type { LedgerView } from '../../src/state/ledger.js';
import { recordKey } from '../../src/tlsa/types.js';
import { reportAddressFault } from '../../src/dns/records.js';
import { editZone, parseZone, recordsAt, managedTxtRecordsAt, ZoneEditError } from '../../src/zonefile/index.js';
import { configSchema } from '../../src/state/config.js';

/**
 * Issue 14 §1: the TLSRPT kind in the planner (one policy per name, ownership, retirement, the
 * safety limit) and in the zone editor (a quoted TXT line that BIND reads back exactly).
 */
const zone = 'example.test';
const owner = '_smtp._tls.example.test';
const NOW = Date.UTC(2026, 10, 30, 12);
const text = (a: string) => `v=TLSRPTv1; rua=mailto:${a}`;
const want = (address: string, domain = 'example.test'): DesiredTlsrpt => ({ kind: 'TLSRPT', owner: `_smtp._tls.${domain}`, ttl: 3600, text: text(address), domain, reason: 'test' });
const pub = (t: string, o = owner, extra: { markedOurs?: boolean } = {}): PublishedRecord => ({ kind: 'TLSRPT', owner: o, ttl: 3600, text: t, ...extra });
const tlsa = (data: string, o = '_25._tcp.mail.example.test'): PublishedRecord => ({ owner: o, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data });
const desiredTlsa = (data: string, o = '_25._tcp.mail.example.test'): DesiredRecord => ({ owner: o, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data, host: 'mail.example.test', port: 25, reason: 'test', priority: 0 });

function ledgerOf(ours: PublishedRecord[]): LedgerView {
  const keys = new Set(ours.map(recordKey));
  return { publishedSince: (_z, k) => (keys.has(k) ? NOW - 99 * 3_600_000 : null), createdByUs: (_z, k) => keys.has(k) };
}

function plan(p: Partial<ZonePlanInput>) {
  return planZone({ zone, provider: 'cpanel', desired: [], published: [], ledger: ledgerOf([]), stillServed: () => false, now: NOW, ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10, ...p });
}
const summary = (p: ReturnType<typeof plan>) => p.changes.map((c) => [c.kind, c.record.owner, 'text' in c.record ? c.record.text : c.record.data]);

describe('TLSRPT in the planner', () => {
  it('creates the wanted policy, and nothing once it is there', () => {
    expect(summary(plan({ tlsrpt: [want('a@h.test')] }))).toEqual([['create', owner, text('a@h.test')]]);
    const mine = pub(text('a@h.test'));
    expect(plan({ tlsrpt: [want('a@h.test')], published: [mine], ledger: ledgerOf([mine]) }).changes).toEqual([]);
  });

  it('replaces its own policy when the address changes: create and delete in the same plan', () => {
    const old = pub(text('old@h.test'));
    const p = plan({ tlsrpt: [want('new@h.test')], published: [old], ledger: ledgerOf([old]) });
    expect(summary(p)).toEqual([['create', owner, text('new@h.test')], ['delete', owner, text('old@h.test')]]);
    // A replacement has a successor: not counted by the safety limit.
    expect(p.ownersGone).toEqual([]);
  });

  it('never touches a policy it did not create, says so, and drops its own beside it (one per name)', () => {
    const theirs = pub(text('them@else.test'));
    const alone = plan({ tlsrpt: [want('a@h.test')], published: [theirs] });
    expect(alone.changes).toEqual([]);
    expect(alone.foreign).toEqual([theirs]);
    expect(alone.warnings.map((w) => [w.code, w.subject])).toEqual([['tlsrpt-foreign', 'example.test']]);
    expect(alone.warnings[0]!.fix).toContain(`--takeover ${owner}`);
    const mine = pub(text('a@h.test'));
    const both = plan({ tlsrpt: [want('a@h.test')], published: [theirs, mine], ledger: ledgerOf([mine]) });
    expect(summary(both)).toEqual([['delete', owner, text('a@h.test')]]);
    // Taken over, the foreign one is ours to replace.
    expect(summary(plan({ tlsrpt: [want('a@h.test')], published: [theirs], takeover: new Set([owner]) }))).toEqual([['create', owner, text('a@h.test')], ['delete', owner, text('them@else.test')]]);
  });

  it('a foreign policy with the very text wanted is simply left in place', () => {
    const p = plan({ tlsrpt: [want('a@h.test')], published: [pub(text('a@h.test'))] });
    expect(p.changes).toEqual([]);
    expect(p.warnings).toEqual([]);
  });

  it('retires its policy when none is wanted, counting the owner for the safety limit; a foreign one stays', () => {
    const mine = pub(text('a@h.test'));
    const theirs = pub(text('them@else.test'), '_smtp._tls.other.example.test');
    const p = plan({ published: [mine, theirs], ledger: ledgerOf([mine]) });
    expect(summary(p)).toEqual([['delete', owner, text('a@h.test')]]);
    expect(p.ownersGone).toEqual([owner]);
    expect(p.managedOwners).toBe(1);
  });

  it('the safety limit counts TLSRPT owners with the TLSA owners, per zone and server-wide', () => {
    const domains = Array.from({ length: 10 }, (_, i) => `d${i}.example.test`);
    const mine = domains.map((d) => pub(text('a@h.test'), `_smtp._tls.${d}`));
    const keys = [tlsa('aa'), tlsa('bb', '_465._tcp.mail.example.test')];
    const all = [...mine, ...keys];
    const p = plan({ desired: [desiredTlsa('aa'), desiredTlsa('bb', '_465._tcp.mail.example.test')], published: all, ledger: ledgerOf(all) });
    expect(p.managedOwners).toBe(12);
    expect(p.ownersGone).toHaveLength(10);
    expect(p.blocked?.code).toBe('safety-limit');
    expect(p.changes).toEqual([]);
    expect(summary(plan({ desired: [desiredTlsa('aa'), desiredTlsa('bb', '_465._tcp.mail.example.test')], published: all, ledger: ledgerOf(all), force: true }))).toHaveLength(10);
    const small = plan({ published: [mine[0]!], ledger: ledgerOf([mine[0]!]) });
    expect(serverWideLimit([small, small, small, small, small, small, small, small, small, small], { maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10 })?.code).toBe('safety-limit');
  });

  it('TLSA planning is unaffected by a policy at a TLSRPT owner', () => {
    const p = plan({ desired: [desiredTlsa('aa')], tlsrpt: [want('a@h.test')], published: [pub(text('them@else.test'))] });
    expect(summary(p)).toEqual([['create', '_25._tcp.mail.example.test', 'aa']]);
  });
});

describe('the report address', () => {
  it('accepts a mailto address on a DNS name and refuses what could break a TXT string or a zone line', () => {
    expect(reportAddressFault('tlsrpt@server.example.com')).toBeNull();
    expect(reportAddressFault('tls-rpt+x@mx1.example.com')).toBeNull();
    for (const bad of ['tlsrpt', '@example.com', 'a"b@example.com', 'a\\b@example.com', 'a b@example.com', 'a;b@example.com', 'a,b@example.com', 'a!10m@example.com', 'a@example.com\n$INCLUDE /etc/shadow', 'a@localhost', 'a@exa mple.com', 'a@-x.example.com', `${'a'.repeat(65)}@example.com`, 'a@example.com.']) {
      expect(reportAddressFault(bad), bad).not.toBeNull();
    }
  });

  it('the settings refuse a bad address and default to publishing nothing', () => {
    expect(configSchema.parse({}).tlsrpt).toEqual({ publish: 'off', retentionDays: 400 });
    expect(configSchema.safeParse({ tlsrpt: { address: 'x"@example.com' } }).success).toBe(false);
    expect(configSchema.safeParse({ tlsrpt: { publish: 'some' } }).success).toBe(false);
    expect(configSchema.parse({ tlsrpt: { publish: ['example.com'], address: 'r@h.example.com' } }).tlsrpt.publish).toEqual(['example.com']);
  });
});

describe('the zone editor writes a TLSRPT policy BIND reads back exactly', () => {
  const base = [
    '$TTL 3600',
    '@ IN SOA ns1.example.test. hostmaster.example.test. ( 2026113001 3600 900 604800 300 )',
    '@ IN NS ns1.example.test.',
    'ns1 IN A 192.0.2.1',
    '_smtp._tls IN TXT "v=spf1 -all; not a policy"',
    '_smtp._tls.other IN TXT "v=TLSRPTv1;" "rua=mailto:split@else.test"',
    '',
  ].join('\n');

  /** TXT lines of named-compilezone's canonical output for the zone text. */
  function compiled(textOfZone: string): string[] {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-zone-'));
    try {
      writeFileSync(join(dir, 'z.db'), textOfZone);
      const out = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', zone, join(dir, 'z.db')], { encoding: 'utf8' });
      return out.split('\n').filter((l) => /\sIN\s+TXT\s/.test(l)).map((l) => l.replace(/\s+/g, ' ').trim()).sort();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  function checkzone(textOfZone: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-zone-'));
    try {
      writeFileSync(join(dir, 'z.db'), textOfZone);
      return execFileSync('named-checkzone', ['-i', 'local', zone, join(dir, 'z.db')], { encoding: 'utf8' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('adds, replaces and removes only the policy; other TXT records stay byte for byte', () => {
    const parsed = parseZone(base, zone);
    // A policy split over two strings is still a policy (RFC 8460 §3: strings are joined).
    expect(managedTxtRecordsAt(parsed, ['_smtp._tls.other.example.test']).map((r) => r.text)).toEqual(['v=TLSRPTv1;rua=mailto:split@else.test']);
    expect(managedTxtRecordsAt(parsed, [owner])).toEqual([]);
    const added = editZone(base, parsed, { remove: [], add: [{ kind: 'TLSRPT', owner, ttl: 3600, text: text('tlsrpt@h.example.test') }], serial: 2026113002 });
    expect(compiled(added)).toEqual([
      '_smtp._tls.example.test. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@h.example.test"',
      '_smtp._tls.example.test. 3600 IN TXT "v=spf1 -all; not a policy"',
      '_smtp._tls.other.example.test. 3600 IN TXT "v=TLSRPTv1;" "rua=mailto:split@else.test"',
    ]);
    const p2 = parseZone(added, zone);
    const ours = managedTxtRecordsAt(p2, [owner]);
    expect(ours).toHaveLength(1);
    const replaced = editZone(added, p2, { remove: ours, add: [{ kind: 'TLSRPT', owner, ttl: 3600, text: text('new@h.example.test') }], serial: 2026113003 });
    expect(compiled(replaced).filter((l) => l.includes('TLSRPTv1') && l.startsWith('_smtp._tls.example.test.'))).toEqual(['_smtp._tls.example.test. 3600 IN TXT "v=TLSRPTv1; rua=mailto:new@h.example.test"']);
    const p3 = parseZone(replaced, zone);
    const removed = editZone(replaced, p3, { remove: managedTxtRecordsAt(p3, [owner]), add: [], serial: 2026113004 });
    expect(removed).toBe(base.replace('2026113001', '2026113004'));
  });

  it('joins TXT records already at the owner with their TTL (one TTL per record set, as BIND loads it)', () => {
    const withShort = base.replace('_smtp._tls IN TXT', '_smtp._tls 300 IN TXT');
    const added = editZone(withShort, parseZone(withShort, zone), { remove: [], add: [{ kind: 'TLSRPT', owner, ttl: 3600, text: text('a@h.example.test') }], serial: 2026113002 });
    expect(compiled(added).filter((l) => l.startsWith(`${owner}.`))).toEqual([
      '_smtp._tls.example.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:a@h.example.test"',
      '_smtp._tls.example.test. 300 IN TXT "v=spf1 -all; not a policy"',
    ]);
    // BIND would load mixed TTLs as one too, but warns; written with the set's TTL it has nothing to say.
    expect(checkzone(added)).not.toMatch(/TTL set to prior TTL/);
    expect(checkzone(added)).toMatch(/OK/);
  });

  it('refuses to remove a TXT record that is not a policy, and to write a text that would break the line', () => {
    const parsed = parseZone(base, zone);
    const spf = recordsAt(parsed, owner, 'TXT')[0]!;
    expect(() => editZone(base, parsed, { remove: [spf], add: [], serial: 2026113002 })).toThrow(/not TLSA/);
    for (const t of ['v=TLSRPTv1; rua=mailto:a"b@h.test', 'v=TLSRPTv1; rua=mailto:a@h.test\n$INCLUDE /etc/shadow', 'v=spf1 -all', `v=TLSRPTv1; rua=mailto:${'a'.repeat(250)}@h.test`]) {
      expect(() => editZone(base, parsed, { remove: [], add: [{ kind: 'TLSRPT', owner, ttl: 3600, text: t }], serial: 2026113002 }), t).toThrow(ZoneEditError);
    }
    expect(() => editZone(base, parsed, { remove: [], add: [{ kind: 'TLSRPT', owner: '_smtp._tls.elsewhere.test', ttl: 3600, text: text('a@h.test') }], serial: 2026113002 })).toThrow(/not inside zone/);
  });

  it('names what is wrong with a policy it was asked to write, under the TLSRPT code, before any text exists', () => {
    const parsed = parseZone(base, zone);
    const refusal = (r: Record<string, unknown>): [string, string] | null => {
      try {
        editZone(base, parsed, { remove: [], add: [{ kind: 'TLSRPT', owner, ttl: 3600, text: text('a@h.test'), ...r } as never], serial: 2026113002 });
        return null;
      } catch (e) {
        expect(e).toBeInstanceOf(ZoneEditError);
        return [(e as ZoneEditError).problem.code, (e as ZoneEditError).problem.message];
      }
    };
    expect(refusal({ owner: '_smtp._tls.bad owner.example.test' })).toEqual(['tlsrpt-record-invalid', 'TLSRPT owner "_smtp._tls.bad owner.example.test" is not a valid name: contains whitespace or control characters.']);
    expect(refusal({ ttl: -1 })).toEqual(['tlsrpt-record-invalid', 'TLSRPT record _smtp._tls.example.test: TTL -1 is not an integer 0-2147483647.']);
    expect(refusal({ text: 42 })).toEqual(['tlsrpt-record-invalid', 'TLSRPT record _smtp._tls.example.test: the text is not a string.']);
    expect(refusal({ owner: 'mail.example.test' })).toEqual(['tlsrpt-record-invalid', 'TLSRPT record mail.example.test: the owner mail.example.test is not _smtp._tls.<domain>.']);
    expect(refusal({ text: 'v=TLSRPTv1; rua=mailto:a\\b@h.test' })).toEqual(['tlsrpt-record-invalid', 'TLSRPT record _smtp._tls.example.test: the text holds a quote or a backslash.']);
    // The owner is written as checked: lower case, without the trailing dot.
    expect(refusal({ owner: '_SMTP._TLS.Example.TEST.' })).toBeNull();
    const added = editZone(base, parsed, { remove: [], add: [{ kind: 'TLSRPT', owner: '_SMTP._TLS.Example.TEST.', ttl: 3600, text: text('a@h.example.test') }], serial: 2026113002 });
    expect(compiled(added)).toContain('_smtp._tls.example.test. 3600 IN TXT "v=TLSRPTv1; rua=mailto:a@h.example.test"');
  });
});
