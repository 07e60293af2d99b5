import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change, DnsProvider, PublishedRecord } from '../../src/providers/contract.js';
import type { ManagedRecord } from '../../src/dns/records.js';
import { isProblem, ProblemError } from '../../src/problem.js';
import { providerHost } from '../../src/provider-instances.js';
import { providerModule } from '../../src/providers/registry.js';
import { parseMessage } from '../../src/providers/rfc2136/wire.js';
import { requireComponents } from '../helpers/components.js';
import { testContext } from '../helpers/context.js';
import { newKey, startBindUpdate, startKnot, type UpdateServer } from '../lab/update-servers.js';

/**
 * The rfc2136 provider against real servers, each judged by its own zone transfer (dig AXFR):
 * BIND (plain and inline-signed) and Knot DNS. What the contract suite does not reach: an update
 * that meets a change made meanwhile (a proxy lets nsupdate change the zone between our read and
 * our UPDATE) is re-read and sent again, or fails with rfc2136-conflict when the zone never
 * holds still; exact deletes leave a foreign record of the same RRset byte for byte; an add to
 * an RRset with foreign records keeps their TTL; the Test button.
 */

requireComponents('rfc2136 provider', ['nsupdate', 'dig', 'named', 'knotd']);

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const FOREIGN = (zone: string) => [
  `_smtp._tls.${zone}.\t300\tIN\tTXT\t"not a report policy"`,
  `_25._tcp.mail.${zone}.\t300\tIN\tTXT\t"foreign text at our owner"`,
  `mail.${zone}.\t300\tIN\tA\t192.0.2.25`,
];
const tlsa = (owner: string, seed: string): ManagedRecord => ({ owner, ttl: 3600, usage: 3, selector: 1, matchingType: 1, data: hex(seed) });
const policy = (zone: string): ManagedRecord => ({ kind: 'TLSRPT', owner: `_smtp._tls.${zone}`, ttl: 3600, text: `v=TLSRPTv1; rua=mailto:tlsrpt@${zone}` });
const create = (zone: string, record: ManagedRecord): Change => ({ kind: 'create', zone, record, reason: 'test' });
const del = (zone: string, p: PublishedRecord): Change => ({ kind: 'delete', zone, record: p, existing: p, reason: 'test' });

/** A TCP proxy in front of a server that can run `beforeUpdate` before it forwards an UPDATE. */
class UpdateProxy {
  private srv: Server | undefined;
  beforeUpdate: (() => Promise<void>) | null = null;
  forgeAnswers = false;
  updates = 0;
  constructor(private readonly upstream: UpdateServer) {}

  async start(): Promise<string> {
    this.srv = createServer((client) => {
      const up = new Socket();
      up.connect(this.upstream.port, this.upstream.host);
      let answers = Buffer.alloc(0);
      up.on('data', (d: Buffer) => {
        answers = Buffer.concat([answers, d]);
        while (answers.length >= 2 && answers.length >= 2 + answers.readUInt16BE(0)) {
          const frame = Buffer.from(answers.subarray(0, 2 + answers.readUInt16BE(0)));
          answers = answers.subarray(frame.length);
          if (this.forgeAnswers) {
            // Someone on the path alters the answer: one bit of the TSIG MAC (the last of its bytes,
            // before Original ID, Error and Other Len).
            const tsig = parseMessage(frame.subarray(2)).additional.at(-1)!;
            frame[2 + tsig.end - 7]! ^= 0x01;
          }
          client.write(frame);
        }
      });
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
      up.on('close', () => client.destroy());
      let pending = Buffer.alloc(0);
      let chain = Promise.resolve();
      client.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const frame = pending.subarray(0, 2 + pending.readUInt16BE(0));
          pending = pending.subarray(frame.length);
          const isUpdate = ((frame.readUInt16BE(4) >> 11) & 0xf) === 5;
          chain = chain.then(async () => {
            if (isUpdate) {
              this.updates++;
              if (this.beforeUpdate) await this.beforeUpdate();
            }
            up.write(frame);
          });
        }
      });
    });
    await new Promise<void>((r) => this.srv!.listen(0, '127.0.0.1', () => r()));
    return `127.0.0.1:${(this.srv.address() as AddressInfo).port}`;
  }

  stop(): void {
    this.srv?.close();
  }
}

/** nsupdate (BIND's own client) makes a change of its own, signed with the same key. */
function nsupdate(s: UpdateServer, zone: string, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn('nsupdate', ['-v', '-t', '5', '-y', `${s.key.algorithm}:${s.key.name}:${s.key.secret}`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nsupdate failed: ${err}`))));
    c.stdin.end(`server ${s.host} ${s.port}\nzone ${zone}\nupdate add ${line}\nsend\n`);
  });
}

/** The zone as AXFR prints it, without the SOA and DNSSEC records (inline signing re-signs). */
const records = (s: UpdateServer, zone: string) => s.axfr(zone).filter((l) => !/\s(SOA|RRSIG|NSEC|NSEC3|NSEC3PARAM|DNSKEY|CDS|CDNSKEY|TYPE65534)\s/.test(l));

interface Setup {
  label: string;
  start(zones: string[]): Promise<UpdateServer>;
  inline?: boolean;
}

const SETUPS: Setup[] = [
  { label: 'BIND', start: (zones) => startBindUpdate({ key: newKey(), zones: [...zones.map((name) => ({ name, records: FOREIGN(name) })), { name: 'ro.example.com', records: [], updatable: false }] }) },
  { label: 'BIND with inline signing', inline: true, start: (zones) => startBindUpdate({ key: newKey(), zones: [...zones.map((name) => ({ name, records: FOREIGN(name), inlineSigned: true })), { name: 'ro.example.com', records: [], updatable: false }] }) },
  { label: 'Knot DNS', start: (zones) => startKnot({ key: newKey('tlsa-manager', 'hmac-sha512'), zones: [...zones.map((name) => ({ name, records: FOREIGN(name) })), { name: 'ro.example.com', records: [], updatable: false }, { name: 'kro.example.com', records: [], updatable: false, keyKnown: true }] }) },
];

for (const setup of SETUPS) {
  describe(`rfc2136 provider on ${setup.label}`, () => {
    const zones = ['a.example.com', 'b.example.com', 'c.example.com', 'd.example.com'];
    let server: UpdateServer;
    let proxy: UpdateProxy;
    let viaProxy = '';
    const make = async (o: { server?: string; secret?: string; zones?: string[] } = {}): Promise<DnsProvider> => {
      const p = await providerModule('rfc2136').create(
        { server: o.server ?? viaProxy, tsig: { ...server.key, secret: o.secret ?? server.key.secret }, timeoutSeconds: 5, ...(o.zones ? { zones: o.zones } : {}) },
        providerHost(testContext({})),
      );
      if (isProblem(p)) throw new ProblemError(p);
      return p;
    };
    beforeAll(async () => {
      server = await setup.start(zones);
      proxy = new UpdateProxy(server);
      viaProxy = await proxy.start();
    });
    afterAll(async () => {
      proxy?.stop();
      await server?.stop();
    });

    it('an update that meets a change made meanwhile is re-read and sent again; the other change stays', async () => {
      const zone = zones[0]!;
      const p = await make();
      let n = 0;
      proxy.beforeUpdate = async () => {
        // Only before our first UPDATE: someone adds a TXT at the very name we add to.
        if (n++ === 0) await nsupdate(server, zone, `_smtp._tls.${zone}. 300 TXT "added meanwhile"`);
      };
      const updatesBefore = proxy.updates;
      const res = await p.apply(zone, [create(zone, tlsa(`_25._tcp.mail.${zone}`, 'x')), create(zone, policy(zone))]);
      proxy.beforeUpdate = null;
      expect(res.problem).toBeUndefined();
      // The first UPDATE failed its prerequisite; BIND with inline signing costs one more (the SOA).
      expect(res.details?.attempts).toBe(setup.inline ? 3 : 2);
      expect(proxy.updates - updatesBefore).toBe(res.details?.attempts);
      const got = records(server, zone);
      expect(got.some((l) => l.includes('"added meanwhile"'))).toBe(true);
      expect(got.some((l) => l.includes('"v=TLSRPTv1; rua=mailto:tlsrpt@'))).toBe(true);
      expect(got.some((l) => /_25\._tcp\.mail\.\S+\s+\d+\s+IN\s+TLSA\s/.test(l))).toBe(true);
    });

    it('a zone that never holds still: rfc2136-conflict after 3 retries, and nothing of ours is written', async () => {
      const zone = zones[1]!;
      const p = await make();
      let n = 0;
      proxy.beforeUpdate = () => nsupdate(server, zone, `_smtp._tls.${zone}. 300 TXT "busy ${n++}"`);
      const res = await p.apply(zone, [create(zone, tlsa(`_25._tcp.mail.${zone}`, 'never'))]);
      proxy.beforeUpdate = null;
      expect(res.problem?.code).toBe('rfc2136-conflict');
      expect(res.applied).toEqual([]);
      expect(n).toBe(4);
      expect(records(server, zone).some((l) => /\sTLSA\s/.test(l) && l.includes('_25._tcp.mail.'))).toBe(false);
    });

    it('deletes only the exact record: a foreign TXT in the same RRset keeps its bytes and its TTL through add and delete', async () => {
      const zone = zones[2]!;
      const p = await make();
      const foreignLine = () => records(server, zone).filter((l) => l.startsWith(`_smtp._tls.${zone}.`) && !l.includes('v=TLSRPTv1'));
      const before = foreignLine();
      expect(before).toHaveLength(1);
      expect((await p.apply(zone, [create(zone, policy(zone))])).problem).toBeUndefined();
      // The add took the RRset's TTL (300), so the foreign record's TTL did not move.
      expect(foreignLine()).toEqual(before);
      const [ours, ...rest] = await p.populate(zone, [`_smtp._tls.${zone}`]);
      expect(rest).toEqual([]);
      expect(ours).toMatchObject({ kind: 'TLSRPT', ttl: 300 });
      const all = records(server, zone);
      expect((await p.apply(zone, [del(zone, ours!)])).problem).toBeUndefined();
      expect(foreignLine()).toEqual(before);
      expect(records(server, zone)).toEqual(all.filter((l) => !l.includes('v=TLSRPTv1')));
    });

    it('an answer altered on the way is not trusted: populate and apply fail with rfc2136-answer-unverified', async () => {
      const zone = zones[3]!;
      const p = await make();
      proxy.forgeAnswers = true;
      try {
        await expect(p.populate(zone, [`_25._tcp.mail.${zone}`])).rejects.toMatchObject({ problem: { code: 'rfc2136-answer-unverified' } });
        const res = await p.apply(zone, [create(zone, tlsa(`_25._tcp.mail.${zone}`, 'forged'))]);
        expect(res.problem?.code).toBe('rfc2136-answer-unverified');
        expect(res.applied).toEqual([]);
        expect(JSON.stringify(res)).not.toContain(server.key.secret);
      } finally {
        proxy.forgeAnswers = false;
      }
    });

    it('the Test button: key and zone accepted; a wrong key, a zone without updates and an unknown zone each named', async () => {
      const zone = zones[3]!;
      const good = await (await make({ server: server.server })).verify!(zone);
      expect(good).toMatchObject({ ok: true, problems: [] });
      expect(good.summary).toContain(zone);
      const before = server.axfr(zone);
      const wrong = await (await make({ server: server.server, secret: newKey().secret })).verify!(zone);
      expect(wrong.ok).toBe(false);
      expect(wrong.problems.map((x) => x.code)).toEqual(['rfc2136-key-rejected']);
      const ro = await (await make({ server: server.server })).verify!('ro.example.com');
      if (server.kind === 'knot') {
        // Knot answers even a signed query for a zone whose acl does not name the key with NOTAUTH/BADKEY.
        expect(ro.problems.map((x) => x.code)).toEqual(['rfc2136-key-rejected']);
        expect(ro.problems[0]!.message).toMatch(/acl/);
        // A key the zone's acl names for something else: queries pass, the update gets NOTAUTH/BADKEY: a refusal.
        const kro = await (await make({ server: server.server })).verify!('kro.example.com');
        expect(kro.problems.map((x) => x.code)).toEqual(['rfc2136-refused']);
        expect(kro.problems[0]!.fix).toMatch(/acl/);
      } else {
        expect(ro.problems.map((x) => x.code)).toEqual(['rfc2136-refused']);
        expect(ro.problems[0]!.fix).toMatch(/allow-update/);
      }
      const none = await (await make({ server: server.server })).verify!('nowhere.example.com');
      expect(none.ok).toBe(false);
      expect(none.problems[0]!.code).toMatch(/^rfc2136-(zone-not-found|refused)$/);
      const noZone = await (await make({ server: server.server })).verify!();
      expect(noZone.ok).toBe(false);
      expect(noZone.problems.map((x) => x.code)).toEqual(['bad-request']);
      expect((await (await make({ server: server.server, zones: [zone] })).verify!()).ok).toBe(true);
      const unlisted = await (await make({ server: server.server, zones: ['other.example.com'] })).verify!(zone);
      expect(unlisted.problems.map((x) => x.code)).toEqual(['rfc2136-zone-not-listed']);
      // The Test changed nothing (not even the serial).
      expect(server.axfr(zone)).toEqual(before);
    });
  });
}
