/**
 * The edge that gathers the facts decideChain() needs: the parent zone and its authoritative
 * servers, the DS they publish, the zone's DNSKEY set, and the validating resolver's verdicts.
 * Everything goes through the project's DNS client; per-parent work (NS and addresses) is shared
 * between all zones of one run.
 */
import net from 'node:net';
import { DnsClient, parseResolver, type Answer, type DnskeyData, type DsData, type Resolver } from '../resolver/stub-client.js';
import type { DnskeyRecord, DsRecord } from './keys.js';
import type { ChainFacts, Lookup, Security } from './state.js';

export interface ObserverOptions {
  /** The validating resolver. */
  resolver: Resolver;
  /**
   * Servers to ask instead of a zone's NS addresses, per zone ("ip" or "ip:port"): hidden primaries,
   * or a lab whose name servers listen on a port NS records cannot carry.
   */
  servers?: Record<string, string[]>;
  timeoutMs?: number;
  now?: () => Date;
}

const ok = <T>(value: T): Lookup<T> => ({ ok: true, value });
const fail = <T>(what: string, error: string): Lookup<T> => ({ ok: false, what, error });

function why(a: Answer): string {
  return a.error ?? (a.rcode ? `answered ${a.rcode}` : 'no answer');
}

export class ChainObserver {
  readonly client: DnsClient;
  private readonly servers: Record<string, string[]>;
  private readonly timeoutMs: number;
  private readonly now: () => Date;
  private readonly parents = new Map<string, Promise<Lookup<string>>>();
  private readonly serverLists = new Map<string, Promise<Lookup<Resolver[]>>>();
  private readonly direct = new Map<string, DnsClient>();

  constructor(opts: ObserverOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.client = new DnsClient(opts.resolver, { timeoutMs: this.timeoutMs });
    this.servers = opts.servers ?? {};
    this.now = opts.now ?? (() => new Date());
  }

  async facts(zone: string): Promise<ChainFacts> {
    const now = this.now();
    const parentLookup = await this.parentOf(zone);
    const parent = parentLookup.ok ? parentLookup.value : null;
    const [parentSecurity, parentDs, resolverDs, dnskey, validation] = await Promise.all([
      parentLookup.ok ? this.security(parentLookup.value, `the validating resolver's answer for the parent zone ${parentLookup.value}`) : Promise.resolve(parentLookup as Lookup<Security>),
      parentLookup.ok ? this.dsFromParentServers(zone, parentLookup.value) : Promise.resolve(fail<DsRecord[]>('DS at the parent servers', 'the parent zone is not known')),
      this.resolverDs(zone),
      this.dnskey(zone),
      this.security(zone, `the validating resolver's answer for ${zone}`),
    ]);
    return { zone, parent, now, parentSecurity, parentDs, resolverDs, dnskey, validation };
  }

  /** The closest enclosing zone above `zone`: the first ancestor whose SOA is its own. */
  parentOf(zone: string): Promise<Lookup<string>> {
    const labels = zone.split('.');
    const start = labels.slice(1).join('.') || '.';
    let p = this.parents.get(start);
    if (!p) {
      p = this.findZone(start);
      this.parents.set(start, p);
    }
    return p;
  }

  private async findZone(name: string): Promise<Lookup<string>> {
    for (let n = name; ; n = n.includes('.') ? n.slice(n.indexOf('.') + 1) : '.') {
      if (n === '.') return ok('.');
      const a = await this.client.query(n, 'SOA', { checkingDisabled: true });
      if (a.status === 'ok' && a.records.some((r) => r.name === n)) return ok(n);
      if (a.status === 'nodata' || (a.status === 'ok' && a.cnameChain.length > 0)) continue;
      if (a.status === 'nxdomain') return fail('the parent zone', `${n} does not exist`);
      return fail('the parent zone', `SOA lookup for ${n}: ${why(a)}`);
    }
  }

  private async security(name: string, what: string): Promise<Lookup<Security>> {
    const r = await this.client.security(name, 'SOA');
    if (r.security === 'indeterminate') return fail(what, why(r.answer));
    return ok(r.security);
  }

  private async resolverDs(zone: string): Promise<Lookup<DsRecord[]>> {
    const a = await this.client.query(zone, 'DS', { checkingDisabled: true });
    if (a.status === 'ok' || a.status === 'nodata') return ok(a.records.map((r) => toDs(r.data as DsData)));
    return fail('DS through the resolver', why(a));
  }

  private async dnskey(zone: string): Promise<ChainFacts['dnskey']> {
    const a = await this.client.query(zone, 'DNSKEY', { checkingDisabled: true });
    if (a.status === 'ok' || a.status === 'nodata') {
      const keys = a.records.map((r) => toDnskey(r.data as DnskeyData));
      return ok({ keys, signatures: (a.signatures ?? []).map((s) => ({ keyTag: s.keyTag, algorithm: s.algorithm, inception: s.inception, expiration: s.expiration })) });
    }
    if (a.status === 'nxdomain') return fail(`DNSKEY of ${zone}`, `${zone} does not exist`);
    return fail(`DNSKEY of ${zone}`, why(a));
  }

  /** Ask the parent's own servers, in order, until one answers authoritatively. */
  private async dsFromParentServers(zone: string, parent: string): Promise<Lookup<DsRecord[]>> {
    const what = `DS at the servers of ${parent}`;
    const list = await this.serversOf(parent);
    if (!list.ok) return fail(what, list.error);
    const errors: string[] = [];
    for (const server of list.value) {
      const a = await this.directClient(server).query(zone, 'DS');
      if (a.status === 'ok' || a.status === 'nodata') return ok(a.records.map((r) => toDs(r.data as DsData)));
      if (a.status === 'nxdomain') return ok([]);
      errors.push(`${server.host}:${server.port} ${why(a)}`);
    }
    return fail(what, errors.join(', ') || 'no servers');
  }

  /** The zone's name servers' addresses (or the configured override), once per run. */
  serversOf(zone: string): Promise<Lookup<Resolver[]>> {
    let p = this.serverLists.get(zone);
    if (!p) {
      p = this.lookupServers(zone);
      this.serverLists.set(zone, p);
    }
    return p;
  }

  private async lookupServers(zone: string): Promise<Lookup<Resolver[]>> {
    const configured = this.servers[zone];
    if (configured && configured.length > 0) return ok(configured.map((s) => parseResolver(s)));
    const ns = await this.client.query(zone, 'NS');
    if (ns.status !== 'ok') return fail(`name servers of ${zone}`, `NS lookup: ${why(ns)}`);
    const names = ns.records.map((r) => String(r.data));
    const addrs = await Promise.all(names.flatMap((n) => [this.client.query(n, 'A'), this.client.query(n, 'AAAA')]));
    const out = addrs.flatMap((a) => a.records.map((r) => String(r.data))).filter((ip) => net.isIP(ip) !== 0).map((host) => ({ host, port: 53 }));
    if (out.length === 0) return fail(`name servers of ${zone}`, `no addresses for ${names.join(', ')}`);
    return ok(out);
  }

  private directClient(server: Resolver): DnsClient {
    const key = `${server.host}|${server.port}`;
    let c = this.direct.get(key);
    if (!c) {
      c = new DnsClient(server, { timeoutMs: this.timeoutMs, retries: 1, cache: true });
      this.direct.set(key, c);
    }
    return c;
  }
}

export function toDs(d: DsData): DsRecord {
  return { keyTag: d.keyTag, algorithm: d.algorithm, digestType: d.digestType, digest: d.digest.toLowerCase() };
}
export function toDnskey(d: DnskeyData): DnskeyRecord {
  return { flags: d.flags, protocol: 3, algorithm: d.algorithm, publicKey: d.key };
}
