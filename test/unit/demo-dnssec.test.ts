import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainBook, dnskeyLine, zoneChain, type Ds } from '../../demo/dnssec.js';

// The demo's DNSSEC material is judged by BIND's dnssec-dsfromkey, never by the product's DS code
// (src/dnssec/keys.ts) nor by the demo's own.

const dir = mkdtempSync(join(tmpdir(), 'demo-dnssec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `dnssec-dsfromkey -2` over a zone file holding the DNSKEY line: "zone. IN DS tag alg 2 HEX". */
function dsfromkey(zone: string, line: string): string {
  const file = join(dir, `${zone}.dnskey`);
  writeFileSync(file, `${line}\n`);
  return execFileSync('dnssec-dsfromkey', ['-2', '-f', file, zone], { encoding: 'utf8' }).trim();
}

const dsText = (zone: string, d: Ds) => `${zone}. IN DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toString('hex').toUpperCase()}`;

describe('demo DNSSEC chain material', () => {
  const root = join(dir, 'root');
  const zones = [
    { zone: 'alpha.test', state: 'signed' as const },
    { zone: 'bogus.test', state: 'bogus' as const },
    { zone: 'plain.test', state: 'unsigned' as const },
    { zone: 'nods.test', state: 'no-ds' as const },
  ];
  const zoneChains = () => new Map(zones.map((z) => [z.zone, zoneChain(root, z.zone, z.state)]));

  it('a signed zone\'s DS at the parent is what dnssec-dsfromkey computes from its DNSKEY (ECDSA P-256 CSK)', () => {
    const chains = zoneChains();
    const alpha = chains.get('alpha.test')!;
    expect(alpha.dnskey).toHaveLength(1);
    expect([alpha.dnskey[0]!.flags, alpha.dnskey[0]!.algorithm, alpha.dnskey[0]!.publicKey.length]).toEqual([257, 13, 64]);
    expect(alpha.ds).toHaveLength(1);
    expect(dsText('alpha.test', alpha.ds[0]!)).toBe(dsfromkey('alpha.test', dnskeyLine('alpha.test', alpha.dnskey[0]!)));
  });

  it('the bogus zone\'s DS is a real DS of a key it does not serve; unsigned and no-DS zones have none at the parent', () => {
    const chains = zoneChains();
    const bogus = chains.get('bogus.test')!;
    const served = dsfromkey('bogus.test', dnskeyLine('bogus.test', bogus.dnskey[0]!));
    expect(bogus.ds).toHaveLength(1);
    expect(dsText('bogus.test', bogus.ds[0]!)).not.toBe(served);
    expect(bogus.ds[0]!.keyTag).not.toBe(Number(served.split(' ')[3]));
    expect(chains.get('plain.test')).toMatchObject({ dnskey: [], rrsig: [], ds: [] });
    const nods = chains.get('nods.test')!;
    expect([nods.dnskey.length, nods.rrsig.length, nods.ds.length]).toEqual([1, 1, 0]);
  });

  it('keys are kept in the root: the next start serves the same DNSKEY and DS', () => {
    const stateOf = (zone: string) => zones.find((z) => z.zone === zone)!.state;
    const a = new ChainBook(root, stateOf).chain('alpha.test');
    const b = new ChainBook(root, stateOf).chain('alpha.test');
    expect(b.dnskey[0]!.publicKey.equals(a.dnskey[0]!.publicKey)).toBe(true);
    expect(b.ds[0]!.digest.equals(a.ds[0]!.digest)).toBe(true);
  });
});
