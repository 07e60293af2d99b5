import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * A fake Cloudflare API v4 (the parts TLSA Manager uses), served over real HTTP on 127.0.0.1 so
 * the official SDK talks to it exactly as it would to api.cloudflare.com. Behaviour follows
 * /work/shared/reference/dns-providers.md: envelopes, result_info on lists, Bearer tokens,
 * 81058/81044 errors, TLSA written via `data` and presented as upper-case `content`, the batch
 * endpoint as one all-or-nothing transaction (deletes, patches, puts, posts).
 *
 * Test controls: seed zones and records, count requests per route, inject 429/500 answers,
 * a rate-limit mode and latency.
 */

export interface FakeToken {
  /** Zone:Zone:Read — without it GET /zones answers 403. */
  zoneRead?: boolean;
  /** Zone:DNS:Read — without it record reads answer 403. */
  dnsRead?: boolean;
  /** Zone:DNS:Edit — without it record writes answer 403 code 10000. */
  dnsEdit?: boolean;
  /** Restrict the token to these zone names (default: all zones). */
  zones?: string[];
}

export interface FakeRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  data?: Record<string, unknown>;
  ttl: number;
  proxiable: boolean;
  proxied: boolean;
  comment: string | null;
  tags: string[];
  settings: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_on: string;
  modified_on: string;
}

export interface FakeZone {
  id: string;
  name: string;
  status: 'active';
  paused: boolean;
  type: 'full';
  dnssec: { status: 'active' | 'pending' | 'disabled' | 'pending-disabled' | 'error'; ds?: string | null; key?: FakeDnssecKey | null; modified_on?: string };
}

/** The zone's signing key as Cloudflare reports it (one CSK, algorithm 13). */
export interface FakeDnssecKey {
  keyTag: number;
  algorithm: number;
  flags: number;
  publicKey: string;
  /** SHA-256 digest of the DS, hex. */
  digest: string;
}

/**
 * Where the fake's signing happens: a test can make it sign a real zone (a lab BIND) so what the
 * fake reports (key, DS) is what the name servers serve, and tell it whether the parent has the DS
 * (Cloudflare moves pending → active once it sees the DS at the registry).
 */
export interface FakeDnssecSigner {
  sign(zone: string): FakeDnssecKey;
  unsign(zone: string): void;
  dsAtParent(zone: string): boolean;
}

export interface SeedRecord {
  name: string;
  type?: string;
  ttl?: number;
  comment?: string | null;
  /** For TLSA: the four fields; for other types: `content`. */
  data?: { usage: number; selector: number; matching_type: number; certificate: string };
  content?: string;
}

export interface LoggedRequest {
  method: string;
  /** Route pattern, e.g. `GET /zones/:zone_id/dns_records`. */
  route: string;
  path: string;
  query: string;
  status: number;
  /** Whether the request was answered by an injected fault rather than the API logic. */
  injected: boolean;
  at: number;
}

type Envelope = { status: number; body: unknown; headers?: Record<string, string> };

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const AUTH_ERROR = 'Authentication error';
const TLSA_HEX = /^[0-9a-fA-F]+$/;

export class FakeCloudflare {
  private server: Server | null = null;
  private readonly zones = new Map<string, FakeZone>();
  private readonly zoneByName = new Map<string, string>();
  /** zone id → record id → record. */
  private readonly records = new Map<string, Map<string, FakeRecord>>();
  private readonly tokens = new Map<string, FakeToken>();
  readonly log: LoggedRequest[] = [];
  private faults: Array<{ status: number; remaining: number; retryAfter?: string }> = [];
  private rateLimit: { max: number; windowMs: number; retryAfterS: number } | null = null;
  private latencyMs = 0;
  private seq = 0;
  /**
   * Test control (fault matrix): called for each request before it is processed ('before') and
   * after it was processed but before the answer goes out ('after'); may wait, or return 'reset'
   * to drop the connection without an answer.
   */
  gate: ((route: string, when: 'before' | 'after') => Promise<'reset' | void> | 'reset' | void) | null = null;
  /** Request bodies of write calls, for tests that inspect what the client sent. */
  readonly bodies: Array<{ route: string; body: unknown }> = [];

  /** Base URL to give the SDK (includes the `/client/v4` prefix). */
  url = '';

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/client/v4`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  // ---- seeding -------------------------------------------------------------------------------

  addToken(token: string, perms: FakeToken = {}): void {
    this.tokens.set(token, { zoneRead: true, dnsRead: true, dnsEdit: true, ...perms });
  }

  addZone(name: string, opts: { dnssec?: FakeZone['dnssec']['status'] } = {}): FakeZone {
    const existing = this.zoneByName.get(name);
    if (existing) return this.zones.get(existing)!;
    const zone: FakeZone = { id: this.newId(), name, status: 'active', paused: false, type: 'full', dnssec: { status: opts.dnssec ?? 'active', ds: null } };
    this.zones.set(zone.id, zone);
    this.zoneByName.set(name, zone.id);
    this.records.set(zone.id, new Map());
    return zone;
  }

  /** Seed a record directly (no request is counted). Throws on invalid input like the API would. */
  addRecord(zoneName: string, seed: SeedRecord): FakeRecord {
    const zone = this.zoneNamed(zoneName);
    const rec = this.buildRecord(zone, { type: 'TLSA', ttl: 3600, ...seed });
    this.records.get(zone.id)!.set(rec.id, rec);
    return rec;
  }

  zoneNamed(name: string): FakeZone {
    const id = this.zoneByName.get(name);
    if (!id) throw new Error(`fake: no zone ${name}`);
    return this.zones.get(id)!;
  }

  /** Current records of a zone (copies), optionally only one type. */
  recordsOf(zoneName: string, type?: string): FakeRecord[] {
    const zone = this.zoneNamed(zoneName);
    return [...this.records.get(zone.id)!.values()].filter((r) => !type || r.type === type).map((r) => structuredClone(r));
  }

  setDnssec(zoneName: string, status: FakeZone['dnssec']['status']): void {
    this.zoneNamed(zoneName).dnssec.status = status;
  }

  /** Make DNSSEC changes act on real name servers (see FakeDnssecSigner). */
  dnssecSigner: FakeDnssecSigner | null = null;

  private setSigning(zone: FakeZone, on: boolean): void {
    zone.dnssec.modified_on = new Date().toISOString();
    if (on) {
      const key = this.dnssecSigner?.sign(zone.name) ?? { keyTag: 2371, algorithm: 13, flags: 257, publicKey: 'mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==', digest: '1f8188263a7d4e10b1bb1e5f1a3df7d7a1f2b2d9c3e4f5a6b7c8d9e0f1a2b3c4' };
      zone.dnssec.key = key;
      zone.dnssec.ds = `${zone.name}. 3600 IN DS ${key.keyTag} ${key.algorithm} 2 ${key.digest.toUpperCase()}`;
    } else {
      if (zone.dnssec.key) this.dnssecSigner?.unsign(zone.name);
      zone.dnssec.key = null;
      zone.dnssec.ds = null;
    }
  }

  /** pending → active once the DS is at the parent; pending-disabled → disabled once it is gone. */
  private advanceDnssec(zone: FakeZone): void {
    if (!this.dnssecSigner) return;
    const st = zone.dnssec.status;
    if (st === 'pending' && this.dnssecSigner.dsAtParent(zone.name)) zone.dnssec.status = 'active';
    if (st === 'pending-disabled' && !this.dnssecSigner.dsAtParent(zone.name)) {
      this.setSigning(zone, false);
      zone.dnssec.status = 'disabled';
    }
  }

  // ---- faults --------------------------------------------------------------------------------

  /** The next `n` requests answer `status` (429 carries `Retry-After`, default 1 second). */
  failNext(n: number, status: number, retryAfter = '1'): void {
    this.faults.push(status === 429 ? { status, remaining: n, retryAfter } : { status, remaining: n });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** More than `max` requests within `windowMs` → 429 (with Retry-After) until the window frees up. */
  setRateLimit(limit: { max: number; windowMs: number; retryAfterS?: number } | null): void {
    this.rateLimit = limit ? { retryAfterS: 1, ...limit } : null;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  // ---- counting ------------------------------------------------------------------------------

  resetLog(): void {
    this.log.length = 0;
    this.bodies.length = 0;
  }

  /** Requests per `METHOD /route`, e.g. `{ 'GET /zones': 1 }`. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.log) out[r.route] = (out[r.route] ?? 0) + 1;
    return out;
  }

  count(route: string): number {
    return this.log.filter((r) => r.route === route).length;
  }

  /** Requests that would change data (anything but GET), whether or not they succeeded. */
  writeCount(): number {
    return this.log.filter((r) => r.method !== 'GET').length;
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const { route, params } = matchRoute(method, url.pathname);
    const entry: LoggedRequest = { method, route, path: url.pathname, query: url.search, status: 0, injected: false, at: Date.now() };
    this.log.push(entry);
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if ((await this.gate?.(route, 'before')) === 'reset') return void req.socket.destroy();

    let out: Envelope;
    const injected = this.injectedFault(entry.at);
    if (injected) {
      entry.injected = true;
      out = injected;
    } else {
      try {
        const body = raw.length > 0 ? parseJson(raw) : undefined;
        if (method !== 'GET' && body !== undefined) this.bodies.push({ route, body });
        out = this.dispatch(method, route, params, url.searchParams, body, bearer(req));
      } catch (e) {
        out = e instanceof ApiError ? failure(e.status, [{ code: e.code, message: e.message }]) : failure(500, [{ code: 10001, message: 'Internal server error' }]);
      }
    }
    entry.status = out.status;
    if ((await this.gate?.(route, 'after')) === 'reset') return void req.socket.destroy();
    const text = JSON.stringify(out.body);
    res.writeHead(out.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...(out.headers ?? {}) });
    res.end(text);
  }

  private injectedFault(now: number): Envelope | null {
    const f = this.faults[0];
    if (f) {
      if (--f.remaining <= 0) this.faults.shift();
      if (f.status === 429) return { ...failure(429, [{ code: 971, message: 'Please wait and consider throttling your request speed' }]), headers: { 'Retry-After': f.retryAfter ?? '1' } };
      return failure(f.status, [{ code: 10001, message: 'Service temporarily unavailable' }]);
    }
    if (this.rateLimit) {
      const { max, windowMs, retryAfterS } = this.rateLimit;
      const recent = this.log.filter((r) => r.at > now - windowMs && !r.injected).length;
      // The request being handled is already in the log; it counts as one of the recent ones.
      if (recent > max) return { ...failure(429, [{ code: 971, message: 'Please wait and consider throttling your request speed' }]), headers: { 'Retry-After': String(retryAfterS) } };
    }
    return null;
  }

  private dispatch(method: string, route: string, p: Record<string, string>, q: URLSearchParams, body: unknown, token: string | null): Envelope {
    if (route === 'unknown') throw new ApiError(404, 7003, 'Could not route to the requested path, perhaps your object identifier is invalid?');
    if (route === 'GET /user/tokens/verify') {
      if (!token || !this.tokens.has(token)) throw new ApiError(401, 1000, 'Invalid API Token');
      return ok({ id: 'tok-' + token.length, status: 'active' });
    }
    const perms = token ? this.tokens.get(token) : undefined;
    if (!perms) throw new ApiError(403, 10000, AUTH_ERROR);

    if (route === 'GET /zones') {
      if (!perms.zoneRead) throw new ApiError(403, 10000, AUTH_ERROR);
      const name = q.get('name');
      const zones = [...this.zones.values()].filter((z) => this.tokenSeesZone(perms, z) && (name === null || z.name === name.toLowerCase()));
      return paged(zones.map(zoneView), q, 20, 50);
    }

    const zone = this.zones.get(p.zone_id ?? '');
    if (!zone || !this.tokenSeesZone(perms, zone)) {
      // Cloudflare does not reveal whether a zone the token cannot see exists.
      if (!zone && this.tokenHasAllZones(perms)) throw new ApiError(404, 7003, 'Could not route to the requested path, perhaps your object identifier is invalid?');
      throw new ApiError(403, 10000, AUTH_ERROR);
    }
    const isWrite = method !== 'GET';
    if (route === 'GET /zones/:zone_id/dnssec') {
      if (!perms.zoneRead && !perms.dnsRead) throw new ApiError(403, 10000, AUTH_ERROR);
      this.advanceDnssec(zone);
      return ok(dnssecView(zone));
    }
    if (route === 'PATCH /zones/:zone_id/dnssec' || route === 'DELETE /zones/:zone_id/dnssec') {
      // Cloudflare: DNSSEC settings need a token that may edit the zone's DNS.
      if (!perms.dnsEdit) throw new ApiError(403, 10000, AUTH_ERROR);
      if (route === 'DELETE /zones/:zone_id/dnssec') {
        this.setSigning(zone, false);
        zone.dnssec.status = 'disabled';
        return ok('');
      }
      const status = (body as { status?: unknown } | undefined)?.status;
      if (status !== 'active' && status !== 'disabled') throw new ApiError(400, 1007, 'Invalid value for status: must be active or disabled');
      if (status === 'active' && zone.dnssec.status !== 'active' && zone.dnssec.status !== 'pending') {
        this.setSigning(zone, true);
        zone.dnssec.status = 'pending';
      } else if (status === 'disabled' && zone.dnssec.status !== 'disabled') {
        // Signing stops only once the registrar no longer publishes the DS.
        zone.dnssec.status = 'pending-disabled';
      }
      this.advanceDnssec(zone);
      return ok(dnssecView(zone));
    }
    if (isWrite ? !perms.dnsEdit : !perms.dnsRead && !perms.dnsEdit) throw new ApiError(403, 10000, AUTH_ERROR);

    const store = this.records.get(zone.id)!;
    switch (route) {
      case 'GET /zones/:zone_id/dns_records':
        return paged(filterRecords([...store.values()], q, zone.name), q, 100, 5_000_000);
      case 'GET /zones/:zone_id/dns_records/:id': {
        const r = store.get(p.id!);
        if (!r) throw new ApiError(404, 81044, 'Record does not exist.');
        return ok(r);
      }
      case 'POST /zones/:zone_id/dns_records': {
        const next = new Map(store);
        const r = this.post(zone, next, body);
        this.records.set(zone.id, next);
        return ok(r);
      }
      case 'DELETE /zones/:zone_id/dns_records/:id': {
        if (!store.delete(p.id!)) throw new ApiError(404, 81044, 'Record does not exist.');
        return ok({ id: p.id });
      }
      case 'PATCH /zones/:zone_id/dns_records/:id':
      case 'PUT /zones/:zone_id/dns_records/:id': {
        const next = new Map(store);
        const r = this.replace(zone, next, { ...asObject(body), id: p.id }, method === 'PATCH');
        this.records.set(zone.id, next);
        return ok(r);
      }
      case 'POST /zones/:zone_id/dns_records/batch':
        return ok(this.batch(zone, asObject(body)));
      default:
        throw new ApiError(405, 10405, 'Method not allowed for this route');
    }
  }

  /** All or nothing: work on a copy, install it only when every operation succeeded. */
  private batch(zone: FakeZone, body: Record<string, unknown>) {
    const next = new Map(this.records.get(zone.id)!);
    const result = { deletes: [] as FakeRecord[], patches: [] as FakeRecord[], puts: [] as FakeRecord[], posts: [] as FakeRecord[] };
    const list = (k: string): unknown[] => {
      const v = body[k];
      if (v === undefined) return [];
      if (!Array.isArray(v)) throw new ApiError(400, 1004, `${k} must be an array`);
      return v;
    };
    const at = (k: string, i: number, fn: () => FakeRecord) => {
      try {
        return fn();
      } catch (e) {
        if (e instanceof ApiError) throw new ApiError(e.status === 404 ? 400 : e.status, e.code, `${k}[${i}]: ${e.message}`);
        throw e;
      }
    };
    list('deletes').forEach((d, i) =>
      result.deletes.push(
        at('deletes', i, () => {
          const id = String(asObject(d).id ?? '');
          const r = next.get(id);
          if (!r) throw new ApiError(400, 81044, 'Record does not exist.');
          next.delete(id);
          return r;
        }),
      ),
    );
    list('patches').forEach((x, i) => result.patches.push(at('patches', i, () => this.replace(zone, next, asObject(x), true))));
    list('puts').forEach((x, i) => result.puts.push(at('puts', i, () => this.replace(zone, next, asObject(x), false))));
    list('posts').forEach((x, i) => result.posts.push(at('posts', i, () => this.post(zone, next, x))));
    this.records.set(zone.id, next);
    return result;
  }

  private post(zone: FakeZone, store: Map<string, FakeRecord>, body: unknown): FakeRecord {
    const rec = this.buildRecord(zone, asObject(body) as unknown as SeedRecord);
    assertNoDuplicate(store, rec);
    store.set(rec.id, rec);
    return rec;
  }

  private replace(zone: FakeZone, store: Map<string, FakeRecord>, body: Record<string, unknown>, patch: boolean): FakeRecord {
    const id = String(body.id ?? '');
    const old = store.get(id);
    if (!old) throw new ApiError(404, 81044, 'Record does not exist.');
    const merged = patch ? { name: old.name, type: old.type, ttl: old.ttl, comment: old.comment, data: old.data, content: old.data ? undefined : old.content, ...body } : body;
    const rec = { ...this.buildRecord(zone, merged as unknown as SeedRecord), id, created_on: old.created_on };
    store.delete(id);
    assertNoDuplicate(store, rec);
    store.set(id, rec);
    return rec;
  }

  private buildRecord(zone: FakeZone, input: SeedRecord): FakeRecord {
    const type = String(input.type ?? '').toUpperCase();
    if (!type) throw new ApiError(400, 9000, 'DNS record type is invalid.');
    const name = absoluteName(String(input.name ?? ''), zone.name);
    if (!name) throw new ApiError(400, 9005, 'DNS name is invalid.');
    if (name !== zone.name && !name.endsWith(`.${zone.name}`)) throw new ApiError(400, 1004, `DNS Validation Error: ${name} is not in zone ${zone.name}.`);
    const ttl = input.ttl ?? 1;
    if (!Number.isInteger(ttl) || (ttl !== 1 && (ttl < 60 || ttl > 86400))) throw new ApiError(400, 9021, 'Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.');
    const comment = input.comment ?? null;
    if (comment !== null && (typeof comment !== 'string' || comment.length > 100)) throw new ApiError(400, 9101, 'DNS record comment is invalid (at most 100 characters).');
    let content: string;
    let data: Record<string, unknown> | undefined;
    if (type === 'TLSA') {
      const d = input.data as Record<string, unknown> | undefined;
      if (!d) throw new ApiError(400, 1004, 'DNS Validation Error: TLSA records must be written with data (usage, selector, matching_type, certificate).');
      const usage = d.usage, selector = d.selector, mt = d.matching_type, cert = d.certificate;
      if (!isIntIn(usage, 0, 3) || !isIntIn(selector, 0, 1) || !isIntIn(mt, 0, 2)) throw new ApiError(400, 1004, 'DNS Validation Error: TLSA usage, selector or matching type out of range.');
      if (typeof cert !== 'string' || !TLSA_HEX.test(cert) || cert.length % 2 !== 0) throw new ApiError(400, 1004, 'DNS Validation Error: TLSA certificate data must be hexadecimal.');
      const want = mt === 1 ? 64 : mt === 2 ? 128 : 0;
      if (want && cert.length !== want) throw new ApiError(400, 1004, `DNS Validation Error: TLSA matching type ${mt} needs ${want} hex digits.`);
      const upper = cert.toUpperCase();
      data = { usage, selector, matching_type: mt, certificate: upper };
      content = `${usage} ${selector} ${mt} ${upper}`;
    } else {
      if (typeof input.content !== 'string' || input.content === '') throw new ApiError(400, 9005, 'Content for the record is invalid.');
      content = input.content;
      // TXT content is quoted character-strings (RFC 1035); Cloudflare quotes bare text itself.
      if (type === 'TXT' && !content.startsWith('"')) content = `"${content.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    }
    const now = new Date().toISOString();
    return {
      id: this.newId(),
      zone_id: zone.id,
      zone_name: zone.name,
      name,
      type,
      content,
      ...(data ? { data } : {}),
      ttl,
      proxiable: false,
      proxied: false,
      comment,
      tags: [],
      settings: {},
      meta: {},
      created_on: now,
      modified_on: now,
    };
  }

  private tokenHasAllZones(t: FakeToken): boolean {
    return !t.zones;
  }

  private tokenSeesZone(t: FakeToken, z: FakeZone): boolean {
    return !t.zones || t.zones.includes(z.name);
  }

  private newId(): string {
    this.seq++;
    return randomBytes(12).toString('hex') + this.seq.toString(16).padStart(8, '0');
  }
}

// ---- helpers -------------------------------------------------------------------------------

const ROUTES: Array<[string, RegExp, string[]]> = [
  ['/user/tokens/verify', /^\/client\/v4\/user\/tokens\/verify$/, []],
  ['/zones', /^\/client\/v4\/zones$/, []],
  ['/zones/:zone_id/dnssec', /^\/client\/v4\/zones\/([^/]+)\/dnssec$/, ['zone_id']],
  ['/zones/:zone_id/dns_records/batch', /^\/client\/v4\/zones\/([^/]+)\/dns_records\/batch$/, ['zone_id']],
  ['/zones/:zone_id/dns_records', /^\/client\/v4\/zones\/([^/]+)\/dns_records$/, ['zone_id']],
  ['/zones/:zone_id/dns_records/:id', /^\/client\/v4\/zones\/([^/]+)\/dns_records\/([^/]+)$/, ['zone_id', 'id']],
];

function matchRoute(method: string, pathname: string): { route: string; params: Record<string, string> } {
  for (const [pattern, re, names] of ROUTES) {
    const m = re.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
    return { route: `${method} ${pattern}`, params };
  }
  return { route: 'unknown', params: {} };
}

function filterRecords(all: FakeRecord[], q: URLSearchParams, zoneName: string): FakeRecord[] {
  const type = q.get('type');
  const exact = q.get('name.exact') ?? q.get('name');
  const contains = q.get('name.contains');
  const starts = q.get('name.startswith');
  const ends = q.get('name.endswith');
  const norm = (s: string) => absoluteName(s, zoneName);
  return all
    .filter(
      (r) =>
        (!type || r.type === type.toUpperCase()) &&
        (exact === null || r.name === norm(exact)) &&
        (contains === null || r.name.includes(contains.toLowerCase())) &&
        (starts === null || r.name.startsWith(starts.toLowerCase())) &&
        (ends === null || r.name.endsWith(ends.toLowerCase())),
    )
    .sort((a, b) => (a.type === b.type ? (a.name === b.name ? a.content.localeCompare(b.content) : a.name.localeCompare(b.name)) : a.type.localeCompare(b.type)));
}

function paged<T>(items: T[], q: URLSearchParams, defaultPerPage: number, maxPerPage: number): Envelope {
  const page = Math.max(1, Number.parseInt(q.get('page') ?? '1', 10) || 1);
  const requested = Number.parseInt(q.get('per_page') ?? String(defaultPerPage), 10) || defaultPerPage;
  if (requested < 1 || requested > maxPerPage) throw new ApiError(400, 1001, `per_page must be between 1 and ${maxPerPage}`);
  const slice = items.slice((page - 1) * requested, page * requested);
  return {
    status: 200,
    body: {
      success: true,
      errors: [],
      messages: [],
      result: slice,
      result_info: { page, per_page: requested, count: slice.length, total_count: items.length, total_pages: Math.ceil(items.length / requested) },
    },
  };
}

/** Cloudflare's DNSSEC object (GET/PATCH /zones/:zone_id/dnssec), fields as documented. */
function dnssecView(z: FakeZone) {
  const k = z.dnssec.key ?? null;
  return {
    status: z.dnssec.status,
    algorithm: k ? String(k.algorithm) : null,
    digest: k ? k.digest.toUpperCase() : null,
    digest_algorithm: k ? 'SHA256' : null,
    digest_type: k ? '2' : null,
    ds: z.dnssec.ds ?? null,
    flags: k ? k.flags : null,
    key_tag: k ? k.keyTag : null,
    key_type: k ? 'ECDSAP256SHA256' : null,
    public_key: k ? k.publicKey : null,
    modified_on: z.dnssec.modified_on ?? null,
    dnssec_multi_signer: false,
    dnssec_presigned: false,
    dnssec_use_nsec3: false,
  };
}

function zoneView(z: FakeZone) {
  return { id: z.id, name: z.name, status: z.status, paused: z.paused, type: z.type, name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'] };
}

function ok(result: unknown): Envelope {
  return { status: 200, body: { success: true, errors: [], messages: [], result } };
}

function failure(status: number, errors: Array<{ code: number; message: string }>): Envelope {
  return { status, body: { success: false, errors, messages: [], result: null } };
}

function assertNoDuplicate(store: Map<string, FakeRecord>, rec: FakeRecord): void {
  for (const r of store.values()) {
    if (r.type === rec.type && r.name === rec.name && r.content.toUpperCase() === rec.content.toUpperCase()) {
      throw new ApiError(400, 81058, 'An identical record already exists.');
    }
  }
}

function absoluteName(name: string, zone: string): string {
  let n = name.trim().toLowerCase();
  if (n.endsWith('.')) n = n.slice(0, -1);
  if (n === '' ) return '';
  if (n === '@') return zone;
  return n === zone || n.endsWith(`.${zone}`) ? n : `${n}.${zone}`;
}

function isIntIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function asObject(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 1004, 'Request body must be a JSON object');
  return v as Record<string, unknown>;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(400, 6007, 'Malformed JSON in request body');
  }
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  const m = h ? /^Bearer (\S+)$/.exec(h) : null;
  return m ? m[1]! : null;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Convenience for tests and benchmarks: a started fake with one full-permission token. */
export async function startFakeCloudflare(opts: { token?: string } = {}): Promise<{ fake: FakeCloudflare; url: string; token: string }> {
  const fake = new FakeCloudflare();
  const token = opts.token ?? `cf-test-${randomBytes(16).toString('hex')}`;
  fake.addToken(token);
  const url = await fake.start();
  return { fake, url, token };
}
