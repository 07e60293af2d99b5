import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANAGED_MARKER } from '../../src/providers/cloudflare/client.js';
import type { Change, DnsProvider, PublishedRecord } from '../../src/providers/contract.js';
import { managedKey, type ManagedRecord } from '../../src/dns/records.js';
import { providerHost } from '../../src/provider-instances.js';
import { isProblem, ProblemError, toProblem, type Problem } from '../../src/problem.js';
import { PROVIDERS, providerModule, type ProviderKind } from '../../src/providers/registry.js';
import type { TlsaRecord } from '../../src/tlsa/types.js';
import { FakeCloudflare } from '../fakes/cloudflare/server.js';
import { testContext } from '../helpers/context.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { startPowerDns, type PowerDns } from '../helpers/powerdns.js';
import { newKey, startBindUpdate, type UpdateServer } from '../lab/update-servers.js';

/**
 * The contract every provider in the registry keeps (issue 25), run against each one through its
 * module's own factory: what populate returns, what apply may touch, one unit or nothing,
 * idempotence, no secret in an error, and declared capabilities matching behaviour. The harness
 * table is keyed by ProviderKind, so a provider added to the registry without a harness here does
 * not compile. Record data are arbitrary SHA-256 values (node:crypto): providers only carry them.
 */

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

interface Instance {
  zone: string;
  provider: DnsProvider;
  /** Records we did not create, in the backend's own form, at our owners and next to them. */
  foreign(): string | Promise<string>;
  /** The same kind of instance with a wrong secret or an unusable backend. */
  broken(): Promise<DnsProvider | Problem>;
  /** The secrets in this instance's settings (must appear in no error). */
  secrets: string[];
}

interface Harness {
  start?(): Promise<void>;
  stop?(): Promise<void>;
  make(seq: number): Promise<Instance>;
}

const fake = new FakeCloudflare();
let cfUrl = '';
const CF_TOKEN = 'cf-CONTRACT-t0ken-s3cret-0123456789abcdef';

let pdns: PowerDns | undefined;
const PDNS_WRONG_KEY = 'pdns-WRONG-k3y-s3cret-0123456789abcdef';
/** rfc2136: a real BIND (test/lab/update-servers.ts) with one fresh zone per instance, made up front. */
const RFC2136_ZONES = 8;
let bind: UpdateServer | undefined;
let rfcNext = 0;
const rfcZone = (i: number) => `r${i}.example.com`;
const RFC_FOREIGN = (zone: string) => [
  `_smtp._tls.${zone}.\t300\tIN\tTXT\t"not a report policy"`,
  `_25._tcp.other.${zone}.\t300\tIN\tTLSA\t3 1 1 ${hex(`foreign-other-${zone}`)}`,
  `mail.${zone}.\t300\tIN\tA\t192.0.2.25`,
  `_25._tcp.mail.${zone}.\t300\tIN\tTXT\t"foreign text at our owner"`,
];
/** Every record of the zone as AXFR prints it except the SOA and the records the contract manages. */
const rfcForeign = (zone: string) => () =>
  bind!.axfr(zone).filter((l) => !/\sSOA\s/.test(l) && !/^_(25|465|587)\._tcp\.mail\.\S+\s+\d+\s+IN\s+TLSA\s/.test(l) && !/\sTXT\s+"v=TLSRPTv1/.test(l)).join('\n');

const HARNESSES: Record<ProviderKind, Harness> = {
  cpanel: {
    async make(seq) {
      const zone = `c${seq}.example.com`;
      const foreignLines = [
        `_smtp._tls.${zone}.\t300\tIN\tTXT\t"not a report policy ${seq}"`,
        `_25._tcp.other.${zone}.\t300\tIN\tTLSA\t3 1 1 ${hex(`foreign-other-${seq}`)}`,
        `mail.${zone}.\t300\tIN\tA\t192.0.2.25`,
        `_25._tcp.mail.${zone}.\t300\tIN\tTXT\t"foreign text at our owner"`,
      ];
      const root = makeFakeRoot({ domains: { [zone]: 'example' }, zones: { [zone]: cpanelZone(zone, foreignLines) } });
      const settings = { reloadCommand: ['true'], authoritative: false as const, useWhmApi: false, confirmSeconds: 1 };
      const ctx = testContext({ cpanel: settings }, root);
      const p = await providerModule('cpanel').create(settings, providerHost(ctx));
      if (isProblem(p)) throw new ProblemError(p);
      const file = join(root, 'var/named', `${zone}.db`);
      return {
        zone,
        provider: p,
        foreign: () => readFileSync(file, 'utf8').split('\n').filter((l) => foreignLines.includes(l)).join('\n'),
        // No zone file: the backend cannot be read.
        broken: async () => providerModule('cpanel').create(settings, providerHost(testContext({ cpanel: settings }, makeFakeRoot({ domains: {} })))),
        secrets: [],
      };
    },
  },
  cloudflare: {
    async start() {
      cfUrl = await fake.start();
      fake.addToken(CF_TOKEN);
    },
    async stop() {
      await fake.stop();
    },
    async make(seq) {
      const zone = `f${seq}.example.com`;
      fake.addZone(zone);
      fake.addRecord(zone, { name: `_smtp._tls.${zone}`, type: 'TXT', content: `"not a report policy ${seq}"` });
      fake.addRecord(zone, { name: `_25._tcp.other.${zone}`, type: 'TLSA', data: { usage: 3, selector: 1, matching_type: 1, certificate: hex(`foreign-other-${seq}`) } });
      fake.addRecord(zone, { name: `mail.${zone}`, type: 'A', content: '192.0.2.25' });
      fake.addRecord(zone, { name: `_25._tcp.mail.${zone}`, type: 'TXT', content: '"foreign text at our owner"' });
      const make = (settings: { apiToken: string; baseURL: string }) => providerModule('cloudflare').create(settings, providerHost(testContext({})));
      const p = await make({ apiToken: CF_TOKEN, baseURL: cfUrl });
      if (isProblem(p)) throw new ProblemError(p);
      return {
        zone,
        provider: p,
        foreign: () => JSON.stringify(fake.recordsOf(zone).filter((r) => r.comment !== MANAGED_MARKER).map((r) => [r.id, r.name, r.type, r.content, r.ttl, r.comment])),
        broken: () => make({ apiToken: 'cf-WRONG-t0ken-s3cret-ffffffffffffffff', baseURL: cfUrl }),
        secrets: [CF_TOKEN, 'cf-WRONG-t0ken-s3cret-ffffffffffffffff'],
      };
    },
  },
  // A real pdns_server (sqlite3 backend) on loopback; the foreign records are read back through
  // its API exactly as it stores them (content, disabled flag, TTL, comments with author and time).
  powerdns: {
    async start() {
      pdns = await startPowerDns();
    },
    async stop() {
      await pdns?.stop();
    },
    async make(seq) {
      const server = pdns!;
      const zone = `p${seq}.example.com`;
      const foreignSets = [
        { name: `_smtp._tls.${zone}.`, type: 'TXT', ttl: 300, records: [{ content: `"not a report policy ${seq}"` }], comments: [{ account: 'admin', content: 'added by hand' }] },
        { name: `_25._tcp.other.${zone}.`, type: 'TLSA', ttl: 300, records: [{ content: `3 1 1 ${hex(`foreign-other-${seq}`)}` }] },
        { name: `mail.${zone}.`, type: 'A', ttl: 300, records: [{ content: '192.0.2.25' }] },
        { name: `_25._tcp.mail.${zone}.`, type: 'TXT', ttl: 300, records: [{ content: '"foreign text at our owner"' }] },
      ];
      await server.createZone(zone, foreignSets);
      const foreignContent = new Set(foreignSets.flatMap((s) => s.records.map((r) => `${s.name} ${s.type} ${r.content}`)));
      const make = (apiKey: string) => providerModule('powerdns').create({ url: server.url, apiKey, serverId: 'localhost' }, providerHost(testContext({})));
      const p = await make(server.apiKey);
      if (isProblem(p)) throw new ProblemError(p);
      return {
        zone,
        provider: p,
        foreign: async () =>
          JSON.stringify(
            (await server.rrsets(zone)).flatMap((s) => {
              const records = s.records.filter((r) => foreignContent.has(`${s.name} ${s.type} ${r.content}`));
              return records.length ? [[s.name, s.type, s.ttl, records, s.comments.filter((c) => c.account !== 'tlsa-manager')]] : [];
            }),
          ),
        broken: () => make(PDNS_WRONG_KEY),
        secrets: [server.apiKey, PDNS_WRONG_KEY],
      };
    },
  },
  rfc2136: {
    async start() {
      const zones = Array.from({ length: RFC2136_ZONES }, (_, i) => rfcZone(i + 1));
      bind = await startBindUpdate({ key: newKey(), zones: zones.map((name) => ({ name, records: RFC_FOREIGN(name) })) });
    },
    async stop() {
      await bind?.stop();
    },
    async make() {
      const zone = rfcZone(++rfcNext);
      if (rfcNext > RFC2136_ZONES) throw new Error('rfc2136 harness: raise RFC2136_ZONES');
      const key = bind!.key;
      const make = (secret: string) => providerModule('rfc2136').create({ server: bind!.server, tsig: { ...key, secret }, timeoutSeconds: 5 }, providerHost(testContext({})));
      const p = await make(key.secret);
      if (isProblem(p)) throw new ProblemError(p);
      const wrong = Buffer.from(Buffer.from(key.secret, 'base64').map((b) => b ^ 0x5a)).toString('base64');
      return { zone, provider: p, foreign: rfcForeign(zone), broken: () => make(wrong), secrets: [key.secret, wrong] };
    },
  },
};

const tlsa = (owner: string, seed: string): TlsaRecord => ({ owner, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data: hex(seed) });
const create = (zone: string, record: ManagedRecord): Change => ({ kind: 'create', zone, record, reason: 'contract' });
const del = (zone: string, p: PublishedRecord): Change => ({ kind: 'delete', zone, record: p, existing: p, reason: 'contract' });
const keys = (rs: ManagedRecord[]) => rs.map(managedKey).sort();

async function settle(run: () => Promise<{ problem?: Problem }>): Promise<Problem | null> {
  try {
    return (await run()).problem ?? null;
  } catch (err) {
    return toProblem(err);
  }
}

let seq = 0;
for (const module of PROVIDERS) {
  const h = HARNESSES[module.kind];
  const caps = module.capabilities;
  describe(`provider contract: ${module.kind}`, () => {
    beforeAll(async () => h.start?.());
    afterAll(async () => h.stop?.());

    it('populates exactly what we created, marked as ours as far as the module declares it, and nothing of other owners or types', async () => {
      const { zone, provider, foreign } = await h.make(++seq);
      const before = await foreign();
      const owner = `_25._tcp.mail.${zone}`;
      const mine: ManagedRecord[] = [tlsa(owner, 'a'), tlsa(owner, 'b'), tlsa(`_465._tcp.mail.${zone}`, 'a')];
      if (caps.txt) mine.push({ kind: 'TLSRPT', owner: `_smtp._tls.${zone}`, ttl: 3600, text: `v=TLSRPTv1; rua=mailto:tlsrpt@${zone}` });
      const res = await provider.apply(zone, mine.map((r) => create(zone, r)));
      expect(res.problem).toBeUndefined();
      const got = await provider.populate(zone, [...new Set(mine.map((r) => r.owner))]);
      expect(keys(got)).toEqual(keys(mine));
      // marksOwnership declared ⇔ the provider can tell what we created.
      expect(got.every((r) => r.markedOurs === true)).toBe(caps.marksOwnership);
      expect(await foreign()).toBe(before);
    });

    it('applies a zone\'s changes as one unit: one bad change and nothing at all is changed', async () => {
      const { zone, provider, foreign } = await h.make(++seq);
      const owner = `_25._tcp.mail.${zone}`;
      await provider.apply(zone, [create(zone, tlsa(owner, 'keep'))]);
      const published = await provider.populate(zone, [owner]);
      const before = await foreign();
      const bad = { ...tlsa(owner, 'x'), data: 'not-hex' };
      const p = await settle(() => provider.apply(zone, [create(zone, tlsa(owner, 'new')), del(zone, published[0]!), create(zone, bad)]));
      expect(p, 'a bad change must fail the zone').not.toBeNull();
      expect(keys(await provider.populate(zone, [owner]))).toEqual(keys(published));
      expect(await foreign()).toBe(before);
    });

    it('re-applying is idempotent: after apply the diff is empty, and an empty change list changes nothing', async () => {
      const { zone, provider, foreign } = await h.make(++seq);
      const owner = `_587._tcp.mail.${zone}`;
      const want = [tlsa(owner, 'p'), tlsa(owner, 'q')];
      await provider.apply(zone, want.map((r) => create(zone, r)));
      const first = await provider.populate(zone, [owner]);
      const have = new Set(first.map(managedKey));
      expect(want.filter((w) => !have.has(managedKey(w)))).toEqual([]);
      const before = await foreign();
      const res = await provider.apply(zone, []);
      expect(res.problem).toBeUndefined();
      expect(keys(await provider.populate(zone, [owner]))).toEqual(keys(first));
      expect(await foreign()).toBe(before);
      // Deleting what we created brings the owner back to the foreign records alone.
      await provider.apply(zone, first.map((r) => del(zone, r)));
      expect(await provider.populate(zone, [owner])).toEqual([]);
      expect(await foreign()).toBe(before);
    });

    it('a broken instance fails with a clear problem that carries no secret, and changes nothing', async () => {
      const { zone, foreign, broken, secrets } = await h.make(++seq);
      expect(secrets.length > 0).toBe(module.secrets.length > 0);
      const before = await foreign();
      const b = await broken();
      const problems: Problem[] = [];
      if (isProblem(b)) problems.push(b);
      else {
        const owner = `_25._tcp.mail.${zone}`;
        const r = await settle(async () => ({ problem: (await b.populate(zone, [owner]), undefined) }));
        const w = await settle(() => b.apply(zone, [create(zone, tlsa(owner, 'z'))]));
        for (const p of [r, w]) if (p) problems.push(p);
      }
      expect(problems.length).toBeGreaterThan(0);
      for (const p of problems) {
        expect(p.message.length).toBeGreaterThan(10);
        for (const s of secrets) expect(JSON.stringify(p)).not.toContain(s);
      }
      expect(await foreign()).toBe(before);
    });

    it('declares what it does: dnssec ⇔ a signer, verify ⇔ a Test, secrets ⊆ its fields', async () => {
      const { provider } = await h.make(++seq);
      expect(provider.kind).toBe(module.kind);
      expect(provider.signer !== undefined).toBe(caps.dnssec);
      expect(typeof provider.verify === 'function').toBe(caps.verify);
      if (caps.dsLookup) expect(caps.dnssec).toBe(true);
      const secretFields = module.fields.filter((f) => f.secret).map((f) => f.path).sort();
      expect(secretFields).toEqual([...module.secrets].sort());
      expect(caps.batchSize).toBeGreaterThan(0);
    });
  });
}
