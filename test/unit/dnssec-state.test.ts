import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dsFor, keyTag, type DnskeyRecord, type DsRecord } from '../../src/dnssec/keys.js';
import { decideChain, type ChainFacts, type Lookup } from '../../src/dnssec/state.js';

// RFC 4034 §5.4: the DNSKEY of dskey.example.com and its DS (SHA-1), as printed in the RFC.
const RFC_ZONE = 'dskey.example.com';
const RFC_KEY: DnskeyRecord = {
  flags: 256, protocol: 3, algorithm: 5,
  publicKey: 'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
};
const RFC_DS: DsRecord = { keyTag: 60485, algorithm: 5, digestType: 1, digest: '2bb183af5f22588179a53b0a98631fad1a292118' };

describe('key tag and DS digests', () => {
  it('match the example in RFC 4034 §5.4', () => {
    expect(keyTag(RFC_KEY)).toBe(60485);
    expect(dsFor(RFC_ZONE, RFC_KEY, 1)).toEqual(RFC_DS);
    expect(dsFor('DSKEY.Example.COM.', RFC_KEY, 1)).toEqual(RFC_DS); // canonical form: case and trailing dot do not matter
  });

  it('match dnssec-dsfromkey for a fresh ECDSA P-256 key (SHA-1, SHA-256, SHA-384)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsa-ds-'));
    execFileSync('dnssec-keygen', ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', 'Example.TEST'], { encoding: 'utf8' });
    const keyFile = join(dir, readdirSync(dir).find((f) => f.endsWith('.key'))!);
    const line = readFileSync(keyFile, 'utf8').split('\n').find((l) => /\sDNSKEY\s/.test(l))!;
    const [, flags, protocol, alg, pub] = /DNSKEY\s+(\d+)\s+(\d+)\s+(\d+)\s+(.+)$/.exec(line)!;
    const key: DnskeyRecord = { flags: Number(flags), protocol: Number(protocol), algorithm: Number(alg), publicKey: pub!.replace(/\s/g, '') };
    for (const [flag, type] of [['-1', 1], ['-2', 2], ['-a', 4]] as const) {
      const args = flag === '-a' ? ['-a', 'SHA-384', keyFile] : [flag, keyFile];
      const out = execFileSync('dnssec-dsfromkey', args, { encoding: 'utf8' }).trim();
      const [, tag, a, dt, digest] = /\sDS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-F]+)$/.exec(out)!;
      expect(dsFor('example.test', key, type)).toEqual({ keyTag: Number(tag), algorithm: Number(a), digestType: Number(dt), digest: digest!.toLowerCase() });
    }
  });
});

// The RFC pair as a zone whose only key is that ZSK (validators accept a DS for any zone key).
const ZONE = RFC_ZONE;
const NOW = new Date('2026-01-15T00:00:00Z');
const t = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);
const ok = <T>(value: T): Lookup<T> => ({ ok: true, value });
const failed = <T>(what: string): Lookup<T> => ({ ok: false, what, error: 'no answer within 2000 ms' });
const goodSig = { keyTag: 60485, algorithm: 5, inception: t('2026-01-01'), expiration: t('2026-02-01') };

function facts(over: Partial<ChainFacts> = {}): ChainFacts {
  return {
    zone: ZONE, parent: 'example.com', now: NOW,
    parentSecurity: ok('secure'),
    parentDs: ok([RFC_DS]),
    resolverDs: ok([RFC_DS]),
    dnskey: ok({ keys: [RFC_KEY], signatures: [goodSig] }),
    validation: ok('secure'),
    ...over,
  };
}

describe('decideChain', () => {
  it('secure: a DS matches a key that signs the key set, and the resolver validates', () => {
    const v = decideChain(facts());
    expect(v).toMatchObject({ state: 'secure', reason: null, matchedKeyTags: [60485] });
  });

  it('unsigned: no DS, no DNSKEY', () => {
    expect(decideChain(facts({ parentDs: ok([]), dnskey: ok({ keys: [], signatures: [] }), validation: ok('insecure') })).state).toBe('unsigned');
  });

  it('signed-no-ds: keys but no DS at the parent', () => {
    expect(decideChain(facts({ parentDs: ok([]), validation: ok('insecure') }))).toMatchObject({ state: 'signed-no-ds', parentDs: [] });
  });

  it('bogus ds-mismatch: the DS digest matches no key (same key tag is not enough)', () => {
    const wrong = { ...RFC_DS, digest: RFC_DS.digest.replace(/^2b/, '2c') };
    expect(decideChain(facts({ parentDs: ok([wrong]), validation: ok('bogus') }))).toMatchObject({ state: 'bogus', reason: 'ds-mismatch' });
  });

  it('bogus ds-without-signing: DS but no DNSKEY', () => {
    expect(decideChain(facts({ dnskey: ok({ keys: [], signatures: [] }), validation: ok('bogus') }))).toMatchObject({ state: 'bogus', reason: 'ds-without-signing' });
  });

  it('a revoked or non-zone key does not count as a key', () => {
    const revoked = { ...RFC_KEY, flags: 256 | 0x80 };
    expect(decideChain(facts({ dnskey: ok({ keys: [revoked], signatures: [] }) }))).toMatchObject({ state: 'bogus', reason: 'ds-without-signing' });
  });

  it('bogus signature-expired: every signature by the DS key has expired', () => {
    const old = { ...goodSig, inception: t('2025-11-01'), expiration: t('2025-12-01') };
    const v = decideChain(facts({ dnskey: ok({ keys: [RFC_KEY], signatures: [old] }), validation: ok('bogus') }));
    expect(v).toMatchObject({ state: 'bogus', reason: 'signature-expired' });
    expect(v.message).toContain('2025-12-01T00:00:00.000Z');
  });

  it('bogus signature-invalid: facts look right but the resolver rejects the zone', () => {
    expect(decideChain(facts({ validation: ok('bogus') }))).toMatchObject({ state: 'bogus', reason: 'signature-invalid' });
  });

  it('bogus signature-invalid: the DS key signs nothing', () => {
    expect(decideChain(facts({ dnskey: ok({ keys: [RFC_KEY], signatures: [] }) }))).toMatchObject({ state: 'bogus', reason: 'signature-invalid' });
  });

  it('unsupported-algorithm: only DS with algorithms or digest types validators do not implement', () => {
    expect(decideChain(facts({ parentDs: ok([{ ...RFC_DS, algorithm: 253 }]), validation: ok('insecure') })).state).toBe('unsupported-algorithm');
    expect(decideChain(facts({ parentDs: ok([{ ...RFC_DS, digestType: 3 }]), validation: ok('insecure') })).state).toBe('unsupported-algorithm');
    expect(decideChain(facts({ parentDs: ok([{ ...RFC_DS, algorithm: 12 }]), validation: ok('insecure') })).state).toBe('unsupported-algorithm');
  });

  it('an unusable DS next to a matching one does not change secure', () => {
    expect(decideChain(facts({ parentDs: ok([{ ...RFC_DS, algorithm: 253 }, RFC_DS]) })).state).toBe('secure');
  });

  it('parent-unsigned and parent-bogus come from the resolver\'s view of the parent', () => {
    expect(decideChain(facts({ parentSecurity: ok('insecure') })).state).toBe('parent-unsigned');
    expect(decideChain(facts({ parentSecurity: ok('bogus') }))).toMatchObject({ state: 'bogus', reason: 'parent-bogus' });
  });

  it('unknown names the failed lookup', () => {
    const v = decideChain(facts({ parentSecurity: failed('the parent zone') }));
    expect(v).toMatchObject({ state: 'unknown', failed: ['the parent zone'] });
    expect(v.message).toContain('the parent zone (no answer within 2000 ms)');
    expect(decideChain(facts({ dnskey: failed(`DNSKEY of ${ZONE}`) })).failed).toEqual([`DNSKEY of ${ZONE}`]);
    expect(decideChain(facts({ parentDs: failed('DS at the servers'), resolverDs: failed('DS through the resolver') })).failed).toEqual(['DS at the servers', 'DS through the resolver']);
    expect(decideChain(facts({ validation: failed('the validating resolver') })).state).toBe('unknown');
  });

  it('the parent servers are the truth about the DS; the resolver copy is the fallback', () => {
    // Registrar just removed the DS: the servers have none, the resolver still caches it.
    expect(decideChain(facts({ parentDs: ok([]), resolverDs: ok([RFC_DS]), validation: ok('secure') })).state).toBe('signed-no-ds');
    const v = decideChain(facts({ parentDs: failed('DS at the servers of example.com') }));
    expect(v).toMatchObject({ state: 'secure', failed: ['DS at the servers of example.com'] });
  });

  it('a resolver that does not authenticate what should validate is unknown, not secure', () => {
    expect(decideChain(facts({ validation: ok('insecure') })).state).toBe('unknown');
  });
});

describe('the watcher policy', async () => {
  const { classifyChange, nextDnssecCheck } = await import('../../src/dnssec/watch.js');
  it('settled states are not watched; others back off from 5 minutes to at most 6 hours', () => {
    expect(nextDnssecCheck('secure', 1, 0)).toBeNull();
    expect(nextDnssecCheck('unsigned', 1, 0)).toBeNull();
    expect(nextDnssecCheck('signed-no-ds', 1, 0)!.at).toBe(5 * 60_000);
    expect(nextDnssecCheck('signed-no-ds', 2, 0)!.at).toBe(10 * 60_000);
    expect(nextDnssecCheck('bogus', 4, 0)!.at).toBe(40 * 60_000);
    expect(nextDnssecCheck('bogus', 20, 0)!.at).toBe(6 * 3_600_000);
  });
  it('anything → bogus is an incident, → secure good news', () => {
    expect(classifyChange('secure', 'bogus')).toBe('incident');
    expect(classifyChange(null, 'bogus')).toBe('incident');
    expect(classifyChange('signed-no-ds', 'secure')).toBe('good-news');
    expect(classifyChange(null, 'secure')).toBe('first');
    expect(classifyChange('secure', 'signed-no-ds')).toBe('change');
  });
});
