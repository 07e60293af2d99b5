import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { startFakeDns, zoneHandler, type FakeDnsServer } from '../fakes/dns-server.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { mtaStsChecks } from '../../src/mtasts/checks-store.js';
import { mtaStsStore } from '../../src/mtasts/store.js';

/**
 * The timer's MTA-STS phase (issue 27 §5): each opted-in domain TLSA Manager serves a policy for
 * is checked as a sender sees it and the result recorded; one domain whose check throws fails
 * alone; a domain checked today is not checked again before its next daily slot.
 */
let dns: FakeDnsServer;
beforeAll(async () => {
  // A resolver that knows nothing: every domain is "no _mta-sts record, policy unreachable".
  dns = await startFakeDns(zoneHandler([]));
});
afterAll(async () => {
  await dns.close();
});

function server(publish: unknown): { ctx: (offsetMs?: number) => AppContext } {
  const root = makeFakeRoot({
    domains: { 'a.test': 'a', 'b.test': 'b', 'c.test': 'c' },
    local: ['a.test', 'b.test', 'c.test'],
    zones: { 'a.test': cpanelZone('a.test', []), 'b.test': cpanelZone('b.test', []), 'c.test': cpanelZone('c.test', []) },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, mtaSts: { publish } }) },
  });
  const start = Date.parse('2026-12-01T00:00:00Z');
  return {
    ctx: (offsetMs = 0) => {
      const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
      c.now = () => start + offsetMs;
      return c;
    },
  };
}

describe('the timer records MTA-STS checks', () => {
  it('checks the opted-in served domains, records each result, one failing alone, daily afterwards', async () => {
    const s = server('all');
    const ctx = s.ctx();
    const now = new Date(ctx.now()).toISOString();
    // a.test, c.test and a bad name are known to the store; b.test never got a policy (not checked).
    for (const d of ['a.test', 'c.test', `${'x'.repeat(70)}.test`]) mtaStsStore(ctx).ensure(d, 'testing', now);
    const r = await reconcile(ctx, { force: true });
    const all = mtaStsChecks(ctx).latestAll();
    expect([...all.keys()]).toEqual(['a.test', 'c.test']);
    expect(all.get('a.test')).toMatchObject({ time: now, state: 'none', served: false, problems: ['mta-sts-txt-missing', 'mta-sts-policy-unreachable'] });
    // The bad name's check threw: it is a failure of this run, the others are recorded.
    expect(r.failed).toBe(true);
    expect(r.summary).toMatch(/mtasts: x{70}\.test: .*longer than 63/);

    // Ten minutes later nothing is due (a domain with problems is retried after 30 minutes, doubling).
    await reconcile(s.ctx(10 * 60_000), { force: true });
    expect(mtaStsChecks(ctx).since('a.test', '1970-01-01T00:00:00Z').length).toBe(1);
    await reconcile(s.ctx(31 * 60_000), { force: true });
    expect(mtaStsChecks(ctx).since('a.test', '1970-01-01T00:00:00Z').length).toBe(2);

    // Out of mtaSts.publish: no longer checked.
    const off = server(['c.test']);
    const octx = off.ctx();
    for (const d of ['a.test', 'c.test']) mtaStsStore(octx).ensure(d, 'testing', now);
    await reconcile(octx, { force: true });
    expect([...mtaStsChecks(octx).latestAll().keys()]).toEqual(['c.test']);
  }, 60_000);
});
