/**
 * PowerDNS Authoritative through its HTTP API (./http.ts). Reads are one GET of the zone (see
 * readRrsets for why not the per-RRset filters). A zone's changes go out as ONE
 * `PATCH /servers/{id}/zones/{zone}`, which PowerDNS applies in one backend transaction: all or
 * nothing. Each changed RRset is sent with `changetype: REPLACE`, which sets the whole RRset, so
 * the records and comments at that owner and type that we did not create are read in the same
 * run and sent back exactly as PowerDNS returned them. A run with nothing to change sends no PATCH.
 *
 * What we created is named in a comment on the RRset (PowerDNS comments are per RRset, not per
 * record): account `tlsa-manager`, content `managed by tlsa-manager: <id> <id>…`, one id per
 * record (the first 16 hex digits of SHA-256 over the record's managed key), so populate can mark
 * records ours without the state database.
 */
import { createHash } from 'node:crypto';
import { problem, ProblemError, type Problem } from '../../problem.js';
import { canonicalName, isSubdomainOf, printable } from '../../dns/names.js';
import { isManagedTxt, kindAtOwner, managedKey, managedTxt, quoteTxt, rrTypeOf, txtRecordFault, type ManagedRecord } from '../../dns/records.js';
import { tlsaRdataFault, type MatchingType, type Selector, type Usage } from '../../tlsa/types.js';
import type { ApplyResult, Change, DnsProvider, PublishedRecord } from '../contract.js';
import type { ProviderDnssec, ProviderLogger, VerifyResult } from '../types.js';
import { PowerDnsError, PowerDnsHttp } from './http.js';

export const MARKER_ACCOUNT = 'tlsa-manager';
export const MARKER_PREFIX = 'managed by tlsa-manager:';
/** Largest TTL PowerDNS stores (a signed 32-bit column). */
const MAX_TTL = 2_147_483_647;

export interface PdnsRecord {
  content: string;
  disabled: boolean;
}
export interface PdnsComment {
  content: string;
  account: string;
  modified_at?: number;
}
export interface PdnsRrset {
  name: string;
  type: string;
  ttl: number;
  records: PdnsRecord[];
  comments?: PdnsComment[];
}
export interface PdnsRrsetChange {
  name: string;
  type: string;
  changetype: 'REPLACE' | 'DELETE';
  ttl?: number;
  records?: PdnsRecord[];
  comments?: PdnsComment[];
}
interface PdnsZone {
  name?: string;
  dnssec?: boolean;
  rrsets?: PdnsRrset[];
}
/** A cryptokey as GET /zones/{zone}/cryptokeys lists it (never with the private key). */
export interface PdnsCryptokey {
  id: number;
  keytype?: string;
  active?: boolean;
  published?: boolean;
  dnskey?: string;
  ds?: string[];
  algorithm?: string;
  bits?: number;
}

type Op = 'read' | 'write' | 'verify' | 'dnssec';

export interface PowerDnsProviderOptions {
  url: string;
  apiKey: string;
  serverId: string;
  logger?: ProviderLogger;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

export class PowerDnsProvider implements DnsProvider {
  readonly kind = 'powerdns';
  /** Signing through the cryptokeys API (set by the module: src/dnssec/powerdns-signer.ts). */
  signer?: ProviderDnssec;
  readonly http: PowerDnsHttp;
  private readonly serverId: string;
  private readonly logger: ProviderLogger | undefined;

  constructor(opts: PowerDnsProviderOptions) {
    this.http = new PowerDnsHttp({ url: opts.url, apiKey: opts.apiKey, ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.maxResponseBytes ? { maxResponseBytes: opts.maxResponseBytes } : {}) });
    this.serverId = opts.serverId;
    this.logger = opts.logger;
  }

  async populate(zone: string, owners: string[]): Promise<PublishedRecord[]> {
    const z = canonicalName(zone);
    const wanted = [...new Set(owners.map(canonicalName))].filter((o) => isSubdomainOf(o, z));
    if (wanted.length === 0) return [];
    try {
      const { sets } = await this.readRrsets(z, wanted.map((o) => ({ owner: o, type: rrTypeOfOwner(o) })));
      return [...sets.values()].flatMap((s) => (s ? publishedOf(s) : []));
    } catch (err) {
      throw new ProblemError(this.problemFor(err, z, 'read'), { cause: err });
    }
  }

  async apply(zone: string, changes: Change[]): Promise<ApplyResult> {
    const z = canonicalName(zone);
    const result: ApplyResult = { zone, provider: this.kind, applied: [] };
    if (changes.length === 0) return result;
    const invalid = validateChanges(z, changes);
    if (invalid) return { ...result, problem: invalid };
    const before = this.http.requests;
    try {
      const groups = groupChanges(changes);
      const { sets, dnssec } = await this.readRrsets(z, [...groups.values()].map((g) => ({ owner: g.owner, type: g.type })));
      const rrsets = [...groups.entries()].flatMap(([key, g]) => nextRrset(g.owner, g.type, sets.get(key) ?? null, g.changes) ?? []);
      if (rrsets.length > 0) {
        await this.http.call('PATCH', this.zonePath(z), { rrsets });
        this.logger?.info({ zone: z, rrsets: rrsets.length, changes: changes.length }, 'powerdns zone patched');
        // A signed zone's new names need their ordering fields; PowerDNS does this after a PATCH
        // only while default-api-rectify (or API-RECTIFY) is on, which the zone does not show.
        if (dnssec) await this.http.call('PUT', `${this.zonePath(z)}/rectify`).catch((err: unknown) => this.logger?.warn({ zone: z, code: this.problemFor(err, z, 'dnssec').code }, 'powerdns rectify after the change failed; run pdnsutil rectify-zone'));
      }
      result.applied = [...changes];
      result.details = { apiCalls: this.http.requests - before, patches: rrsets.length > 0 ? 1 : 0 };
    } catch (err) {
      result.problem = this.problemFor(err, z, 'write');
      result.details = { apiCalls: this.http.requests - before };
      this.logger?.warn({ zone: z, code: result.problem.code }, result.problem.message);
    }
    return result;
  }

  /** The Test button: does the key open the API, does the server id exist, is the zone there? */
  async verify(zone?: string): Promise<VerifyResult> {
    const problems: Problem[] = [];
    let server = false;
    let found = false;
    try {
      await this.http.call('GET', `/servers/${encodeURIComponent(this.serverId)}`);
      server = true;
    } catch (err) {
      problems.push(this.problemFor(err, `server "${this.serverId}"`, 'verify'));
    }
    if (server && zone) {
      try {
        await this.http.call('GET', `${this.zonePath(canonicalName(zone))}?rrsets=false`);
        found = true;
      } catch (err) {
        problems.push(this.problemFor(err, canonicalName(zone), 'read'));
      }
    }
    const ok = server && (!zone || found);
    const where = `PowerDNS at ${this.http.host} (server "${this.serverId}")`;
    const summary = !server ? `${where}: ${problems[0]?.message ?? 'not usable'}` : zone ? (found ? `${where}: the API key works and zone ${canonicalName(zone)} is there.` : `${where}: the API key works, but zone ${canonicalName(zone)} is not there.`) : `${where}: the API key works.`;
    return { ok, summary, problems };
  }

  // ---- DNSSEC (used by src/dnssec/powerdns-signer.ts) --------------------------------------

  async cryptokeys(zone: string): Promise<PdnsCryptokey[]> {
    return this.dnssecCall(zone, async (z) => {
      const keys = await this.http.call<unknown>('GET', `${this.zonePath(z)}/cryptokeys`);
      return Array.isArray(keys) ? (keys as PdnsCryptokey[]) : [];
    });
  }

  async createCryptokey(zone: string, key: { keytype: 'csk' | 'ksk' | 'zsk'; algorithm: string; bits?: number }): Promise<void> {
    await this.dnssecCall(zone, (z) => this.http.call('POST', `${this.zonePath(z)}/cryptokeys`, { ...key, active: true, published: true }));
  }

  async deleteCryptokey(zone: string, id: number): Promise<void> {
    await this.dnssecCall(zone, (z) => this.http.call('DELETE', `${this.zonePath(z)}/cryptokeys/${encodeURIComponent(String(id))}`));
  }

  /** PUT /zones/{zone}/rectify: the ordering and auth fields signing needs (the SQL backends store them). */
  async rectify(zone: string): Promise<void> {
    await this.dnssecCall(zone, (z) => this.http.call('PUT', `${this.zonePath(z)}/rectify`));
  }

  private async dnssecCall<T>(zone: string, fn: (z: string) => Promise<T>): Promise<T> {
    const z = canonicalName(zone);
    try {
      return await fn(z);
    } catch (err) {
      throw new ProblemError(this.problemFor(err, z, 'dnssec'), { cause: err });
    }
  }

  // ---- internals -------------------------------------------------------------------------

  private zonePath(zone: string): string {
    return `/servers/${encodeURIComponent(this.serverId)}/zones/${encodeURIComponent(`${zone}.`)}`;
  }

  /**
   * The RRset at each owner and type (null where there is none), keyed `owner|type`, from ONE GET
   * of the whole zone. Not the `rrset_name`/`rrset_type` filters: PowerDNS 4.7 leaves disabled
   * records out of a filtered answer, and a REPLACE built from it would delete them. Measured on
   * 4.7.3 (load ~3 on 2 cores): a 10,000-record zone is a 1.27 MB answer in 64-77 ms, a filtered
   * one 5 ms; one whole-zone GET per zone per run is affordable.
   */
  private async readRrsets(zone: string, wanted: { owner: string; type: string }[]): Promise<{ sets: Map<string, PdnsRrset | null>; dnssec: boolean }> {
    const z = await this.http.call<PdnsZone>('GET', this.zonePath(zone));
    const sets = Array.isArray(z?.rrsets) ? z.rrsets : [];
    const byKey = new Map<string, PdnsRrset>();
    for (const s of sets) if (s && typeof s.name === 'string' && typeof s.type === 'string') byKey.set(`${canonicalName(s.name)}|${s.type}`, s);
    const out = new Map<string, PdnsRrset | null>();
    for (const { owner, type } of wanted) {
      const set = byKey.get(`${owner}|${type}`);
      out.set(`${owner}|${type}`, set ? sane(set) : null);
    }
    return { sets: out, dnssec: z?.dnssec === true };
  }

  problemFor(err: unknown, subject: string, op: Op): Problem {
    if (err instanceof ProblemError) return err.problem;
    const p = describeError(err, subject, op, this.http.host, this.serverId);
    p.message = this.http.redact(p.message);
    if (p.fix) p.fix = this.http.redact(p.fix);
    return p;
  }
}

// ---- pure helpers ------------------------------------------------------------------------

function rrTypeOfOwner(owner: string): 'TLSA' | 'TXT' {
  return kindAtOwner(owner) === 'TLSA' ? 'TLSA' : 'TXT';
}

/** An RRset from the API with the fields we rely on checked (a hostile or broken server is not trusted). */
function sane(s: PdnsRrset): PdnsRrset {
  const records = (Array.isArray(s.records) ? s.records : []).filter((r) => typeof r?.content === 'string').map((r) => ({ content: r.content, disabled: r.disabled === true }));
  const comments = (Array.isArray(s.comments) ? s.comments : []).filter((c) => typeof c?.content === 'string').map((c) => ({ content: c.content, account: typeof c.account === 'string' ? c.account : '', ...(typeof c.modified_at === 'number' ? { modified_at: c.modified_at } : {}) }));
  return { name: s.name, type: s.type, ttl: typeof s.ttl === 'number' && Number.isInteger(s.ttl) && s.ttl >= 0 ? s.ttl : 0, records, comments };
}

/** The id our marker comment lists for a record. */
export function ownershipId(r: ManagedRecord): string {
  return createHash('sha256').update(managedKey(r)).digest('hex').slice(0, 16);
}

/** The ids our marker comment on an RRset lists. */
export function markedIds(comments: PdnsComment[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const c of comments ?? []) {
    if (c.account !== MARKER_ACCOUNT || !c.content.startsWith(MARKER_PREFIX)) continue;
    for (const id of c.content.slice(MARKER_PREFIX.length).trim().split(/\s+/)) if (/^[0-9a-f]{16}$/.test(id)) out.add(id);
  }
  return out;
}

/**
 * TXT presentation as PowerDNS writes it (`"a" "b"`, `\"`, `\\`, `\DDD`) → the joined
 * character-strings; null when it is not that form.
 */
export function parseTxt(content: string): string | null {
  const t = content.trim();
  const re = /"((?:[^"\\]|\\.)*)"\s*/gy;
  let out = '';
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    out += m[1]!.replace(/\\(\d{3}|.)/g, (_all, e: string) => (e.length === 3 ? String.fromCharCode(Number(e)) : e));
    at = re.lastIndex;
  }
  return at > 0 && at === t.length ? out : null;
}

/** A record's content as a managed record at `owner`, or null when it is not one we would manage. */
export function managedOf(owner: string, type: string, content: string, ttl: number): ManagedRecord | null {
  if (type === 'TXT') {
    const text = parseTxt(content);
    return text === null ? null : managedTxt(owner, ttl, text);
  }
  if (type !== 'TLSA') return null;
  const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-fA-F\s]+)$/.exec(content);
  if (!m) return null;
  const r = { owner, ttl, usage: Number(m[1]) as Usage, selector: Number(m[2]) as Selector, matchingType: Number(m[3]) as MatchingType, data: m[4]!.replace(/\s+/g, '').toLowerCase() };
  return tlsaRdataFault(r) === null ? r : null;
}

/** The content PowerDNS takes for a managed record. */
export function contentOf(r: ManagedRecord): string {
  return isManagedTxt(r) ? quoteTxt(r.text) : `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toLowerCase()}`;
}

/** The managed records a served RRset holds (disabled records are not served, so not published). */
export function publishedOf(s: PdnsRrset): PublishedRecord[] {
  const owner = canonicalName(s.name);
  const ours = markedIds(s.comments);
  const out: PublishedRecord[] = [];
  for (const r of s.records) {
    if (r.disabled) continue;
    const m = managedOf(owner, s.type, r.content, s.ttl);
    if (m) out.push({ ...m, markedOurs: ours.has(ownershipId(m)) });
  }
  return out;
}

interface Group {
  owner: string;
  type: 'TLSA' | 'TXT';
  changes: Change[];
}

function groupChanges(changes: Change[]): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const c of changes) {
    const owner = canonicalName(c.record.owner);
    const type = rrTypeOf(c.record);
    const key = `${owner}|${type}`;
    const g = out.get(key) ?? { owner, type, changes: [] };
    g.changes.push(c);
    out.set(key, g);
  }
  return out;
}

/**
 * The REPLACE (or DELETE) for one owner and type: the RRset as it is, minus our deletes, plus our
 * creates. Every other record is sent back exactly as PowerDNS returned it (content and disabled
 * flag), every comment but our marker with its author and time. null when nothing would change.
 * The RRset's one TTL (RFC 2181 §5.2) becomes the smallest of the kept records' and our new ones':
 * never longer than ours, so the planner's 2×TTL waits hold, and a shorter foreign TTL is kept.
 */
export function nextRrset(owner: string, type: 'TLSA' | 'TXT', existing: PdnsRrset | null, changes: Change[]): PdnsRrsetChange | null {
  const before = existing?.records ?? [];
  const oursBefore = markedIds(existing?.comments);
  const keyOf = (r: PdnsRecord) => {
    const m = managedOf(owner, type, r.content, existing?.ttl ?? 0);
    return m ? managedKey(m) : null;
  };
  const deletes = new Set(changes.filter((c) => c.kind === 'delete').map((c) => managedKey(c.record)));
  const records: (PdnsRecord & { key: string | null })[] = before.map((r) => ({ ...r, key: keyOf(r) })).filter((r) => !(r.key && !r.disabled && deletes.has(r.key)));
  const keptFromBefore = records.length > 0;
  const ours = new Set<string>();
  for (const r of records) {
    if (!r.key) continue;
    const m = managedOf(owner, type, r.content, 0)!;
    if (oursBefore.has(ownershipId(m))) ours.add(ownershipId(m));
  }
  const ttls = keptFromBefore && existing ? [existing.ttl] : [];
  for (const c of changes) {
    if (c.kind !== 'create') continue;
    const key = managedKey(c.record);
    ttls.push(c.record.ttl);
    ours.add(ownershipId(c.record));
    const same = records.find((r) => r.key === key);
    // A disabled record with this data is the one we want served: switched on, not duplicated.
    if (same) same.disabled = false;
    else records.push({ content: contentOf(c.record), disabled: false, key });
  }
  const foreignComments = (existing?.comments ?? []).filter((c) => !(c.account === MARKER_ACCOUNT && c.content.startsWith(MARKER_PREFIX)));
  const sameRecords = records.length === before.length && records.every((r, i) => r.content === before[i]!.content && r.disabled === before[i]!.disabled);
  const sameOurs = ours.size === oursBefore.size && [...ours].every((id) => oursBefore.has(id));
  const ttl = Math.min(...ttls);
  if (sameRecords && sameOurs && (records.length === 0 || ttl === existing?.ttl)) return null;
  const name = `${owner}.`;
  if (records.length === 0) return { name, type, changetype: 'DELETE' };
  const comments = [...foreignComments, ...(ours.size > 0 ? [{ account: MARKER_ACCOUNT, content: `${MARKER_PREFIX} ${[...ours].sort().join(' ')}` }] : [])];
  return { name, type, changetype: 'REPLACE', ttl, records: records.map(({ content, disabled }) => ({ content, disabled })), comments };
}

/** Refuse a change list PowerDNS would reject (or that we could not carry out), before any call. */
export function validateChanges(zone: string, changes: Change[]): Problem | undefined {
  for (const c of changes) {
    const where = `${c.kind} ${printable(c.record.owner)}`;
    const bad = (msg: string, fix: string) => problem('powerdns-change-invalid', `${where}: ${msg}; nothing was changed in ${zone}.`, { subject: zone, fix, severity: 'error' });
    if (canonicalName(c.zone) !== zone) return bad(`the change belongs to zone ${printable(c.zone)}, not ${zone}`, 'This is a bug in the plan; report it.');
    const owner = canonicalName(c.record.owner);
    if (!isSubdomainOf(owner, zone)) return bad(`the owner is not inside ${zone}`, 'This is a bug in the plan; report it.');
    if (kindAtOwner(owner) !== (isManagedTxt(c.record) ? c.record.kind : 'TLSA')) return bad('the record kind does not belong at this owner', 'This is a bug in the plan; report it.');
    if (c.kind === 'delete') continue;
    const { ttl } = c.record;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) return bad(`TTL ${printable(String(ttl), 20)} is not a whole number of seconds PowerDNS stores`, 'Set policy.ttl in the settings to a value between 60 and 86400.');
    const fault = isManagedTxt(c.record) ? txtRecordFault(c.record) : tlsaRdataFault(c.record);
    if (fault) return bad(`the ${isManagedTxt(c.record) ? `${c.record.kind} TXT record` : 'TLSA data'} is malformed (${printable(fault)})`, 'This is a bug in the record computation; report it.');
  }
  return undefined;
}

/** A transport or API failure as a Problem an admin can act on. */
export function describeError(err: unknown, subject: string, op: Op, host: string, serverId: string): Problem {
  const base = { subject, severity: 'error' as const };
  const nothing = op === 'write' ? ' Nothing was changed.' : '';
  if (err instanceof PowerDnsError) {
    switch (err.failure) {
      case 'timeout':
        return problem('powerdns-timeout', `The PowerDNS API at ${host} did not answer in time while working on ${subject} (${err.message}).${nothing}`, { ...base, fix: 'Check that pdns_server is running and not overloaded, then try again.' });
      case 'unreachable':
        return problem('powerdns-unreachable', `Could not connect to the PowerDNS API at ${host} while working on ${subject} (${err.message}).${nothing}`, { ...base, fix: 'Check the URL in the settings and that pdns.conf has api=yes, webserver=yes, a webserver-address and webserver-port this server can reach, and webserver-allow-from including this server.' });
      case 'too-large':
      case 'bad-json':
        return problem('powerdns-error', `The PowerDNS API at ${host} gave an answer that cannot be used for ${subject}: ${err.message}.${nothing}`, { ...base, fix: 'Check that the URL points at the PowerDNS webserver (not a proxy or another service).' });
      case 'http':
        break;
    }
    const status = err.status ?? 0;
    if (status === 401 || status === 403) {
      return problem('powerdns-key-invalid', `The PowerDNS API at ${host} did not accept the API key (HTTP ${status}).${nothing}`, { ...base, fix: 'Enter the api-key from the PowerDNS server\'s pdns.conf in the settings.' });
    }
    if (status === 404) {
      if (op === 'verify') return problem('powerdns-zone-not-found', `The PowerDNS API at ${host} has no server "${printable(serverId)}".`, { ...base, fix: 'Set the server id in the settings to the one PowerDNS uses (almost always "localhost").' });
      return problem('powerdns-zone-not-found', `PowerDNS at ${host} (server "${printable(serverId)}") has no zone ${subject}.${nothing}`, { ...base, fix: `Create ${subject} on the PowerDNS server (pdnsutil create-zone ${subject}), or choose the provider that serves it for this zone in the settings.` });
    }
    if (status === 400 || status === 422) {
      return problem('powerdns-rejected', `PowerDNS at ${host} refused the request for ${subject}: ${err.message}.${nothing}`, { ...base, fix: 'Check the zone on the PowerDNS server (pdnsutil check-zone); if it is in order, report this.' });
    }
    if (status >= 500) {
      return problem('powerdns-unavailable', `The PowerDNS API at ${host} failed for ${subject}: ${err.message}.${nothing}`, { ...base, fix: 'Look at the PowerDNS server\'s log (backend errors, a full disk), then try again.' });
    }
    return problem('powerdns-error', `The PowerDNS API at ${host} answered ${err.message} for ${subject}.${nothing}`, { ...base, fix: 'Check that the URL points at the PowerDNS webserver.' });
  }
  const msg = err instanceof Error ? printable(err.message, 200) : 'unknown error';
  return problem('powerdns-error', `Talking to PowerDNS about ${subject} failed: ${msg}.${nothing}`, base);
}
