import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RACY_MS, SealedSet, StampedValue } from '../../src/util/change-stamp.js';
import { readMailRouting } from '../../src/cpanel/accounts.js';
import { LocalZones } from '../../src/cpanel/local-zones.js';
import { managedZones } from '../../src/provider-instances.js';
import { createContext } from '../../src/context.js';
import { ServerRoot } from '../../src/util/server-root.js';

/**
 * Issue 26: the running service keeps what it read from the server's files while their change
 * stamps stay, and the next use after any change reads them again (never stale).
 */
const waitPastRacy = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RACY_MS + 100);

describe('StampedValue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-stamp-'));
  const file = join(dir, 'f');

  it('makes the value once while the file is unchanged; an in-place rewrite of the same size, a rename, a removal are seen at the next call', () => {
    const kept = new StampedValue<string>();
    let made = 0;
    const get = () => kept.get([file], () => (made++, `v${made}`));
    writeFileSync(file, 'aaaa');
    waitPastRacy();
    expect(get()).toBe('v1');
    expect(get()).toBe('v1');
    writeFileSync(file, 'bbbb'); // same size, same inode
    expect(get()).toBe('v2');
    writeFileSync(`${file}.new`, 'cccc');
    renameSync(`${file}.new`, file);
    expect(get()).toBe('v3');
    rmSync(file);
    expect(get()).toBe('v4');
  });

  it('does not keep a value made from a file changed within RACY_MS (a change in the same clock tick would not show)', () => {
    const kept = new StampedValue<number>();
    let made = 0;
    writeFileSync(file, 'x');
    kept.get([file], () => ++made);
    kept.get([file], () => ++made);
    expect(made).toBe(2);
    waitPastRacy();
    kept.get([file], () => ++made);
    kept.get([file], () => ++made);
    expect(made).toBe(3);
  });

  it('a SealedSet handed out cannot be changed', () => {
    const s = new SealedSet(['a']);
    expect(() => s.add('b')).toThrow(TypeError);
    expect(() => s.delete('a')).toThrow(TypeError);
    expect(() => s.clear()).toThrow(TypeError);
    expect([...s]).toEqual(['a']);
  });
});

describe("the server's files the service keeps", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-stamp-root-'));
  mkdirSync(join(dir, 'etc/tlsa-manager'), { recursive: true });
  mkdirSync(join(dir, 'var/named'), { recursive: true });
  const root = new ServerRoot(dir);

  it('/etc/localdomains and /etc/remotedomains: a change is seen at the next call', () => {
    writeFileSync(join(dir, 'etc/localdomains'), 'aa.test\n');
    writeFileSync(join(dir, 'etc/remotedomains'), 'bb.test\n');
    waitPastRacy();
    const first = readMailRouting(root);
    expect(readMailRouting(root)).toBe(first);
    expect([...first.local]).toEqual(['aa.test']);
    writeFileSync(join(dir, 'etc/localdomains'), 'cc.test\n'); // same size
    expect([...readMailRouting(root).local]).toEqual(['cc.test']);
    writeFileSync(join(dir, 'etc/remotedomains'), 'bb.test\ndd.test\n');
    expect([...readMailRouting(root).remote]).toEqual(['bb.test', 'dd.test']);
  });

  it('the zone directory: a zone file added or removed is seen at the next call; a kept listing cannot be changed', () => {
    writeFileSync(join(dir, 'var/named/one.test.db'), '');
    waitPastRacy();
    const first = new LocalZones(root).names;
    expect(new LocalZones(root).names).toBe(first);
    expect(() => first.add('evil.test')).toThrow(TypeError);
    writeFileSync(join(dir, 'var/named/two.test.db'), '');
    expect([...new LocalZones(root).names].sort()).toEqual(['one.test', 'two.test']);
    rmSync(join(dir, 'var/named/one.test.db'));
    expect([...new LocalZones(root).names]).toEqual(['two.test']);
  });

  it('the managed zones follow a new config object (the settings page replaces it whole) and a new listing', () => {
    writeFileSync(join(dir, 'var/named/three.test.db'), '');
    waitPastRacy();
    const ctx = createContext({ root: dir });
    const names = new LocalZones(root).names;
    expect([...managedZones(ctx, names)].sort()).toEqual(['three.test', 'two.test']);
    ctx.config = { ...ctx.config, zones: { 'two.test': { provider: 'none' } } };
    expect([...managedZones(ctx, names)]).toEqual(['three.test']);
    writeFileSync(join(dir, 'var/named/four.test.db'), '');
    expect([...managedZones(ctx, new LocalZones(root).names)].sort()).toEqual(['four.test', 'three.test']);
  });
});
