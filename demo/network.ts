import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as packet from 'dns-packet';
import type { DemoManifest } from './build-root.js';
import { ChainBook, DNSKEY_TTL, type ZoneChain } from './dnssec.js';
import type { ZoneDnssec } from './scenario.js';

/**
 * The demo's simulated network, on loopback and unprivileged, owned by the demo process:
 *
 * - an authoritative face that serves the root's `/var/named/*.db` as they are NOW (a file is
 *   parsed again whenever its mtime or size changes, so a publish is visible to the next query);
 * - a validating-resolver face over the same data plus the zones hosted elsewhere (manifest
 *   `externalZones`), setting AD for signed zones, not for unsigned ones, and answering SERVFAIL
 *   for a bogus chain unless the query has CD (what a validating resolver does, RFC 4035 §3.2.2);
 * - a parent face: the simulated TLD (`test.`) with the DS records of its children, as the
 *   registry's servers publish them (config `dnssec.servers` points the product at it);
 * - SMTP listeners with the semantics of ports 25 and 587 (STARTTLS) and 465 (TLS from the first
 *   byte) that pick their certificate by SNI the way Exim on cPanel does: domain_tls/<sni>/combined,
 *   then the wildcard entry for the parent name, then the service certificate (/etc/exim.crt).
 *
 * The chain material is real (demo/dnssec.ts: keys, DNSKEY, key tags, DS digests, an RRSIG over
 * each DNSKEY set), so the product's chain check judges true facts; but the resolver face does not
 * validate: it states the verdict the demo world assigns (manifest `domains[].dnssec`), like a
 * resolver that already validated.
 */

const here = dirname(fileURLToPath(import.meta.url));
/** The stubs' zone reader (plain ESM beside the sources; compiled code runs in .demo/build). */
const ZONEFILE_MJS = existsSync(join(here, 'stubs', 'zonefile.mjs')) ? join(here, 'stubs', 'zonefile.mjs') : join(here, '..', '..', 'demo', 'stubs', 'zonefile.mjs');

interface Token {
  text: string;
}
interface ZoneEntry {
  type: 'record' | 'comment' | 'control';
  owner?: string;
  ttl?: number;
  recordType?: string;
  data?: Token[];
}
type ParseZone = (text: string) => ZoneEntry[];

export interface Rr {
  name: string;
  type: string;
  ttl: number;
  data: unknown;
}

export interface DemoNetwork {
  resolver: { host: string; port: number };
  authoritative: { host: string; port: number };
  /** The simulated TLD's server (the parents of the demo zones, with their DS records). */
  parent: { zones: string[]; host: string; port: number };
  /** config dnssec.servers: each simulated parent → its server (NS records cannot carry a port). */
  dnssecServers: Record<string, string[]>;
  /** Policy port → listener port on 127.0.0.1. */
  smtp: Record<25 | 465 | 587, number>;
  /** config checks.smtpEndpoints: every demo mail address and policy port → its listener. */
  smtpEndpoints: Record<string, string>;
  close(): Promise<void>;
}

export interface NetworkOptions {
  root: string;
  manifest: DemoManifest;
  host?: string;
  /** Called when a zone file is (re)loaded: the demo prints it, so a publish is visible. */
  onZoneLoad?: (zone: string, serial: number | null) => void;
}

const lc = (n: string): string => n.toLowerCase().replace(/\.$/, '');

// ---------------------------------------------------------------------------------------------
// Zone data

function absolute(name: string, zone: string): string {
  if (name === '@') return zone;
  if (name.endsWith('.')) return lc(name);
  return lc(`${name}.${zone}`);
}

/** One zone-file record as dns-packet wants it; null for types the demo does not serve. */
function toRr(e: ZoneEntry, zone: string): Rr | null {
  const t = (e.data ?? []).map((x) => x.text);
  const name = absolute(e.owner ?? '@', zone);
  const ttl = e.ttl ?? 14400;
  const type = e.recordType ?? '';
  const rr = (data: unknown): Rr => ({ name, type, ttl, data });
  switch (type) {
    case 'A':
    case 'AAAA':
      return net.isIP(t[0] ?? '') ? rr(t[0]) : null;
    case 'NS':
    case 'CNAME':
      return rr(absolute(t[0] ?? '@', zone));
    case 'MX':
      return rr({ preference: Number(t[0]), exchange: t[1] === '.' ? '.' : absolute(t[1] ?? '@', zone) });
    case 'TXT':
      return rr(t);
    case 'SRV':
      return rr({ priority: Number(t[0]), weight: Number(t[1]), port: Number(t[2]), target: absolute(t[3] ?? '@', zone) });
    case 'TLSA':
      return rr({ usage: Number(t[0]), selector: Number(t[1]), matchingType: Number(t[2]), certificate: Buffer.from(t.slice(3).join(''), 'hex') });
    case 'SOA':
      return rr({ mname: absolute(t[0]!, zone), rname: absolute(t[1]!, zone), serial: Number(t[2]), refresh: Number(t[3]), retry: Number(t[4]), expire: Number(t[5]), minimum: Number(t[6]) });
    default:
      return null;
  }
}

/** The root's zone files, parsed again whenever one changes on disk, and the external zones. */
export class ZoneStore {
  private readonly cache = new Map<string, { stamp: string; records: Rr[] }>();
  private readonly external = new Map<string, Rr[]>();
  /** DNSKEY and its RRSIG per signed zone, served at the apex like an inline signer does. */
  private chains: ChainBook | null = null;

  constructor(
    private readonly root: string,
    private readonly parseZone: ParseZone,
    external: DemoManifest['externalZones'],
    private readonly onLoad?: (zone: string, serial: number | null) => void,
  ) {
    for (const [zone, recs] of Object.entries(external)) {
      this.external.set(
        lc(zone),
        recs.map((r) => ({ name: lc(r.name), type: r.type, ttl: r.ttl, data: r.type === 'MX' ? { preference: r.priority ?? 0, exchange: lc(r.content) } : r.type === 'CNAME' ? lc(r.content) : r.content })),
      );
    }
  }

  /** Where the signed zones' DNSKEY sets come from. */
  setChains(book: ChainBook): void {
    this.chains = book;
  }

  /** Zones hosted elsewhere (Cloudflare in the demo story). */
  externalZones(): string[] {
    return [...this.external.keys()];
  }

  private get namedDir(): string {
    return join(this.root, 'var', 'named');
  }

  /** Zones with a file here (the authoritative face serves only these). */
  localZones(): string[] {
    return readdirSync(this.namedDir)
      .filter((f) => f.endsWith('.db'))
      .map((f) => lc(f.slice(0, -3)));
  }

  /** The closest enclosing zone of a name, local first; null when the demo does not know it. */
  zoneOf(name: string, withExternal: boolean): { zone: string; local: boolean } | null {
    const n = lc(name);
    const local = new Set(this.localZones());
    const labels = n.split('.');
    for (let i = 0; i < labels.length; i++) {
      const z = labels.slice(i).join('.');
      if (local.has(z)) return { zone: z, local: true };
      if (withExternal && this.external.has(z)) return { zone: z, local: false };
    }
    return null;
  }

  records(zone: string, local: boolean): Rr[] {
    const signed = this.chains ? chainRecords(this.chains.chain(zone)) : [];
    if (!local) return [...(this.external.get(zone) ?? []), ...signed];
    return [...this.fileRecords(zone), ...signed];
  }

  private fileRecords(zone: string): Rr[] {
    const file = join(this.namedDir, `${zone}.db`);
    let st;
    try {
      st = statSync(file);
    } catch {
      return [];
    }
    const stamp = `${st.mtimeMs}:${st.size}`;
    const hit = this.cache.get(zone);
    if (hit && hit.stamp === stamp) return hit.records;
    let records: Rr[];
    try {
      records = this.parseZone(readFileSync(file, 'utf8'))
        .filter((e) => e.type === 'record')
        .flatMap((e) => toRr(e, zone) ?? []);
    } catch {
      // Half-written or broken: keep serving the last good copy, like a name server whose reload failed.
      return hit?.records ?? [];
    }
    this.cache.set(zone, { stamp, records });
    const soa = records.find((r) => r.type === 'SOA')?.data as { serial?: number } | undefined;
    this.onLoad?.(zone, soa?.serial ?? null);
    return records;
  }
}

/** A zone's DNSKEY set and its signature as records (nothing for an unsigned zone). */
function chainRecords(c: ZoneChain): Rr[] {
  return [
    ...c.dnskey.map((k): Rr => ({ name: c.zone, type: 'DNSKEY', ttl: DNSKEY_TTL, data: { flags: k.flags, algorithm: k.algorithm, key: k.publicKey } })),
    ...c.rrsig.map((s): Rr => ({ name: c.zone, type: 'RRSIG', ttl: DNSKEY_TTL, data: s })),
  ];
}

const parentName = (zone: string): string | null => (zone.includes('.') ? zone.slice(zone.indexOf('.') + 1) : null);
const DS_TTL = 3600;

/**
 * The simulated parents of the demo zones (the `test.` TLD): the apex SOA and NS, a delegation per
 * child and the DS records the registry publishes for it (none for unsigned zones and for the zone
 * whose registrar step is missing; the retired key's for the bogus one).
 */
export class ParentZones {
  private readonly zones = new Map<string, { apex: Rr[]; children: Set<string> }>();

  constructor(
    children: string[],
    private readonly book: ChainBook,
  ) {
    const known = new Set(children);
    for (const child of children) {
      const parent = parentName(child);
      if (!parent || known.has(parent)) continue;
      let p = this.zones.get(parent);
      if (!p) {
        const ns = `a.nic.${parent}`;
        p = {
          apex: [
            { name: parent, type: 'SOA', ttl: 86400, data: { mname: ns, rname: `hostmaster.nic.${parent}`, serial: 2026113001, refresh: 1800, retry: 900, expire: 604800, minimum: 3600 } },
            { name: parent, type: 'NS', ttl: 86400, data: ns },
          ],
          children: new Set(),
        };
        this.zones.set(parent, p);
      }
      p.children.add(child);
    }
  }

  names(): string[] {
    return [...this.zones.keys()];
  }

  /** The parent's answer: its apex, or the DS of a child (DS lives on the parent's side of a cut). */
  answer(qname: string, qtype: string): { rcode: 'NOERROR' | 'NXDOMAIN'; answers: Rr[] } | null {
    const n = lc(qname);
    const apex = this.zones.get(n);
    if (apex) return { rcode: 'NOERROR', answers: apex.apex.filter((r) => r.type === qtype) };
    const p = parentName(n);
    const zone = p ? this.zones.get(p) : undefined;
    if (!zone || qtype !== 'DS') return null;
    if (!zone.children.has(n)) return { rcode: 'NXDOMAIN', answers: [] };
    return { rcode: 'NOERROR', answers: this.book.chain(n).ds.map((d): Rr => ({ name: n, type: 'DS', ttl: DS_TTL, data: d })) };
  }

  /** The parent zone `name` falls in, and whether it is at or below a delegated child. */
  locate(name: string): { parent: string; delegated: boolean } | null {
    const labels = lc(name).split('.');
    for (let i = 1; i < labels.length; i++) {
      const zone = this.zones.get(labels.slice(i).join('.'));
      if (zone) return { parent: labels.slice(i).join('.'), delegated: zone.children.has(labels.slice(i - 1).join('.')) };
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Answers

interface Lookup {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: Rr[];
  /** Zones the answer came from (CNAME chains may cross zones). */
  zones: string[];
}

/** RFC 1034 §4.3.2 in small: exact name, CNAME chain, a one-level wildcard, empty non-terminals. */
function lookup(store: ZoneStore, qname: string, qtype: string, withExternal: boolean): Lookup | null {
  const answers: Rr[] = [];
  const zones: string[] = [];
  let name = lc(qname);
  for (let hop = 0; hop < 8; hop++) {
    const z = store.zoneOf(name, withExternal);
    if (!z) return hop === 0 ? null : { rcode: 'NOERROR', answers, zones };
    zones.push(z.zone);
    const recs = store.records(z.zone, z.local);
    let at = recs.filter((r) => r.name === name);
    const exists = at.length > 0 || recs.some((r) => r.name.endsWith(`.${name}`));
    if (!exists && name !== z.zone) {
      const wild = `*.${name.slice(name.indexOf('.') + 1)}`;
      at = recs.filter((r) => r.name === wild).map((r) => ({ ...r, name }));
    }
    const cname = at.find((r) => r.type === 'CNAME');
    if (cname && qtype !== 'CNAME') {
      answers.push(cname);
      name = String(cname.data);
      continue;
    }
    answers.push(...at.filter((r) => r.type === qtype || (r.type === 'RRSIG' && (r.data as { typeCovered?: string }).typeCovered === qtype)));
    const rcode = at.length > 0 || exists ? 'NOERROR' : 'NXDOMAIN';
    return { rcode, answers, zones };
  }
  return { rcode: 'NOERROR', answers, zones };
}

const RCODE: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

function reply(q: packet.DecodedPacket, o: { rcode: string; answers?: Rr[]; ad?: boolean; aa?: boolean; ra?: boolean }): packet.Packet {
  let flags = (RCODE[o.rcode] ?? 2) | (q.flags ?? 0) & packet.RECURSION_DESIRED;
  if (o.ra) flags |= packet.RECURSION_AVAILABLE;
  if (o.ad) flags |= packet.AUTHENTIC_DATA;
  if (o.aa) flags |= packet.AUTHORITATIVE_ANSWER;
  if (q.flag_cd) flags |= packet.CHECKING_DISABLED;
  return {
    type: 'response',
    id: q.id ?? 0,
    flags,
    questions: q.questions ?? [],
    answers: (o.answers ?? []).map((r) => ({ name: r.name, type: r.type, class: 'IN', ttl: r.ttl, data: r.data }) as packet.Answer),
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] }],
  };
}

/** Names outside the demo world (the remote MX hosts): real-looking, not signed (Google's MX is not). */
const OUTSIDE_A = '198.51.100.25';

export type Face = (q: packet.DecodedPacket) => packet.Packet;

export function authoritativeFace(store: ZoneStore): Face {
  return (q) => {
    const question = q.questions?.[0];
    if (!question) return reply(q, { rcode: 'FORMERR' });
    const z = store.zoneOf(question.name, false);
    if (!z) return reply(q, { rcode: 'REFUSED' });
    const r = lookup(store, question.name, question.type, false);
    if (!r) return reply(q, { rcode: 'REFUSED' });
    // Only the part of a CNAME chain inside this server's zones is ours to answer.
    return reply(q, { rcode: r.rcode, answers: r.answers, aa: true });
  };
}

/** The registry's servers of the simulated TLD: authoritative for it, a referral below a child. */
export function parentFace(parents: ParentZones): Face {
  return (q) => {
    const question = q.questions?.[0];
    if (!question) return reply(q, { rcode: 'FORMERR' });
    const a = parents.answer(question.name, question.type);
    if (a) return reply(q, { rcode: a.rcode, answers: a.answers, aa: true });
    const where = parents.locate(question.name);
    if (!where) return reply(q, { rcode: 'REFUSED' });
    // Below a delegation the child's servers answer; the parent only refers (no AA, no data).
    return reply(q, { rcode: where.delegated ? 'NOERROR' : 'NXDOMAIN', aa: !where.delegated });
  };
}

export function resolverFace(store: ZoneStore, dnssecOf: (zone: string) => ZoneDnssec, parents?: ParentZones): Face {
  return (q) => {
    const question = q.questions?.[0];
    if (!question) return reply(q, { rcode: 'FORMERR', ra: true });
    const qname = lc(question.name);
    if (qname === '' || qname === '.') {
      // The resolver's trust anchor: the root answers securely (the product's self-test asks it).
      const soa: Rr = { name: '.', type: 'SOA', ttl: 86400, data: { mname: 'a.root-servers.net', rname: 'nstld.verisign-grs.com', serial: 2026113000, refresh: 1800, retry: 900, expire: 604800, minimum: 86400 } };
      return reply(q, { rcode: 'NOERROR', answers: question.type === 'SOA' ? [soa] : [], ad: true, ra: true });
    }
    // The parent is signed and validates: its apex and the DS records (or their absence) are secure.
    const fromParent = parents?.answer(qname, question.type);
    if (fromParent) return reply(q, { rcode: fromParent.rcode, answers: fromParent.answers, ad: !q.flag_cd, ra: true });
    const r = lookup(store, qname, question.type, true);
    if (!r) {
      const outside = /(^|\.)google\.com$/.test(qname);
      const answers: Rr[] = outside && question.type === 'A' ? [{ name: qname, type: 'A', ttl: 300, data: OUTSIDE_A }] : [];
      return reply(q, { rcode: outside ? 'NOERROR' : 'NXDOMAIN', answers, ra: true });
    }
    const states = r.zones.map(dnssecOf);
    if (states.includes('bogus') && !q.flag_cd) return reply(q, { rcode: 'SERVFAIL', ra: true });
    const ad = !q.flag_cd && states.every((s) => s === 'signed');
    return reply(q, { rcode: r.rcode, answers: r.answers, ad, ra: true });
  };
}

// ---------------------------------------------------------------------------------------------
// DNS transport: UDP and TCP on one loopback port

async function serveDns(face: Face, host: string): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const answer = (msg: Buffer): Buffer | null => {
    let q: packet.DecodedPacket;
    try {
      q = packet.decode(msg);
    } catch {
      return null;
    }
    try {
      return packet.encode(face(q));
    } catch {
      return packet.encode(reply(q, { rcode: 'SERVFAIL' }));
    }
  };
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const out = answer(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (!out) return void sock.destroy();
        const l = Buffer.alloc(2);
        l.writeUInt16BE(out.length);
        sock.write(Buffer.concat([l, out]));
      }
    });
  });
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((r) => tcp.listen(0, host, () => r()));
    const port = (tcp.address() as net.AddressInfo).port;
    const udp = dgram.createSocket(net.isIP(host) === 6 ? 'udp6' : 'udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, host, () => r(true));
    });
    if (!ok) {
      udp.close();
      await new Promise<void>((r) => tcp.close(() => r()));
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      let out = answer(msg);
      if (!out) return;
      // Over 1232 bytes: truncated, and the client asks again over TCP (the product does).
      if (out.length > 1232) {
        const q = packet.decode(msg);
        out = packet.encode({ ...reply(q, { rcode: 'NOERROR' }), flags: (reply(q, { rcode: 'NOERROR' }).flags ?? 0) | packet.TRUNCATED_RESPONSE });
      }
      udp.send(out, rinfo.port, rinfo.address);
    });
    return {
      port,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => tcp.close(() => r()));
        await new Promise<void>((r) => udp.close(() => r()));
      },
    };
  }
  throw new Error('the demo network could not bind UDP and TCP on one loopback port');
}

// ---------------------------------------------------------------------------------------------
// SMTP

const SNI = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

function splitCombined(text: string): { key: string; cert: string } {
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----\n?/.exec(text)?.[0] ?? '';
  return { key, cert: text.replace(key, '') };
}

/** Exim on cPanel: domain_tls/<sni>/combined, then domain_tls/*.<parent>/combined, then /etc/exim.crt. */
export function eximCertificate(root: string, servername: string | undefined): { key: string; cert: string; source: string } {
  const name = (servername ?? '').toLowerCase().replace(/\.$/, '');
  if (SNI.test(name)) {
    const parent = name.slice(name.indexOf('.') + 1);
    for (const entry of [name, `*.${parent}`]) {
      const file = join(root, 'var/cpanel/ssl/domain_tls', entry, 'combined');
      if (existsSync(file)) return { ...splitCombined(readFileSync(file, 'utf8')), source: `/var/cpanel/ssl/domain_tls/${entry}/combined` };
    }
  }
  return { key: readFileSync(join(root, 'etc/exim.key'), 'utf8'), cert: readFileSync(join(root, 'etc/exim.crt'), 'utf8'), source: '/etc/exim.crt' };
}

function tlsOptions(root: string): tls.TlsOptions {
  const service = eximCertificate(root, undefined);
  return {
    key: service.key,
    cert: service.cert,
    SNICallback: (servername, cb) => {
      try {
        const c = eximCertificate(root, servername);
        cb(null, tls.createSecureContext({ key: c.key, cert: c.cert }));
      } catch (err) {
        cb(err as Error);
      }
    },
  };
}

function smtpSession(sock: net.Socket, root: string, hostname: string, secure: boolean, greet: boolean, open: Set<net.Socket>): void {
  open.add(sock);
  sock.on('close', () => open.delete(sock));
  sock.on('error', () => undefined);
  sock.setTimeout(30_000, () => sock.destroy());
  if (greet) sock.write(`220 ${hostname} ESMTP Exim 4.98 (TLSA Manager demo network) ${new Date().toUTCString()}\r\n`);
  let buf = '';
  const onData = (chunk: Buffer): void => {
    buf += chunk.toString('latin1');
    if (buf.length > 8192) return void sock.destroy();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, '');
      buf = buf.slice(nl + 1);
      const verb = (line.split(' ')[0] ?? '').toUpperCase();
      if (verb === 'EHLO' || verb === 'HELO') {
        const caps = [`${hostname} Hello`, 'SIZE 52428800', '8BITMIME', 'PIPELINING', ...(secure ? ['AUTH PLAIN LOGIN'] : ['STARTTLS']), 'HELP'];
        sock.write(caps.map((l, i) => `250${i === caps.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
      } else if (verb === 'STARTTLS' && !secure) {
        sock.off('data', onData);
        sock.write('220 TLS go ahead\r\n');
        const t = new tls.TLSSocket(sock, { isServer: true, ...tlsOptions(root) });
        smtpSession(t, root, hostname, true, false, open);
        return;
      } else if (verb === 'QUIT') {
        sock.end('221 closing connection\r\n');
        return;
      } else if (verb === 'NOOP' || verb === 'RSET') {
        sock.write('250 OK\r\n');
      } else {
        sock.write('550 5.7.0 the demo network accepts no mail\r\n');
      }
    }
  };
  sock.on('data', onData);
}

async function serveSmtp(root: string, hostname: string, host: string, implicitTls: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  const open = new Set<net.Socket>();
  const server = implicitTls
    ? tls.createServer(tlsOptions(root), (s) => smtpSession(s, root, hostname, true, true, open))
    : net.createServer((s) => smtpSession(s, root, hostname, false, true, open));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------------------------------------

/** Each zone's state in the demo world: the apex domain's `dnssec`; zones without one are signed. */
export function dnssecByZone(manifest: DemoManifest): (zone: string) => ZoneDnssec {
  const byZone = new Map<string, ZoneDnssec>();
  for (const d of manifest.domains) if (d.name === d.zone && d.dnssec) byZone.set(d.zone, d.dnssec);
  return (zone) => byZone.get(zone) ?? 'signed';
}

export async function startDemoNetwork(o: NetworkOptions): Promise<DemoNetwork> {
  const host = o.host ?? '127.0.0.1';
  const { parseZone } = (await import(pathToFileURL(ZONEFILE_MJS).href)) as { parseZone: ParseZone };
  const store = new ZoneStore(o.root, parseZone, o.manifest.externalZones, o.onZoneLoad);
  const dnssecOf = dnssecByZone(o.manifest);
  // Keys are made and chains signed when a zone is first asked about: a big root starts at once.
  const book = new ChainBook(o.root, dnssecOf);
  store.setChains(book);
  const parents = new ParentZones([...store.localZones(), ...store.externalZones()], book);
  const closers: (() => Promise<void>)[] = [];
  try {
    const resolver = await serveDns(resolverFace(store, dnssecOf, parents), host);
    closers.push(resolver.close);
    const authoritative = await serveDns(authoritativeFace(store), host);
    closers.push(authoritative.close);
    const parent = await serveDns(parentFace(parents), host);
    closers.push(parent.close);
    const smtp = {} as Record<25 | 465 | 587, number>;
    for (const port of [25, 465, 587] as const) {
      const s = await serveSmtp(o.root, o.manifest.hostname, host, port === 465);
      closers.push(s.close);
      smtp[port] = s.port;
    }
    const smtpEndpoints: Record<string, string> = {};
    for (const ip of [o.manifest.mainIp, ...o.manifest.extraIps]) for (const port of [25, 465, 587] as const) smtpEndpoints[`${ip}:${port}`] = `${host}:${smtp[port]}`;
    return {
      resolver: { host, port: resolver.port },
      authoritative: { host, port: authoritative.port },
      parent: { zones: parents.names(), host, port: parent.port },
      dnssecServers: Object.fromEntries(parents.names().map((p) => [p, [`${host}:${parent.port}`]])),
      smtp,
      smtpEndpoints,
      close: async () => {
        for (const c of closers.reverse()) await c();
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await c();
    throw err;
  }
}
