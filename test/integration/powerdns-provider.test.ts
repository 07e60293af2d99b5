import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/providers/contract.js';
import { PowerDnsProvider } from '../../src/providers/powerdns/client.js';
import { powerdnsDnssec } from '../../src/dnssec/powerdns-signer.js';
import { isProblem, ProblemError, toProblem, type Problem } from '../../src/problem.js';
import { providerModule } from '../../src/providers/registry.js';
import { providerHost } from '../../src/provider-instances.js';
import type { ManagedRecord } from '../../src/dns/records.js';
import { testContext } from '../helpers/context.js';
import { startPowerDns, type PowerDns } from '../helpers/powerdns.js';
import { dig } from '../lab/dns.js';
import { mustRun } from '../lab/proc.js';

/**
 * The powerdns provider against a real pdns_server (sqlite3 backend, loopback): REPLACE carries
 * every record and comment we did not create at our owners byte for byte, a re-run sends no
 * PATCH, a PATCH PowerDNS refuses changes nothing, every failure is a clear problem without the
 * key, and signing through cryptokeys gives the DS that dnssec-dsfromkey computes from the
 * DNSKEY pdns serves. `dig` straight at pdns is the judge of what is served.
 */

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const tlsa = (owner: string, seed: string, ttl = 3600): ManagedRecord => ({ owner, ttl, usage: 3, selector: 1, matchingType: 1, data: hex(seed) });
const create = (zone: string, record: ManagedRecord): Change => ({ kind: 'create', zone, record, reason: 'test' });
const del = (zone: string, record: ManagedRecord): Change => ({ kind: 'delete', zone, record, existing: record, reason: 'test' });

let pdns: PowerDns;
let seq = 0;
const lines: string[] = [];
const logger = { debug: (o: object, m?: string) => lines.push(JSON.stringify([o, m])), info: (o: object, m?: string) => lines.push(JSON.stringify([o, m])), warn: (o: object, m?: string) => lines.push(JSON.stringify([o, m])) };
const provider = (over: Partial<ConstructorParameters<typeof PowerDnsProvider>[0]> = {}) => new PowerDnsProvider({ url: pdns.url, apiKey: pdns.apiKey, serverId: 'localhost', logger, ...over });

beforeAll(async () => {
  pdns = await startPowerDns();
});
afterAll(async () => {
  await pdns?.stop();
  // The key never reached a log line.
  for (const l of lines) expect(l).not.toContain(pdns.apiKey);
});

async function served(name: string, type: string): Promise<string[]> {
  const a = await dig(pdns.address, name, type, ['+norec', '+nodnssec', '+nosplit'], pdns.dnsPort);
  return a.answers.filter((l) => l.split(/\s+/)[3] === type).map((l) => l.split(/\s+/).slice(4).join(' ')).sort();
}

async function serial(zone: string): Promise<number> {
  return Number((await served(zone, 'SOA'))[0]!.split(' ')[2]);
}

describe('powerdns provider on a real PowerDNS', () => {
  it('REPLACE keeps every foreign record and comment at our owners byte for byte; ours are served, marked ours, and removed again', async () => {
    const zone = `keep${++seq}.example.net`;
    const owner = `_25._tcp.mail.${zone}`;
    const foreignTlsa = `3 1 1 ${hex('foreign-at-our-owner')}`;
    const disabledTlsa = `3 1 1 ${hex('foreign-disabled')}`;
    await pdns.createZone(zone, [
      { name: `${owner}.`, type: 'TLSA', ttl: 300, records: [{ content: foreignTlsa }, { content: disabledTlsa, disabled: true }], comments: [{ account: 'dnsadmin', content: 'pinned by hand, do not touch' }] },
      { name: `_smtp._tls.${zone}.`, type: 'TXT', ttl: 600, records: [{ content: '"some other \\"quoted\\" text" "in two strings"' }], comments: [{ account: 'ops', content: 'not a report policy' }] },
    ]);
    const foreignBefore = await pdns.rrsets(zone);
    const p = provider();
    const mine = [tlsa(owner, 'ours-a'), tlsa(owner, 'ours-b'), { kind: 'TLSRPT', owner: `_smtp._tls.${zone}`, ttl: 3600, text: `v=TLSRPTv1; rua=mailto:tlsrpt@${zone}` } as ManagedRecord];
    const res = await p.apply(zone, mine.map((r) => create(zone, r)));
    expect(res.problem).toBeUndefined();
    expect(res.details).toMatchObject({ patches: 1 });

    const after = await pdns.rrsets(zone);
    const set = (name: string, type: string, list = after) => list.find((s) => s.name === `${name}.` && s.type === type)!;
    // The foreign records and comments are there exactly as before; the RRset TTL stays the
    // shorter foreign one (300 < 3600); the disabled record stays disabled.
    for (const [name, type] of [[owner, 'TLSA'], [`_smtp._tls.${zone}`, 'TXT']] as const) {
      const b = set(name, type, foreignBefore);
      const a = set(name, type);
      expect(a.ttl).toBe(b.ttl);
      for (const r of b.records) expect(a.records).toContainEqual(r);
      for (const c of b.comments) expect(a.comments).toContainEqual(c);
      expect(a.comments.filter((c) => c.account === 'tlsa-manager')).toHaveLength(1);
    }
    // dig at pdns: the foreign TLSA and ours are served, the disabled one is not.
    expect(await served(owner, 'TLSA')).toEqual([foreignTlsa, `3 1 1 ${hex('ours-a')}`, `3 1 1 ${hex('ours-b')}`].map((c) => c.toUpperCase()).sort());
    expect((await served(`_smtp._tls.${zone}`, 'TXT')).sort()).toEqual([`"some other \\"quoted\\" text" "in two strings"`, `"v=TLSRPTv1; rua=mailto:tlsrpt@${zone}"`].sort());

    // populate: our records marked ours, the foreign TLSA at our owner returned unmarked, the
    // foreign TXT not returned at all (not a TLSRPT policy), the disabled one not (not served).
    const got = await p.populate(zone, [owner, `_smtp._tls.${zone}`]);
    expect(got.map((r) => [r.kind ?? 'TLSA', r.data ?? r.text, r.markedOurs]).sort()).toEqual(
      [['TLSA', hex('foreign-at-our-owner'), false], ['TLSA', hex('ours-a'), true], ['TLSA', hex('ours-b'), true], ['TLSRPT', `v=TLSRPTv1; rua=mailto:tlsrpt@${zone}`, true]].sort(),
    );

    // Removing ours leaves exactly what was there before, byte for byte (comments with author and time).
    const back = await p.apply(zone, mine.map((r) => del(zone, r)));
    expect(back.problem).toBeUndefined();
    const final = await pdns.rrsets(zone);
    const strip = (l: typeof final) => l.filter((s) => s.type !== 'SOA').map((s) => ({ ...s, records: [...s.records].sort((x, y) => x.content.localeCompare(y.content)) })).sort((x, y) => `${x.name}${x.type}`.localeCompare(`${y.name}${y.type}`));
    expect(strip(final)).toEqual(strip(foreignBefore));
  });

  it('a re-run with the changes already in effect sends no PATCH: the serial does not move', async () => {
    const zone = `idem${++seq}.example.net`;
    await pdns.createZone(zone);
    const owner = `_25._tcp.mail.${zone}`;
    const p = provider();
    const changes = [create(zone, tlsa(owner, 'x')), create(zone, tlsa(owner, 'y'))];
    expect((await p.apply(zone, changes)).problem).toBeUndefined();
    const s1 = await serial(zone);
    const again = await p.apply(zone, changes);
    expect(again.problem).toBeUndefined();
    expect(again.details).toMatchObject({ patches: 0 });
    expect(await serial(zone)).toBe(s1);
    // Deleting what is already gone sends nothing either.
    const gone = del(zone, tlsa(owner, 'never-there'));
    expect((await p.apply(zone, [gone])).details).toMatchObject({ patches: 0 });
  });

  it('a PATCH PowerDNS refuses (TLSA next to a CNAME) is one unit: the valid RRset in it is not written either', async () => {
    const zone = `unit${++seq}.example.net`;
    await pdns.createZone(zone, [{ name: `_465._tcp.mail.${zone}.`, type: 'CNAME', ttl: 300, records: [{ content: `elsewhere.${zone}.` }] }]);
    const before = await pdns.rrsets(zone);
    const s0 = await serial(zone);
    const r = await provider().apply(zone, [create(zone, tlsa(`_25._tcp.mail.${zone}`, 'ok')), create(zone, tlsa(`_465._tcp.mail.${zone}`, 'conflict'))]);
    expect(r.problem?.code).toBe('powerdns-rejected');
    expect(r.problem?.message).toMatch(/Nothing was changed/);
    expect(r.applied).toEqual([]);
    expect(await pdns.rrsets(zone)).toEqual(before);
    expect(await served(`_25._tcp.mail.${zone}`, 'TLSA')).toEqual([]);
    expect(await serial(zone)).toBe(s0);
  });

  it('wrong key, missing zone, refused connection, no answer, an oversized answer: each a clear problem without the key, nothing changed', async () => {
    const zone = `err${++seq}.example.net`;
    await pdns.createZone(zone);
    const owner = `_25._tcp.mail.${zone}`;
    const before = await pdns.rrsets(zone);
    const wrongKey = 'pdns-WRONG-k3y-0123456789abcdef';
    const attempt = async (p: PowerDnsProvider, z = zone): Promise<Problem[]> => {
      const out: Problem[] = [];
      try {
        await p.populate(z, [`_25._tcp.mail.${z}`]);
      } catch (err) {
        out.push(toProblem(err));
      }
      const w = await p.apply(z, [create(z, tlsa(`_25._tcp.mail.${z}`, 'z'))]);
      if (w.problem) out.push(w.problem);
      expect(w.applied).toEqual([]);
      return out;
    };
    // A port nobody listens on, and a server that accepts and never answers.
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const cases: [PowerDnsProvider, string, string?][] = [
        [provider({ apiKey: wrongKey }), 'powerdns-key-invalid'],
        [provider(), 'powerdns-zone-not-found', `missing${seq}.example.net`],
        [provider({ url: `http://127.0.0.1:${closed}` }), 'powerdns-unreachable'],
        [provider({ url: `http://127.0.0.1:${silentPort}`, timeoutMs: 300 }), 'powerdns-timeout'],
        [provider({ maxResponseBytes: 64 }), 'powerdns-error'],
      ];
      for (const [p, code, z] of cases) {
        const problems = await attempt(p, z);
        expect(problems.map((x) => x.code), code).toEqual([code, code]);
        for (const x of problems) {
          expect(x.fix?.length ?? 0, code).toBeGreaterThan(10);
          for (const s of [pdns.apiKey, wrongKey]) expect(JSON.stringify(x)).not.toContain(s);
        }
      }
    } finally {
      silent.close();
    }
    expect(await pdns.rrsets(zone)).toEqual(before);
    expect(await served(owner, 'TLSA')).toEqual([]);
  });

  it('the Test button: key valid and zone found; a wrong key or a missing zone says so', async () => {
    const zone = `test${++seq}.example.net`;
    await pdns.createZone(zone);
    const ok = await provider().verify(zone);
    expect(ok.ok).toBe(true);
    expect(ok.summary).toMatch(/API key works and zone .* is there/);
    const bad = await provider({ apiKey: 'pdns-WRONG-k3y-0123456789abcdef' }).verify(zone);
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.code)).toEqual(['powerdns-key-invalid']);
    expect(JSON.stringify(bad)).not.toContain('pdns-WRONG-k3y');
    const missing = await provider().verify(`nosuch${seq}.example.net`);
    expect(missing.ok).toBe(false);
    expect(missing.problems.map((p) => p.code)).toEqual(['powerdns-zone-not-found']);
    const server = await provider({ serverId: 'nosuchserver' }).verify(zone);
    expect(server.ok).toBe(false);
    expect(server.problems[0]?.message).toMatch(/no server "nosuchserver"/);
  });

  it('signing through cryptokeys: enable serves signed answers, the DS read from the API is dnssec-dsfromkey of the served DNSKEY, disable stops signing', async () => {
    const zone = `sign${++seq}.example.net`;
    await pdns.createZone(zone, [{ name: `_25._tcp.mail.${zone}.`, type: 'TLSA', ttl: 300, records: [{ content: `3 1 1 ${hex('signed')}` }] }]);
    const made = await providerModule('powerdns').create({ url: pdns.url, apiKey: pdns.apiKey, serverId: 'localhost' }, providerHost(testContext({})));
    if (isProblem(made)) throw new ProblemError(made);
    const signer = made.signer!;
    expect((await signer.status([zone])).get(zone)).toMatchObject({ signing: 'off', ds: [] });
    expect(await signer.enable(zone, 13)).toBeNull();
    // Enabling twice adds no second key.
    expect(await signer.enable(zone, 13)).toBeNull();
    expect(await pdns.api<unknown[]>('GET', `/zones/${zone}./cryptokeys`)).toHaveLength(1);
    const view = (await signer.status([zone])).get(zone)!;
    expect(view.signing).toBe('active');
    expect(view.ds).toHaveLength(1);
    const a = await dig(pdns.address, `_25._tcp.mail.${zone}`, 'TLSA', ['+norec'], pdns.dnsPort);
    expect(a.answers.some((l) => /\sRRSIG\s+TLSA\s+13\s/.test(l))).toBe(true);
    const keys = await dig(pdns.address, zone, 'DNSKEY', ['+norec', '+nodnssec'], pdns.dnsPort);
    const dnskeys = keys.answers.filter((l) => /\sDNSKEY\s/.test(l));
    expect(dnskeys.length).toBeGreaterThan(0);
    const ds = (await mustRun(['dnssec-dsfromkey', '-2', '-f', '-', zone], { input: `${dnskeys.join('\n')}\n` })).trim().split('\n');
    const d = view.ds[0]!;
    expect(ds).toEqual([`${zone}. IN DS ${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toUpperCase()}`]);
    expect(view.dnskey.map((k) => `${k.flags} ${k.protocol} ${k.algorithm}`)).toEqual(['257 3 13']);

    expect(await signer.disable(zone)).toBeNull();
    expect((await signer.status([zone])).get(zone)).toMatchObject({ signing: 'off', ds: [] });
    const plain = await dig(pdns.address, `_25._tcp.mail.${zone}`, 'TLSA', ['+norec'], pdns.dnsPort);
    expect(plain.answers.some((l) => /\sRRSIG\s/.test(l))).toBe(false);
    expect(plain.answers.some((l) => /\sTLSA\s/.test(l))).toBe(true);

    // An algorithm PowerDNS does not sign with, and a zone it does not have: problems, nothing made.
    expect((await signer.enable(zone, 5))?.code).toBe('powerdns-rejected');
    expect((await signer.enable(`nosuch${seq}.example.net`, 13))?.code).toBe('powerdns-zone-not-found');
    expect(await pdns.api<unknown[]>('GET', `/zones/${zone}./cryptokeys`)).toEqual([]);
    expect(powerdnsDnssec).toBeTypeOf('function');
  });

  it('a change to a signed zone is rectified even where PowerDNS does not rectify after API changes (default-api-rectify=no)', async () => {
    const own = await startPowerDns({ config: ['default-api-rectify=no'] });
    try {
      const zone = 'rect.example.net';
      await own.createZone(zone);
      const p = new PowerDnsProvider({ url: own.url, apiKey: own.apiKey, serverId: 'localhost' });
      p.signer = powerdnsDnssec(p);
      expect(await p.signer.enable(zone, 13)).toBeNull();
      const owner = `_25._tcp.mail.${zone}`;
      expect((await p.apply(zone, [create(zone, tlsa(owner, 'r'))])).problem).toBeUndefined();
      // pdns's own database: the new name has the ordering field NSEC denial needs.
      const db = new Database(own.database, { readonly: true });
      const row = db.prepare("SELECT ordername, auth FROM records WHERE name = ? AND type = 'TLSA'").get(owner) as { ordername: string | null; auth: number };
      db.close();
      expect(row).toEqual({ ordername: 'mail _tcp _25', auth: 1 });
    } finally {
      await own.stop();
    }
  });
});
