/**
 * A scriptable fake DNS resolver on 127.0.0.1 (UDP and TCP on the same random port), built with
 * dns-packet. It records every query it receives so tests can check the flags the client sent.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';

export type Transport = 'udp' | 'tcp';
export interface ReceivedQuery {
  transport: Transport;
  packet: packet.DecodedPacket;
}
/** 'drop' = never answer; { raw } = send these exact datagrams/messages in order. */
export type Reply = packet.Packet | 'drop' | { raw: Buffer[] };
export type Handler = (q: packet.DecodedPacket, transport: Transport) => Reply;

export interface FakeDnsServer {
  host: string;
  port: number;
  queries: ReceivedQuery[];
  setHandler(h: Handler): void;
  close(): Promise<void>;
}

export async function startFakeDns(handler: Handler, host = '127.0.0.1'): Promise<FakeDnsServer> {
  let current = handler;
  const queries: ReceivedQuery[] = [];
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const q = packet.decode(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        queries.push({ transport: 'tcp', packet: q });
        for (const out of render(current(q, 'tcp'))) {
          const l = Buffer.alloc(2);
          l.writeUInt16BE(out.length);
          sock.write(Buffer.concat([l, out]));
        }
      }
    });
  });
  const { udp, port } = await bindBoth(tcp, host);
  udp.on('message', (msg, rinfo) => {
    const q = packet.decode(msg);
    queries.push({ transport: 'udp', packet: q });
    for (const out of render(current(q, 'udp'))) udp.send(out, rinfo.port, rinfo.address);
  });
  return {
    host,
    port,
    queries,
    setHandler(h) {
      current = h;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => udp.close(() => r()));
    },
  };
}

function render(reply: Reply): Buffer[] {
  if (reply === 'drop') return [];
  if ('raw' in reply) return reply.raw;
  return [packet.encode(reply)];
}

async function bindBoth(tcp: net.Server, host: string): Promise<{ udp: dgram.Socket; port: number }> {
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((r) => tcp.listen(0, host, () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket(net.isIP(host) === 6 ? 'udp6' : 'udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, host, () => r(true));
    });
    if (ok) return { udp, port };
    udp.close();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
  throw new Error('could not bind UDP and TCP on one port');
}

// -------------------------------------------------------------------------------------------
// A zone-driven handler with the failure modes a validating resolver shows.

export interface ZoneRecord {
  name: string;
  type: string;
  ttl?: number;
  data: unknown;
}
export interface ZoneOptions {
  /** Set AD on answers (per name when a function). Default true. */
  ad?: boolean | ((qname: string) => boolean);
  /** Answer UDP with TC and no records, forcing TCP. */
  truncateUdp?: boolean;
  /** Names that validate as bogus: SERVFAIL unless the query has CD set. */
  bogus?: string[];
  /** Names that SERVFAIL regardless of CD (unreachable zone). */
  servfail?: string[];
  /** Names never answered (client must time out). */
  silent?: string[];
  /** Names that exist (NODATA instead of NXDOMAIN when no record of the type). */
  existing?: string[];
}

const RCODE: Record<string, number> = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

export function lc(n: string): string {
  return n.toLowerCase().replace(/\.$/, '');
}

export function response(q: packet.DecodedPacket, opts: { rcode?: string; ad?: boolean; tc?: boolean; answers?: packet.Answer[] }): packet.Packet {
  let flags = packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (RCODE[opts.rcode ?? 'NOERROR'] ?? 0);
  if (opts.ad) flags |= packet.AUTHENTIC_DATA;
  if (opts.tc) flags |= packet.TRUNCATED_RESPONSE;
  if (q.flag_cd) flags |= packet.CHECKING_DISABLED;
  return {
    type: 'response',
    id: q.id ?? 0,
    flags,
    questions: q.questions ?? [],
    answers: opts.answers ?? [],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] }],
  };
}

export function zoneHandler(zone: ZoneRecord[], opts: ZoneOptions = {}): Handler {
  return (q, transport) => {
    const question = q.questions?.[0];
    if (!question) return response(q, { rcode: 'REFUSED' });
    const qname = lc(question.name);
    const ad = typeof opts.ad === 'function' ? opts.ad(qname) : opts.ad ?? true;
    if (opts.silent?.map(lc).includes(qname)) return 'drop';
    if (opts.servfail?.map(lc).includes(qname)) return response(q, { rcode: 'SERVFAIL' });
    if (opts.bogus?.map(lc).includes(qname) && !q.flag_cd) return response(q, { rcode: 'SERVFAIL' });
    if (opts.truncateUdp && transport === 'udp') return response(q, { tc: true, ad });
    const answers: packet.Answer[] = [];
    let name = qname;
    for (let hop = 0; hop < 8; hop++) {
      const cname = zone.find((r) => lc(r.name) === name && r.type === 'CNAME');
      if (!cname || question.type === 'CNAME') break;
      answers.push({ name, type: 'CNAME', ttl: cname.ttl ?? 300, data: cname.data } as packet.Answer);
      name = lc(String(cname.data));
    }
    const rrs = zone.filter((r) => lc(r.name) === name && r.type === question.type);
    for (const r of rrs) answers.push({ name: r.name, type: r.type, ttl: r.ttl ?? 300, data: r.data } as packet.Answer);
    const exists = zone.some((r) => lc(r.name) === name) || (opts.existing ?? []).map(lc).includes(name);
    return response(q, { rcode: exists ? 'NOERROR' : 'NXDOMAIN', ad, answers });
  };
}
