import Cloudflare, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  InternalServerError,
  PermissionDeniedError,
  RateLimitError,
} from 'cloudflare';
import { problem, ProblemError, type Problem } from '../../problem.js';
import { redactSecret } from '../../util/redact.js';
import { canonicalName, isSubdomainOf, printable } from '../../dns/names.js';
import type { ApplyResult, Change, DnsProvider, PublishedRecord } from '../contract.js';
import type { ProviderDnssec, VerifyResult } from '../types.js';
import { isManagedTxt, kindAtOwner, managedTxt, quoteTxt, txtRecordFault } from '../../dns/records.js';
import { RequestBudget, sharedBudgetFor, type RequestBudgetOptions } from './rate-limit.js';
import { tlsaRdataFault, type MatchingType, type Selector, type Usage } from '../../tlsa/types.js';

/**
 * Cloudflare through the official SDK. Reads list TLSA records per owner (or per zone when that
 * costs fewer requests); writes go out as one batch call per ≤ 200 changes, which Cloudflare runs
 * as a single transaction. Every HTTP request — SDK retries included — passes through a custom
 * `fetch` that takes a slot from the token's request budget first. API failures come back as
 * Problems; the token never appears in a message or a log line.
 */

/** Written into the `comment` of every record we create so later runs can tell ours apart. */
export const MANAGED_MARKER = 'managed by tlsa-manager';

/** Free plans accept at most 200 record changes per batch call. */
/** Above this many unknown zones, prepare() lists all zones instead of looking each one up. */
const ZONE_LISTING_THRESHOLD = 5;

export const BATCH_LIMIT = 200;
const PER_PAGE = 100;

/** The parts of a pino logger this module uses (pino's Logger satisfies it). */
export interface ProviderLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface CloudflareProviderOptions {
  apiToken: string;
  /** API base including `/client/v4`; default `CLOUDFLARE_BASE_URL`, else the SDK's default. */
  baseURL?: string;
  logger?: ProviderLogger;
  /** A budget shared by the whole run, or limits for a private one. Default: shared per token, 1,200/5 min. */
  requestBudget?: RequestBudget | Pick<RequestBudgetOptions, 'max' | 'windowMs'>;
  /** SDK retries for 408/409/429/5xx/connection errors (backoff 0.5 s × 2^n, Retry-After obeyed). */
  maxRetries?: number;
  /** Per-HTTP-request timeout, counted from when the budget let the request go. */
  requestTimeoutMs?: number;
}

export type PermissionState = 'ok' | 'denied' | 'unknown';

export interface TokenCheck {
  ok: boolean;
  tokenActive: PermissionState;
  zoneRead: PermissionState;
  dnsRead: PermissionState;
  dnsEdit: PermissionState;
  /** Zones the token can see (first page only; a count for the settings page). */
  zonesVisible: number;
  /** What works and what is missing, in words. */
  summary: string;
  problems: Problem[];
}

/** The fields of Cloudflare's DNSSEC object this project reads (SDK v7 `dns.dnssec`). */
export interface CloudflareDnssec {
  status?: string | null;
  ds?: string | null;
  digest?: string | null;
  digest_type?: string | null;
  algorithm?: string | null;
  key_tag?: number | null;
  flags?: number | null;
  public_key?: string | null;
}

type Op = 'read' | 'write' | 'lookup' | 'verify';

interface CfRecord {
  id?: string;
  name?: string;
  type?: string;
  ttl?: number;
  content?: string;
  comment?: string | null;
  data?: { usage?: number; selector?: number; matching_type?: number; certificate?: string };
}

export class CloudflareProvider implements DnsProvider {
  readonly kind = 'cloudflare';
  private readonly client: Cloudflare;
  private readonly budget: RequestBudget;
  private readonly logger: ProviderLogger | undefined;
  private readonly token: string;
  private readonly baseURL: string;
  private readonly zoneIds = new Map<string, string>();
  /** HTTP requests this instance sent (retries included). */
  requests = 0;
  /** Signing through Cloudflare (set by the provider module: src/dnssec/cloudflare-signer.ts). */
  signer?: ProviderDnssec;

  constructor(opts: CloudflareProviderOptions) {
    if (typeof opts.apiToken !== 'string' || opts.apiToken.trim() === '') {
      throw new ProblemError(problem('cloudflare-no-token', 'No Cloudflare API token is configured.', { fix: 'Enter a Cloudflare API token with Zone:Zone:Read and Zone:DNS:Edit in the settings.' }));
    }
    this.token = opts.apiToken;
    this.logger = opts.logger;
    const rb = opts.requestBudget;
    this.budget = rb instanceof RequestBudget ? rb : rb ? new RequestBudget(rb) : sharedBudgetFor(opts.apiToken);
    this.baseURL = opts.baseURL ?? process.env.CLOUDFLARE_BASE_URL ?? 'https://api.cloudflare.com/client/v4';
    const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.client = new Cloudflare({
      apiToken: opts.apiToken,
      baseURL: this.baseURL,
      maxRetries: opts.maxRetries ?? 3,
      // The SDK's own timer starts before our fetch waits for the budget, and a long queue can
      // wait longer than any window; so the SDK timer is only a far backstop (below setTimeout's
      // 2^31 ms limit) and the real per-request timeout starts in budgetedFetch once the
      // request is allowed to go.
      timeout: 24 * 3600_000,
      fetch: (url, init) => this.budgetedFetch(url, init, requestTimeoutMs),
      logLevel: 'off',
    });
  }

  /** The zone's managed records (TLSA, TLSRPT and MTA-STS TXT) at the given owners. Throws ProblemError when the API fails. */
  async populate(zone: string, owners: string[]): Promise<PublishedRecord[]> {
    if (owners.length === 0) return [];
    try {
      const zoneId = await this.zoneId(zone);
      const wanted = new Set(owners.map(canonicalName));
      const out: PublishedRecord[] = [];
      // Each kind lives at its own owners and is listed by its own type; one listing of the zone's
      // records of a type is cheaper than one per owner once there are two.
      for (const type of ['TLSA', 'TXT'] as const) {
        const at = [...wanted].filter((o) => (kindAtOwner(o) !== 'TLSA') === (type === 'TXT'));
        if (at.length === 0) continue;
        const raw = at.length === 1 ? await this.listRecords(zoneId, type, { exact: at[0]! }) : await this.listRecords(zoneId, type, {});
        for (const r of raw) {
          const rec = toPublished(r);
          if (rec && wanted.has(rec.owner)) out.push(rec);
        }
      }
      return out;
    } catch (err) {
      throw new ProblemError(this.problemFor(err, zone, 'read'), { cause: err });
    }
  }

  async apply(zone: string, changes: Change[]): Promise<ApplyResult> {
    const result: ApplyResult = { zone, provider: this.kind, applied: [] };
    if (changes.length === 0) return result;
    const invalid = validateChanges(zone, changes);
    if (invalid) return { ...result, problem: invalid };
    const before = this.requests;
    // Across batch calls, creates go before deletes: if a later call fails, the zone holds
    // both old and new records rather than neither.
    const ordered = [...changes.filter((c) => c.kind === 'create'), ...changes.filter((c) => c.kind === 'delete')];
    let batches = 0;
    try {
      const zoneId = await this.zoneId(zone);
      for (let i = 0; i < ordered.length; i += BATCH_LIMIT) {
        const chunk = ordered.slice(i, i + BATCH_LIMIT);
        await this.client.dns.records.batch({ zone_id: zoneId, ...batchBody(chunk) });
        batches++;
        result.applied.push(...chunk);
        this.logger?.info({ zone, creates: chunk.filter((c) => c.kind === 'create').length, deletes: chunk.filter((c) => c.kind === 'delete').length }, 'cloudflare batch applied');
      }
    } catch (err) {
      const p = this.problemFor(err, zone, 'write');
      if (result.applied.length > 0) {
        p.message += ` ${result.applied.length} of ${changes.length} change(s) had already been applied in earlier batch calls.`;
      }
      result.problem = p;
      this.logger?.warn({ zone, code: p.code }, p.message);
    }
    result.details = { apiCalls: this.requests - before, batches };
    return result;
  }

  /** DNSSEC state of a zone as Cloudflare reports it (`active`, `pending`, `disabled`, …). */
  async dnssecStatus(zone: string): Promise<string> {
    try {
      const zoneId = await this.zoneId(zone);
      const d = await this.client.dns.dnssec.get({ zone_id: zoneId });
      return String(d.status ?? 'unknown');
    } catch (err) {
      throw new ProblemError(this.problemFor(err, zone, 'read'), { cause: err });
    }
  }

  /** The zone's DNSSEC object (GET /zones/:id/dnssec): status and, once signing, the DS. */
  async dnssec(zone: string): Promise<CloudflareDnssec> {
    return this.dnssecCall(zone, 'read', (zone_id) => this.client.dns.dnssec.get({ zone_id }));
  }

  /** PATCH /zones/:id/dnssec: `active` starts signing (status goes pending → active), `disabled` stops it. */
  async dnssecEdit(zone: string, status: 'active' | 'disabled'): Promise<CloudflareDnssec> {
    return this.dnssecCall(zone, 'write', (zone_id) => this.client.dns.dnssec.edit({ zone_id, status }));
  }

  /** DELETE /zones/:id/dnssec: stops signing and removes the keys. */
  async dnssecDelete(zone: string): Promise<void> {
    await this.dnssecCall(zone, 'write', (zone_id) => this.client.dns.dnssec.delete({ zone_id }));
  }

  private async dnssecCall<T>(zone: string, op: Op, fn: (zoneId: string) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.zoneId(zone));
    } catch (err) {
      throw new ProblemError(this.problemFor(err, zone, op), { cause: err });
    }
  }

  /** The Test button: is the token active, and may it read and edit `zone`'s DNS? */
  verify(zone?: string): Promise<VerifyResult> {
    return this.verifyToken(zone);
  }

  /**
   * What the token can do, for the settings page's "test" button. Reads are tried directly; edit
   * permission is probed with an empty batch call, which changes nothing when it is allowed.
   */
  async verifyToken(zone?: string): Promise<TokenCheck> {
    const check: TokenCheck = { ok: false, tokenActive: 'unknown', zoneRead: 'unknown', dnsRead: 'unknown', dnsEdit: 'unknown', zonesVisible: 0, summary: '', problems: [] };
    const state = (err: unknown, op: Op, subject?: string): PermissionState => {
      if (err instanceof AuthenticationError || err instanceof PermissionDeniedError) {
        check.problems.push(this.problemFor(err, subject ?? 'the Cloudflare account', op));
        return 'denied';
      }
      check.problems.push(this.problemFor(err, subject ?? 'the Cloudflare account', op));
      return 'unknown';
    };
    try {
      const v = await this.client.user.tokens.verify();
      check.tokenActive = v.status === 'active' ? 'ok' : 'denied';
      if (check.tokenActive === 'denied') check.problems.push(problem('cloudflare-token-inactive', `The Cloudflare API token is ${printable(String(v.status))}.`, { fix: 'Activate the token in the Cloudflare dashboard or create a new one.' }));
    } catch (err) {
      check.tokenActive = state(err, 'verify');
    }
    let zoneId: string | undefined;
    let zoneName = zone;
    if (check.tokenActive !== 'denied') {
      try {
        const page = await this.client.zones.list(zone ? { name: zone, per_page: 50 } : { per_page: 50 });
        check.zoneRead = 'ok';
        check.zonesVisible = page.result.length;
        const first = page.result[0];
        if (first) {
          zoneId = first.id;
          zoneName = first.name;
        } else if (zone) {
          check.problems.push(this.zoneNotFound(zone));
        }
      } catch (err) {
        check.zoneRead = state(err, 'lookup', zone);
      }
    }
    if (zoneId && zoneName) {
      try {
        await this.client.dns.records.list({ zone_id: zoneId, type: 'TLSA', per_page: 5 });
        check.dnsRead = 'ok';
      } catch (err) {
        check.dnsRead = state(err, 'read', zoneName);
      }
      try {
        await this.client.dns.records.batch({ zone_id: zoneId });
        check.dnsEdit = 'ok';
      } catch (err) {
        check.dnsEdit = state(err, 'write', zoneName);
      }
    }
    check.ok = check.tokenActive === 'ok' && check.zoneRead === 'ok' && check.dnsRead === 'ok' && check.dnsEdit === 'ok';
    check.summary = summarise(check, zoneName);
    return check;
  }

  /**
   * With more than a few zones to read, one paginated listing of every zone the token sees (50 a
   * page) costs far fewer of the 1,200 requests per 5 minutes than one lookup per zone.
   */
  async prepare(zones: string[]): Promise<void> {
    const missing = zones.map(canonicalName).filter((z) => !this.zoneIds.has(z));
    if (missing.length <= ZONE_LISTING_THRESHOLD) return;
    for (let page = 1; ; page++) {
      const res = await this.client.zones.list({ per_page: 50, page });
      for (const z of res.result) this.zoneIds.set(z.name.toLowerCase(), z.id);
      const totalPages = (res.result_info as { total_pages?: unknown } | undefined)?.total_pages;
      if (res.result.length < 50 || (typeof totalPages === 'number' && page >= totalPages)) break;
    }
  }

  // ---- internals -------------------------------------------------------------------------

  private async zoneId(input: string): Promise<string> {
    const zone = canonicalName(input);
    const cached = this.zoneIds.get(zone);
    if (cached) return cached;
    const page = await this.client.zones.list({ name: zone, per_page: 5 });
    const found = page.result.find((z) => z.name.toLowerCase() === zone);
    if (!found) throw new ProblemError(this.zoneNotFound(zone));
    this.zoneIds.set(zone, found.id);
    return found.id;
  }

  private zoneNotFound(zone: string): Problem {
    return problem('cloudflare-zone-not-found', `Cloudflare has no zone ${printable(zone)} that this API token can see.`, {
      subject: zone,
      fix: `Add ${printable(zone)} to the Cloudflare account, or give the token access to it (Zone:Zone:Read and Zone:DNS:Edit for this zone); if the zone is not on Cloudflare, change its provider in the settings.`,
      severity: 'error',
    });
  }

  /** All records of a type in the zone (optionally at one exact name), page by page. */
  private async listRecords(zoneId: string, type: 'TLSA' | 'TXT', filter: { exact?: string }): Promise<CfRecord[]> {
    const out: CfRecord[] = [];
    for (let page = 1; ; page++) {
      const res = await this.client.dns.records.list({
        zone_id: zoneId,
        type,
        ...(filter.exact ? { name: { exact: filter.exact } } : {}),
        per_page: PER_PAGE,
        page,
      });
      const items = res.result as unknown as CfRecord[];
      out.push(...items);
      // The SDK's iterator would fetch one extra (empty) page; result_info lets us stop early,
      // which matters under a 1,200-requests budget.
      const totalPages = (res.result_info as { total_pages?: unknown } | undefined)?.total_pages;
      if (items.length < PER_PAGE || (typeof totalPages === 'number' && page >= totalPages)) break;
    }
    return out;
  }

  private async budgetedFetch(url: string | URL | Request, init: RequestInit | undefined, timeoutMs: number): Promise<Response> {
    await this.budget.acquire();
    this.requests++;
    const signals = [AbortSignal.timeout(timeoutMs), ...(init?.signal ? [init.signal] : [])];
    const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
    const target = typeof url === 'string' ? url : url instanceof URL ? url.href : url.url;
    const method = init?.method ?? 'GET';
    const res = await fetch(url, { ...init, signal });
    if (res.status === 429) {
      // The limit is per token across all clients: hold every request of this run, not just the retry.
      const after = Number.parseFloat(res.headers.get('retry-after') ?? '');
      this.budget.pauseFor(Number.isFinite(after) ? after * 1000 : 1000);
    }
    this.logger?.debug({ method, path: safePath(target), status: res.status }, 'cloudflare request');
    return res;
  }

  private problemFor(err: unknown, subject: string, op: Op): Problem {
    if (err instanceof ProblemError) return err.problem;
    const p = describeError(err, subject, op, this.host());
    p.message = this.redact(p.message);
    if (p.fix) p.fix = this.redact(p.fix);
    return p;
  }

  private host(): string {
    try {
      return new URL(this.baseURL).host;
    } catch {
      return 'the Cloudflare API';
    }
  }

  /** Belt and braces: no text leaving this module may contain the token. */
  private redact(s: string): string {
    return redactSecret(s, this.token);
  }
}

// ---- pure helpers ------------------------------------------------------------------------

/**
 * The character-strings of Cloudflare's TXT `content`: quoted strings (RFC 1035, as the API
 * writes and returns them) or, for records made before Cloudflare quoted, the bare text.
 */
export function txtContent(content: string): string {
  const t = content.trim();
  if (!t.startsWith('"')) return t;
  const parts: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"\s*/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(t)) !== null) {
    parts.push(m[1]!.replace(/\\(.)/g, '$1'));
    at = re.lastIndex;
  }
  return at === t.length ? parts.join('') : t;
}

/** A Cloudflare TLSA record, or a TXT record of a managed kind (TLSRPT, MTA-STS), as a PublishedRecord; else null. */
export function toPublished(r: CfRecord): PublishedRecord | null {
  if (!r.name) return null;
  if (r.type === 'TXT') {
    const text = typeof r.content === 'string' ? txtContent(r.content) : '';
    const txt = managedTxt(canonicalName(r.name), typeof r.ttl === 'number' ? r.ttl : 1, text);
    if (!txt) return null; // any other TXT record is not ours to read
    const rec: PublishedRecord = { ...txt, markedOurs: typeof r.comment === 'string' && r.comment.includes(MANAGED_MARKER) };
    if (r.id) rec.id = r.id;
    return rec;
  }
  if (r.type && r.type !== 'TLSA') return null;
  let usage = r.data?.usage;
  let selector = r.data?.selector;
  let mt = r.data?.matching_type;
  let hex = r.data?.certificate;
  if (hex === undefined && typeof r.content === 'string') {
    // `content` is the read-only presentation "3 1 1 ABCD…" (hex may be split by spaces).
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-fA-F\s]+)$/.exec(r.content);
    if (!m) return null;
    usage = Number(m[1]);
    selector = Number(m[2]);
    mt = Number(m[3]);
    hex = m[4]!.replace(/\s+/g, '');
  }
  if (!inRange(usage, 0, 3) || !inRange(selector, 0, 1) || !inRange(mt, 0, 2) || typeof hex !== 'string' || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  const rec: PublishedRecord = {
    owner: canonicalName(r.name),
    ttl: typeof r.ttl === 'number' ? r.ttl : 1,
    usage: usage as Usage,
    selector: selector as Selector,
    matchingType: mt as MatchingType,
    data: hex.toLowerCase(),
    markedOurs: typeof r.comment === 'string' && r.comment.includes(MANAGED_MARKER),
  };
  if (r.id) rec.id = r.id;
  return rec;
}

function inRange(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** Refuse a change list Cloudflare would reject (or that we could not carry out), before any call. */
export function validateChanges(zone: string, changes: Change[]): Problem | undefined {
  for (const c of changes) {
    const where = `${c.kind} ${printable(c.record.owner)}`;
    const bad = (msg: string, fix: string) => problem('cloudflare-change-invalid', `${where}: ${msg}; nothing was changed in ${zone}.`, { subject: zone, fix, severity: 'error' });
    if (c.zone !== zone) return bad(`the change belongs to zone ${printable(c.zone)}, not ${zone}`, 'This is a bug in the plan; report it.');
    if (!isSubdomainOf(canonicalName(c.record.owner), zone)) return bad(`the owner is not inside ${zone}`, 'This is a bug in the plan; report it.');
    if (c.kind === 'delete') {
      if (!c.existing?.id) return bad('the published record has no Cloudflare id', 'Run the plan again so the records are read from Cloudflare first.');
      continue;
    }
    const { ttl } = c.record;
    if (!Number.isInteger(ttl) || (ttl !== 1 && (ttl < 60 || ttl > 86400))) return bad(`TTL ${ttl} is not accepted by Cloudflare (1 for automatic, or 60 to 86400)`, 'Set policy.ttl in the settings to a value between 60 and 86400.');
    const fault = isManagedTxt(c.record) ? txtRecordFault(c.record) : tlsaRdataFault(c.record);
    if (fault) return bad(`the ${isManagedTxt(c.record) ? `${c.record.kind} TXT record` : 'TLSA data'} is malformed (${printable(fault)})`, 'This is a bug in the record computation; report it.');
  }
  return undefined;
}

/** The batch request body for one chunk: deletes by id, posts written with `data` and our marker. */
export function batchBody(chunk: Change[]) {
  const deletes = chunk.filter((c) => c.kind === 'delete').map((c) => ({ id: c.existing!.id! }));
  const posts = chunk
    .filter((c) => c.kind === 'create')
    .map((c) => {
      const r = c.record;
      const name = canonicalName(r.owner);
      if (isManagedTxt(r)) return { type: 'TXT' as const, name, ttl: r.ttl, content: quoteTxt(r.text), comment: MANAGED_MARKER };
      return { type: 'TLSA' as const, name, ttl: r.ttl, data: { usage: r.usage, selector: r.selector, matching_type: r.matchingType, certificate: r.data.toLowerCase() }, comment: MANAGED_MARKER };
    });
  return { ...(deletes.length ? { deletes } : {}), ...(posts.length ? { posts } : {}) };
}

function apiMessages(err: APIError): string {
  const list = (err.errors ?? []).map((e) => `${e.message ?? ''}${e.code ? ` (code ${e.code})` : ''}`.trim()).filter(Boolean);
  return list.length ? printable(list.join('; '), 300) : `HTTP ${err.status}`;
}

function apiCodes(err: APIError): number[] {
  return (err.errors ?? []).map((e) => Number(e.code)).filter((n) => Number.isFinite(n));
}

/** An SDK error as a Problem an admin can act on. */
export function describeError(err: unknown, subject: string, op: Op, host: string): Problem {
  const base = { subject, severity: 'error' as const };
  if (err instanceof APIConnectionTimeoutError) {
    return problem('cloudflare-timeout', `The Cloudflare API at ${host} did not answer in time (after retries) while working on ${subject}.`, { ...base, fix: 'Check the server\'s outbound HTTPS connectivity and try again later.' });
  }
  if (err instanceof APIConnectionError) {
    return problem('cloudflare-unreachable', `Could not connect to the Cloudflare API at ${host} while working on ${subject}.`, { ...base, fix: 'Check DNS resolution, firewall rules and any proxy for outbound HTTPS from this server, then try again.' });
  }
  if (err instanceof AuthenticationError) {
    return problem('cloudflare-token-invalid', `Cloudflare rejected the API token (${apiMessages(err)}).`, { ...base, fix: 'Enter a valid, active API token in the settings (Zone:Zone:Read and Zone:DNS:Edit).' });
  }
  if (err instanceof PermissionDeniedError) {
    if (op === 'write') {
      return problem('cloudflare-permission', `The Cloudflare API token cannot edit DNS records of ${subject}.`, { ...base, fix: 'Give the token the Zone:DNS:Edit permission for this zone (and Zone:Zone:Read for lookups).' });
    }
    if (op === 'lookup') {
      return problem('cloudflare-permission', `The Cloudflare API token cannot list zones (needed to find ${subject}).`, { ...base, fix: 'Check that the token is valid and active, and give it the Zone:Zone:Read permission (and Zone:DNS:Edit for the zones to manage).' });
    }
    if (op === 'verify') {
      return problem('cloudflare-token-invalid', 'Cloudflare did not accept the API token.', { ...base, fix: 'Enter a valid, active API token in the settings.' });
    }
    return problem('cloudflare-permission', `The Cloudflare API token cannot read DNS records of ${subject}.`, { ...base, fix: 'Give the token the Zone:DNS:Edit permission for this zone (it includes reading), and Zone:Zone:Read.' });
  }
  if (err instanceof RateLimitError) {
    return problem('cloudflare-rate-limited', `Cloudflare kept answering "too many requests" for ${subject}, even after waiting as it asked.`, { ...base, fix: 'Cloudflare allows 1,200 requests per 5 minutes per token, shared by every tool using it; wait five minutes and run again, or give this server its own token.' });
  }
  if (err instanceof InternalServerError) {
    return problem('cloudflare-unavailable', `The Cloudflare API failed with HTTP ${err.status} for ${subject}, also on every retry; nothing was changed by the failed call.`, { ...base, fix: 'Cloudflare is having trouble; try again later (see cloudflarestatus.com).' });
  }
  if (err instanceof APIError) {
    const codes = apiCodes(err);
    if (codes.includes(81058)) {
      return problem('cloudflare-record-exists', `Cloudflare already has one of the records to be created in ${subject} (${apiMessages(err)}); nothing in this batch was changed.`, { ...base, fix: 'Someone changed the zone since it was read; run the plan again.' });
    }
    if (codes.includes(81044)) {
      return problem('cloudflare-record-missing', `A record to be deleted from ${subject} no longer exists on Cloudflare (${apiMessages(err)}); nothing in this batch was changed.`, { ...base, fix: 'Someone changed the zone since it was read; run the plan again.' });
    }
    return problem('cloudflare-rejected', `Cloudflare refused the request for ${subject}: ${apiMessages(err)}.`, { ...base, fix: 'Check the record values and the zone on Cloudflare; if they look right, report this.' });
  }
  const msg = err instanceof Error ? printable(err.message, 200) : 'unknown error';
  return problem('cloudflare-error', `Talking to Cloudflare about ${subject} failed: ${msg}.`, base);
}

function summarise(c: TokenCheck, zone: string | undefined): string {
  if (c.tokenActive === 'denied') return 'The token is not valid or not active.';
  const parts: string[] = [];
  const say = (s: PermissionState, what: string) => parts.push(s === 'ok' ? `${what}: works` : s === 'denied' ? `${what}: missing` : `${what}: could not be checked`);
  say(c.zoneRead, 'Zone:Zone:Read (find zones)');
  say(c.dnsRead, `DNS read${zone ? ` on ${zone}` : ''}`);
  say(c.dnsEdit, `Zone:DNS:Edit${zone ? ` on ${zone}` : ''}`);
  return `${parts.join('; ')}.`;
}

function safePath(u: string): string {
  try {
    const x = new URL(u);
    return x.pathname + x.search;
  } catch {
    return '?';
  }
}
