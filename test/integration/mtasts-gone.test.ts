import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { startFakeDns, zoneHandler, type FakeDnsServer } from '../fakes/dns-server.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { mtaStsStore } from '../../src/mtasts/store.js';
import { mtaStsChecks } from '../../src/mtasts/checks-store.js';

/**
 * A domain MTA-STS served for is removed from the server (its account, or the domain from the
 * account) while the zone that held its `_mta-sts` record stays managed here: the timer's run
 * removes our record (nothing wants it any more), keeps the stored row for the max_age senders may
 * hold the last announced policy, and forgets it exactly then. The zone is read back by BIND's
 * named-compilezone; the policy texts below are written by hand from RFC 8461 §3.2.
 */
let dns: FakeDnsServer;
beforeAll(async () => {
  dns = await startFakeDns(zoneHandler([]));
});
afterAll(async () => {
  await dns.close();
});

const ENFORCE = 'version: STSv1\r\nmode: enforce\r\nmx: shop.a.test\r\nmax_age: 1209600\r\n';
const ZONE = cpanelZone('a.test', ['a.test.\t14400\tIN\tA\t192.0.2.10', 'a.test.\t14400\tIN\tMX\t0\ta.test.', 'shop.a.test.\t14400\tIN\tA\t192.0.2.10', 'shop.a.test.\t14400\tIN\tMX\t0\tshop.a.test.']);
const START = Date.parse('2026-12-01T00:00:00Z');
const HOUR = 3_600_000;

/** TXT records at _mta-sts.shop.a.test as BIND reads the zone file. */
function stsTxt(root: string): string[] {
  const text = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', 'a.test', join(root, 'var/named/a.test.db')], { encoding: 'utf8' });
  return text.split('\n').filter((l) => /^_mta-sts\.shop\.a\.test\.\s/.test(l) && /\sTXT\s/.test(l)).map((l) => l.replace(/\s+/g, ' '));
}

describe('a stored MTA-STS domain removed from the server', () => {
  it('our record goes at once, the row after the held max_age; nothing else is touched', async () => {
    const root = makeFakeRoot({
      domains: { 'a.test': 'a', 'shop.a.test': 'a' },
      local: ['a.test', 'shop.a.test'],
      zones: { 'a.test': ZONE },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, mtaSts: { publish: 'all' } }) },
    });
    const at = (ms: number): AppContext => {
      const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
      c.now = () => ms;
      return c;
    };
    // shop.a.test: enforce, its policy proven served earlier (the serve step's record of it).
    const ctx = at(START);
    mtaStsStore(ctx).ensure('shop.a.test', 'enforce', '2026-11-01T00:00:00.000Z');
    mtaStsStore(ctx).markServed('shop.a.test', ENFORCE, 'shop1', '2026-11-01T00:01:00.000Z');
    await reconcile(ctx, { force: true });
    expect(stsTxt(root)).toEqual(['_mta-sts.shop.a.test. 60 IN TXT "v=STSv1; id=shop1;"']);

    // The domain is removed (cPanel rewrites /etc/userdomains and /etc/localdomains); the zone a.test stays.
    writeFileSync(join(root, 'etc/userdomains'), 'a.test: a\n*: nobody\n');
    writeFileSync(join(root, 'etc/localdomains'), 'a.test\n');
    const gone = at(START + HOUR);
    await reconcile(gone, { force: true });
    expect(stsTxt(root)).toEqual([]);
    const until = new Date(START + HOUR + 1_209_600_000).toISOString();
    expect(mtaStsStore(gone).get('shop.a.test')).toMatchObject({ mode: 'enforce', servedId: 'shop1', retiring: { heldMaxAge: 1209600, after: until } });
    const log = gone.state().activity({ kind: 'mta-sts' }).map((a) => a.detail);
    expect(log.some((d) => d.includes(`shop.a.test is no longer on this server`) && d.includes(until))).toBe(true);
    // One millisecond before: still kept; at the time: forgotten, logged.
    await reconcile(at(Date.parse(until) - 1), { force: true });
    expect(mtaStsStore(gone).get('shop.a.test')).not.toBeNull();
    // Checked while it was here; not while it waits (nothing of ours is served for it: a check would call it broken).
    expect(mtaStsChecks(gone).since('shop.a.test', '1970-01-01T00:00:00Z').map((c) => c.time)).toEqual([new Date(START).toISOString()]);
    await reconcile(at(Date.parse(until)), { force: true });
    expect(mtaStsStore(gone).get('shop.a.test')).toBeNull();
    expect(gone.state().activity({ kind: 'mta-sts' }).some((a) => a.subject === 'shop.a.test' && a.detail.includes('its stored MTA-STS state is forgotten'))).toBe(true);
    // a.test's records are its own business: its zone still has its MX and address.
    const zone = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', 'a.test', join(root, 'var/named/a.test.db')], { encoding: 'utf8' });
    expect(zone).toMatch(/^a\.test\.\s+14400\s+IN\s+MX\s+0 a\.test\.$/m);
    expect(zone).toMatch(/^shop\.a\.test\.\s+14400\s+IN\s+MX\s+0 shop\.a\.test\.$/m);
  }, 60_000);

  it('an unreadable domain list is not a removal: the row is left as it is', async () => {
    const root = makeFakeRoot({
      domains: { 'a.test': 'a', 'shop.a.test': 'a' },
      local: ['a.test', 'shop.a.test'],
      zones: { 'a.test': ZONE },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, mtaSts: { publish: 'all' } }) },
    });
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    ctx.now = () => START;
    mtaStsStore(ctx).ensure('shop.a.test', 'enforce', '2026-11-01T00:00:00.000Z');
    mtaStsStore(ctx).markServed('shop.a.test', ENFORCE, 'shop1', '2026-11-01T00:01:00.000Z');
    rmSync(join(root, 'etc/userdomains'));
    await reconcile(ctx, { force: true });
    expect(mtaStsStore(ctx).get('shop.a.test')).toMatchObject({ servedId: 'shop1', retiring: null });
  }, 60_000);
});
