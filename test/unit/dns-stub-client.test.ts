import { afterEach, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { DnsClient, parseResolver, resolverFromResolvConf } from '../../src/resolver/stub-client.js';
import { ProblemError } from '../../src/problem.js';
import { response, startFakeDns, zoneHandler, type FakeDnsServer, type ZoneRecord } from '../fakes/dns-server.js';

const TLSA_HEX = '0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6';

const ZONE: ZoneRecord[] = [
  { name: 'example.test', type: 'MX', ttl: 600, data: { preference: 10, exchange: 'Mail.Example.TEST' } },
  { name: 'example.test', type: 'SOA', data: { mname: 'ns.example.test', rname: 'hostmaster.example.test', serial: 7 } },
  { name: 'mail.example.test', type: 'A', data: '127.0.0.2' },
  { name: 'mail.example.test', type: 'AAAA', data: '::1' },
  { name: '_25._tcp.mail.example.test', type: 'TLSA', ttl: 300, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.from(TLSA_HEX, 'hex') } },
  { name: 'alias.example.test', type: 'CNAME', data: 'mx.other.test' },
  { name: 'mx.other.test', type: 'A', data: '127.0.0.9' },
];

let servers: FakeDnsServer[] = [];
async function server(...args: Parameters<typeof zoneHandler>): Promise<FakeDnsServer> {
  const s = await startFakeDns(zoneHandler(...args));
  servers.push(s);
  return s;
}
function client(s: FakeDnsServer, opts: ConstructorParameters<typeof DnsClient>[1] = {}): DnsClient {
  return new DnsClient({ host: s.host, port: s.port }, { timeoutMs: 300, ...opts });
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('parseResolver', () => {
  it('accepts IPv4 and IPv6 with and without a port', () => {
    expect(parseResolver('127.0.0.1')).toEqual({ host: '127.0.0.1', port: 53 });
    expect(parseResolver(' 127.0.0.3:5353 ')).toEqual({ host: '127.0.0.3', port: 5353 });
    expect(parseResolver('[::1]:53')).toEqual({ host: '::1', port: 53 });
    expect(parseResolver('[::1]')).toEqual({ host: '::1', port: 53 });
    expect(parseResolver('::1')).toEqual({ host: '::1', port: 53 });
    expect(parseResolver('2001:db8::53')).toEqual({ host: '2001:db8::53', port: 53 });
  });
  it('refuses names, bad ports and junk with a resolver-invalid problem', () => {
    for (const bad of ['', 'dns.google', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:x', '[127.0.0.1]:53', '1.2.3:53', '[::1]:']) {
      try {
        parseResolver(bad);
        expect.fail(`accepted ${bad}`);
      } catch (e) {
        expect(e).toBeInstanceOf(ProblemError);
        expect((e as ProblemError).problem.code).toBe('resolver-invalid');
      }
    }
  });
});

describe('resolverFromResolvConf', () => {
  it('takes the first nameserver line, skipping comments and options', () => {
    const text = '# generated\nsearch example.test\n;nameserver 9.9.9.9\noptions edns0\nnameserver 127.0.0.53\nnameserver 127.0.0.1\n';
    expect(resolverFromResolvConf(text)).toEqual({ host: '127.0.0.53', port: 53 });
    expect(resolverFromResolvConf('nameserver fe80::1%eth0\n')).toEqual({ host: 'fe80::1', port: 53 });
    expect(resolverFromResolvConf('search x\n')).toBeNull();
    expect(resolverFromResolvConf('nameserver bogus\n')).toBeNull();
  });
});

describe('DnsClient.query', () => {
  it('sends RD, AD and EDNS DO, and reports a secure MX answer', async () => {
    const s = await server(ZONE);
    const a = await client(s).query('Example.Test.', 'MX');
    expect(a).toMatchObject({ name: 'example.test', type: 'MX', rcode: 'NOERROR', secure: true, status: 'ok', transport: 'udp', truncated: false, cnameChain: [] });
    expect(a.records).toEqual([{ name: 'example.test', type: 'MX', ttl: 600, data: { preference: 10, exchange: 'mail.example.test' } }]);
    const q = s.queries[0]!.packet;
    expect(q.flag_rd).toBe(true);
    expect(q.flag_ad).toBe(true);
    expect(q.flag_cd).toBe(false);
    const opt = q.additionals?.find((r) => r.type === 'OPT') as packet.OptAnswer | undefined;
    expect(opt?.flag_do).toBe(true);
    expect(q.questions).toEqual([{ name: 'example.test', type: 'MX', class: 'IN' }]);
  });

  it('asks without RD when told to (an authoritative server asked as a resolver asks it) and reports the size received', async () => {
    const sent: number[] = [];
    const s = await startFakeDns((q) => {
      const wire = packet.encode(response(q, { ad: true, answers: [{ name: '_25._tcp.mail.example.test', type: 'TLSA', ttl: 300, data: { usage: 3, selector: 1, matchingType: 1, certificate: Buffer.from(TLSA_HEX, 'hex') } } as packet.Answer] }));
      sent.push(wire.length);
      return { raw: [wire] };
    });
    servers.push(s);
    const a = await client(s, { recursionDesired: false }).query('_25._tcp.mail.example.test', 'TLSA');
    expect(s.queries[0]!.packet.flag_rd).toBe(false);
    expect(a).toMatchObject({ status: 'ok', truncated: false, size: sent[0] });
  });

  it('uses random query ids', async () => {
    const s = await server(ZONE);
    const c = client(s, { cache: false });
    for (let i = 0; i < 6; i++) await c.query('mail.example.test', 'A');
    expect(new Set(s.queries.map((q) => q.packet.id)).size).toBeGreaterThan(1);
  });

  it('decodes TLSA rdata into usage/selector/matching type and lower-case hex', async () => {
    const s = await server(ZONE);
    const a = await client(s).query('_25._tcp.mail.example.test', 'TLSA');
    expect(a.status).toBe('ok');
    expect(a.records[0]).toEqual({
      name: '_25._tcp.mail.example.test',
      type: 'TLSA',
      ttl: 300,
      data: { usage: 3, selector: 1, matchingType: 1, data: TLSA_HEX },
    });
  });

  it('reports an answer without AD as not secure', async () => {
    const s = await server(ZONE, { ad: false });
    const c = client(s);
    const a = await c.query('mail.example.test', 'A');
    expect(a.status).toBe('ok');
    expect(a.secure).toBe(false);
    expect((await c.security('mail.example.test', 'A')).security).toBe('insecure');
  });

  it('tells NXDOMAIN from NODATA', async () => {
    const s = await server(ZONE);
    const c = client(s);
    expect(await c.query('nope.example.test', 'A')).toMatchObject({ status: 'nxdomain', rcode: 'NXDOMAIN', records: [] });
    expect(await c.query('example.test', 'TLSA')).toMatchObject({ status: 'nodata', rcode: 'NOERROR', records: [] });
  });

  it('follows a CNAME chain in the answer and lists the targets', async () => {
    const s = await server(ZONE);
    const a = await client(s).query('alias.example.test', 'A');
    expect(a.status).toBe('ok');
    expect(a.cnameChain).toEqual(['mx.other.test']);
    expect(a.records).toEqual([{ name: 'mx.other.test', type: 'A', ttl: 300, data: '127.0.0.9' }]);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const s = await server(ZONE, { truncateUdp: true });
    const a = await client(s).query('mail.example.test', 'AAAA');
    expect(a).toMatchObject({ status: 'ok', transport: 'tcp', secure: true, truncated: true });
    expect(a.records.map((r) => r.data)).toEqual(['::1']);
    expect(s.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
    expect(s.queries[1]!.packet.flag_ad).toBe(true);
  });

  it('times out after the configured retries and says so', async () => {
    const s = await server(ZONE, { silent: ['mail.example.test'] });
    const a = await client(s, { timeoutMs: 150, retries: 2 }).query('mail.example.test', 'A');
    expect(a.status).toBe('timeout');
    expect(a.error).toMatch(/no answer within 150 ms/);
    expect(s.queries.filter((q) => q.transport === 'udp')).toHaveLength(3);
  });

  it('ignores answers with the wrong id or question and keeps waiting for the real one', async () => {
    const real = zoneHandler(ZONE);
    const s = await startFakeDns((q, t) => {
      const good = real(q, t) as packet.Packet;
      const wrongId = { ...good, id: ((q.id ?? 0) + 1) % 65536, answers: [{ name: 'mail.example.test', type: 'A', ttl: 1, data: '10.6.6.6' }] } as packet.Packet;
      const wrongQ = { ...good, questions: [{ name: 'evil.test', type: 'A', class: 'IN' }], answers: [{ name: 'mail.example.test', type: 'A', ttl: 1, data: '10.6.6.7' }] } as packet.Packet;
      return { raw: [packet.encode(wrongId), packet.encode(wrongQ), Buffer.from('garbage'), packet.encode(good)] };
    });
    servers.push(s);
    const a = await client(s).query('mail.example.test', 'A');
    expect(a.status).toBe('ok');
    expect(a.records.map((r) => r.data)).toEqual(['127.0.0.2']);
  });

  it('times out when only spoofed answers arrive', async () => {
    const s = await startFakeDns((q) => ({ raw: [packet.encode({ ...response(q, {}), id: ((q.id ?? 0) + 7) % 65536 })] }));
    servers.push(s);
    const a = await client(s, { timeoutMs: 150, retries: 0 }).query('mail.example.test', 'A');
    expect(a.status).toBe('timeout');
  });

  it('shares one network query between concurrent identical questions, but not timeouts', async () => {
    const s = await server(ZONE, { silent: ['slow.example.test'] });
    const c = client(s, { timeoutMs: 100, retries: 0 });
    const [a, b] = await Promise.all([c.query('mail.example.test', 'A'), c.query('MAIL.example.test', 'A')]);
    expect(a).toEqual(b);
    expect(s.queries).toHaveLength(1);
    await c.query('slow.example.test', 'A');
    await c.query('slow.example.test', 'A');
    expect(s.queries).toHaveLength(3);
  });

  it('refuses an invalid name before sending anything', async () => {
    const s = await server(ZONE);
    expect(() => client(s).query('bad name.test', 'A')).toThrow(ProblemError);
    expect(s.queries).toHaveLength(0);
  });

  it('works with an IPv6 resolver address', async () => {
    const s = await startFakeDns(zoneHandler(ZONE), '::1');
    servers.push(s);
    const a = await new DnsClient(parseResolver(`[::1]:${s.port}`), { timeoutMs: 300 }).query('mail.example.test', 'A');
    expect(a.status).toBe('ok');
  });
});

describe('DnsClient.security', () => {
  it('calls SERVFAIL that answers with CD set bogus', async () => {
    const s = await server(ZONE, { bogus: ['_25._tcp.mail.example.test'] });
    const r = await client(s).security('_25._tcp.mail.example.test', 'TLSA');
    expect(r.security).toBe('bogus');
    expect(r.answer.status).toBe('servfail');
    expect(s.queries.map((q) => q.packet.flag_cd)).toEqual([false, true]);
  });
  it('calls SERVFAIL with and without CD indeterminate', async () => {
    const s = await server(ZONE, { servfail: ['mail.example.test'] });
    expect((await client(s).security('mail.example.test', 'A')).security).toBe('indeterminate');
  });
  it('calls an AD answer secure and a timeout indeterminate', async () => {
    const s = await server(ZONE, { silent: ['x.example.test'] });
    const c = client(s, { timeoutMs: 100, retries: 0 });
    expect((await c.security('mail.example.test', 'A')).security).toBe('secure');
    expect((await c.security('x.example.test', 'A')).security).toBe('indeterminate');
  });
});

describe('DnsClient.selfTest', () => {
  it('passes when the probe name comes back with AD', async () => {
    const s = await server(ZONE);
    const r = await client(s, { probeName: 'example.test' }).selfTest();
    expect(r.validating).toBe(true);
    expect(s.queries[0]!.packet.questions?.[0]).toMatchObject({ name: 'example.test', type: 'SOA' });
  });
  it('fails in plain words when the resolver does not set AD', async () => {
    const s = await server(ZONE, { ad: false });
    const r = await client(s, { probeName: 'example.test' }).selfTest();
    expect(r.validating).toBe(false);
    expect(r.message).toMatch(/does not validate DNSSEC.*results would be meaningless/);
  });
  it('asks for the root SOA by default and fails when nobody answers', async () => {
    const s = await server(ZONE, { silent: ['.'] });
    const r = await client(s, { timeoutMs: 100, retries: 0 }).selfTest();
    expect(r.validating).toBe(false);
    expect(r.message).toMatch(/did not answer/);
    expect(s.queries[0]!.packet.questions?.[0]).toMatchObject({ name: '.', type: 'SOA' });
  });
});
