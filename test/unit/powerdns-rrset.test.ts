import { describe, expect, it } from 'vitest';
import type { Change } from '../../src/providers/contract.js';
import { MARKER_ACCOUNT, MARKER_PREFIX, markedIds, nextRrset, ownershipId, parseTxt, publishedOf, type PdnsRrset } from '../../src/providers/powerdns/client.js';
import { apiBase } from '../../src/providers/powerdns/http.js';
import { fromCryptokeys, parseDs } from '../../src/dnssec/powerdns-signer.js';
import type { ManagedRecord } from '../../src/dns/records.js';

/**
 * The REPLACE the powerdns provider sends for one owner and type, worked out from the RRset as
 * PowerDNS returned it (pure; the real server is in test/integration/powerdns-provider.test.ts).
 * Inputs are written in PowerDNS's own presentation (what its API answers).
 */
const OWNER = '_25._tcp.mail.example.net';
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const tlsa = (data: string, ttl = 3600): ManagedRecord => ({ owner: OWNER, ttl, usage: 3, selector: 1, matchingType: 1, data });
const change = (kind: 'create' | 'delete', record: ManagedRecord): Change => ({ kind, zone: 'example.net', record, ...(kind === 'delete' ? { existing: record } : {}), reason: 'unit' });
const marker = (...rs: ManagedRecord[]) => ({ account: MARKER_ACCOUNT, content: `${MARKER_PREFIX} ${rs.map(ownershipId).sort().join(' ')}`, modified_at: 1 });

describe('powerdns REPLACE for one RRset', () => {
  it('keeps foreign and disabled records and foreign comments exactly, adds ours with a marker, TTL the smaller', () => {
    const existing: PdnsRrset = {
      name: `${OWNER}.`, type: 'TLSA', ttl: 300,
      records: [{ content: '3 1 1 CAFE', disabled: false }, { content: `2 0 1 ${'c'.repeat(64)}`, disabled: true }],
      comments: [{ account: 'ops', content: 'by hand', modified_at: 1700000000 }],
    };
    expect(nextRrset(OWNER, 'TLSA', existing, [change('create', tlsa(A))])).toEqual({
      name: `${OWNER}.`, type: 'TLSA', changetype: 'REPLACE', ttl: 300,
      records: [{ content: '3 1 1 CAFE', disabled: false }, { content: `2 0 1 ${'c'.repeat(64)}`, disabled: true }, { content: `3 1 1 ${A}`, disabled: false }],
      comments: [{ account: 'ops', content: 'by hand', modified_at: 1700000000 }, { account: MARKER_ACCOUNT, content: `${MARKER_PREFIX} ${ownershipId(tlsa(A))}` }],
    });
    // A longer foreign TTL is lowered to ours: caches must not keep the RRset longer than the planner waits.
    expect(nextRrset(OWNER, 'TLSA', { ...existing, ttl: 86400 }, [change('create', tlsa(A, 600))])?.ttl).toBe(600);
  });

  it('deletes only ours; the last one gone takes the marker; nothing left is a DELETE; no change is null', () => {
    const both: PdnsRrset = { name: `${OWNER}.`, type: 'TLSA', ttl: 3600, records: [{ content: `3 1 1 ${A}`, disabled: false }, { content: `3 1 1 ${B}`, disabled: false }], comments: [marker(tlsa(A), tlsa(B))] };
    const one = nextRrset(OWNER, 'TLSA', both, [change('delete', tlsa(A))])!;
    expect(one.records).toEqual([{ content: `3 1 1 ${B}`, disabled: false }]);
    expect(markedIds(one.comments)).toEqual(new Set([ownershipId(tlsa(B))]));
    expect(nextRrset(OWNER, 'TLSA', both, [change('delete', tlsa(A)), change('delete', tlsa(B))])).toEqual({ name: `${OWNER}.`, type: 'TLSA', changetype: 'DELETE' });
    expect(nextRrset(OWNER, 'TLSA', both, [change('create', tlsa(A))])).toBeNull();
    expect(nextRrset(OWNER, 'TLSA', null, [change('delete', tlsa(A))])).toBeNull();
  });

  it('a disabled record with the data we want is switched on, not duplicated', () => {
    const off: PdnsRrset = { name: `${OWNER}.`, type: 'TLSA', ttl: 3600, records: [{ content: `3 1 1 ${A}`, disabled: true }], comments: [] };
    expect(nextRrset(OWNER, 'TLSA', off, [change('create', tlsa(A))])?.records).toEqual([{ content: `3 1 1 ${A}`, disabled: false }]);
  });

  it('populate reads PowerDNS presentation: upper-case hex, split TXT strings, escapes; never a disabled or foreign TXT', () => {
    const txt: PdnsRrset = {
      name: '_smtp._tls.example.net.', type: 'TXT', ttl: 60,
      records: [{ content: '"v=TLSRPTv1; " "rua=mailto:r@example.net"', disabled: false }, { content: '"v=spf1 -all"', disabled: false }, { content: '"v=TLSRPTv1; rua=mailto:old@example.net"', disabled: true }],
      comments: [],
    };
    expect(publishedOf(txt)).toEqual([{ kind: 'TLSRPT', owner: '_smtp._tls.example.net', ttl: 60, text: 'v=TLSRPTv1; rua=mailto:r@example.net', markedOurs: false }]);
    expect(parseTxt('"a\\"b\\\\c\\059d"')).toBe('a"b\\c;d');
    expect(parseTxt('unquoted')).toBeNull();
    expect(parseTxt('"open')).toBeNull();
    const upper: PdnsRrset = { name: `${OWNER}.`, type: 'TLSA', ttl: 60, records: [{ content: `3 1 1 ${A.toUpperCase()}`, disabled: false }], comments: [marker(tlsa(A))] };
    expect(publishedOf(upper)).toEqual([{ ...tlsa(A, 60), markedOurs: true }]);
    // A marker by anyone else's account does not make a record ours.
    expect(publishedOf({ ...upper, comments: [{ ...marker(tlsa(A)), account: 'someone' }] })[0]?.markedOurs).toBe(false);
  });

  it('the API base and the cryptokeys view', () => {
    expect(apiBase('http://h:8081')).toBe('http://h:8081/api/v1');
    expect(apiBase('http://h:8081/api/v1/')).toBe('http://h:8081/api/v1');
    expect(parseDs('1167 13 2 ABCDEF')).toEqual({ keyTag: 1167, algorithm: 13, digestType: 2, digest: 'abcdef' });
    const keys = [
      { id: 1, keytype: 'csk', active: true, dnskey: '257 3 13 AAAA', ds: ['1 13 1 aa', '1 13 2 bb', '1 13 4 cc'] },
      { id: 2, keytype: 'zsk', active: true, dnskey: '256 3 13 BBBB', ds: [] },
      { id: 3, keytype: 'ksk', active: false, dnskey: '257 3 13 CCCC', ds: ['3 13 2 dd'] },
    ];
    expect(fromCryptokeys(keys)).toEqual({ signing: 'active', ds: [{ keyTag: 1, algorithm: 13, digestType: 2, digest: 'bb' }], dnskey: [{ flags: 257, protocol: 3, algorithm: 13, publicKey: 'AAAA' }] });
    expect(fromCryptokeys([keys[2]!])).toEqual({ signing: 'off', ds: [], dnskey: [] });
  });
});
