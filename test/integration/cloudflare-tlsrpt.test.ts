import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCloudflare, type FakeCloudflare } from '../fakes/cloudflare/server.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, type TestPki } from '../helpers/openssl.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';

/**
 * Issue 14 §1 at Cloudflare (real SDK, fake API): mail domains whose zones live at Cloudflare get
 * their TLSRPT policy as a TXT record carrying the ownership comment; it is replaced when the
 * address changes and retired when publishing stops. A policy someone else published and an
 * unrelated TXT record at `_smtp._tls` stay as they are.
 */
let cf: { fake: FakeCloudflare; url: string; token: string };
let pki: TestPki;
let root: string;
const HOST = 'server.host.test';
const MINE = 'cfmail.test';
const THEIRS = 'cfforeign.test';
const FOREIGN = '"v=TLSRPTv1; rua=mailto:them@elsewhere.example"';
const UNRELATED = '"unrelated; keep me"';

function writeConfig(tlsrpt: Record<string, unknown>): void {
  const config = { policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, zones: { [MINE]: { provider: 'cloudflare' }, [THEIRS]: { provider: 'cloudflare' } }, cloudflare: { apiToken: cf.token, baseURL: cf.url }, tlsrpt };
  writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify(config), { mode: 0o600 });
}

beforeAll(async () => {
  cf = await startFakeCloudflare();
  for (const z of [MINE, THEIRS]) cf.fake.addZone(z);
  cf.fake.addRecord(MINE, { name: `_smtp._tls.${MINE}`, type: 'TXT', ttl: 300, content: UNRELATED });
  cf.fake.addRecord(THEIRS, { name: `_smtp._tls.${THEIRS}`, type: 'TXT', ttl: 300, content: FOREIGN });
  pki = makePki();
  const leaf = pki.leaf(HOST);
  // The customers' zones are at Cloudflare (their MX records are in the local copies the scan
  // reads); the server's own zone is managed nowhere here (its TLSA records are not the subject).
  root = makeFakeRoot({
    hostname: HOST,
    domains: { [MINE]: 'mine', [THEIRS]: 'theirs' },
    local: [MINE, THEIRS],
    zones: {
      [MINE]: cpanelZone(MINE, [`${MINE}. IN MX 10 ${HOST}.`]),
      [THEIRS]: cpanelZone(THEIRS, [`${THEIRS}. IN MX 10 ${HOST}.`]),
    },
    eximCrt: readFileSync(leaf.cert, 'utf8') + readFileSync(pki.interCert, 'utf8'),
    files: { '/etc/tlsa-manager/config.json': '{}' },
  });
});
afterAll(() => cf.fake.stop());

function context(): AppContext {
  return createContext({ root, logger: createLogger({ level: 'silent' }) });
}

async function apply() {
  const ctx = context();
  const providers = new Providers(ctx);
  const plan = await makePlan(ctx, providers);
  const results = await applyPlan(ctx, providers, plan, 'test');
  for (const r of results) expect(r.problem, r.problem?.message).toBeUndefined();
  return { plan, results };
}

const txtAt = (zone: string) => cf.fake.recordsOf(zone, 'TXT').map((r) => ({ name: r.name, content: r.content, comment: r.comment })).sort((a, b) => a.content.localeCompare(b.content));

describe('TLSRPT policies at Cloudflare', () => {
  it('publishes with the ownership comment; leaves the foreign policy and the unrelated TXT record alone', async () => {
    writeConfig({ publish: 'all' });
    const { plan } = await apply();
    expect(txtAt(MINE)).toEqual([
      { name: `_smtp._tls.${MINE}`, content: UNRELATED, comment: null },
      { name: `_smtp._tls.${MINE}`, content: `"v=TLSRPTv1; rua=mailto:tlsrpt@${HOST}"`, comment: 'managed by tlsa-manager' },
    ].sort((a, b) => a.content.localeCompare(b.content)));
    expect(txtAt(THEIRS)).toEqual([{ name: `_smtp._tls.${THEIRS}`, content: FOREIGN, comment: null }]);
    const theirs = plan.zones.find((z) => z.zone === THEIRS)!;
    expect(theirs.changes).toEqual([]);
    expect(theirs.warnings.map((w) => w.code)).toEqual(['tlsrpt-foreign']);
    const writes = cf.fake.writeCount();
    const again = await apply();
    expect(again.results).toEqual([]);
    expect(cf.fake.writeCount()).toBe(writes);
  });

  it('replaces its policy in one batch call when the address changes', async () => {
    writeConfig({ publish: 'all', address: 'reports@host.test' });
    cf.fake.resetLog();
    const { results } = await apply();
    const mine = results.find((r) => r.zone === MINE)!;
    expect(mine.applied.map((c) => c.kind)).toEqual(['create', 'delete']);
    expect(cf.fake.count('POST /zones/:zone_id/dns_records/batch')).toBe(1);
    expect(txtAt(MINE).map((r) => r.content)).toEqual([UNRELATED, '"v=TLSRPTv1; rua=mailto:reports@host.test"'].sort());
    expect(txtAt(THEIRS).map((r) => r.content)).toEqual([FOREIGN]);
  });

  it('retires its policy when publishing is turned off', async () => {
    writeConfig({ publish: 'off' });
    const { results } = await apply();
    expect(results.find((r) => r.zone === MINE)!.applied.map((c) => [c.kind, c.record.owner])).toEqual([['delete', `_smtp._tls.${MINE}`]]);
    expect(txtAt(MINE).map((r) => r.content)).toEqual([UNRELATED]);
    expect(txtAt(THEIRS).map((r) => r.content)).toEqual([FOREIGN]);
  });
});
