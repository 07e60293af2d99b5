/**
 * The PowerDNS Authoritative HTTP API's transport: one JSON request with the API key, a timeout,
 * no redirects (a redirect could carry the key to another host) and a bounded response. Failures
 * are PowerDnsError values; the key never appears in one (nor in a log line).
 */
import { printable } from '../../dns/names.js';
import { redactSecret } from '../../util/redact.js';
import type { ProviderLogger } from '../types.js';

export type PowerDnsFailure = 'http' | 'timeout' | 'unreachable' | 'too-large' | 'bad-json';

export class PowerDnsError extends Error {
  constructor(
    readonly failure: PowerDnsFailure,
    message: string,
    /** The HTTP status when the server answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PowerDnsError';
  }
}

export interface PowerDnsHttpOptions {
  /** Base URL of the webserver (`http://127.0.0.1:8081`); `/api/v1` is added here. */
  url: string;
  apiKey: string;
  logger?: ProviderLogger;
  /** Per request, connect to last byte. */
  timeoutMs?: number;
  /** Largest response body read; a zone GET is the largest answer (about 100 bytes a record). */
  maxResponseBytes?: number;
}

export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** `http://h:8081/`, `http://h:8081/api/v1` → `http://h:8081/api/v1`. */
export function apiBase(url: string): string {
  return `${url.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}/api/v1`;
}

export class PowerDnsHttp {
  readonly base: string;
  /** HTTP requests sent by this instance. */
  requests = 0;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly opts: PowerDnsHttpOptions) {
    this.base = apiBase(opts.url);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** host:port of the server, for messages. */
  get host(): string {
    try {
      return new URL(this.base).host;
    } catch {
      return 'the PowerDNS API';
    }
  }

  /** One API call; the parsed JSON body (undefined for 204 and empty bodies). Throws PowerDnsError. */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
    this.requests++;
    const started = Date.now();
    let res: Response;
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { 'X-API-Key': this.opts.apiKey, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'manual',
        signal,
      });
    } catch (err) {
      throw this.transportError(err, signal);
    }
    let text: string;
    try {
      text = await readBounded(res, this.maxBytes);
    } catch (err) {
      throw err instanceof PowerDnsError ? err : this.transportError(err, signal);
    }
    this.opts.logger?.debug({ method, path: pathOnly(path), status: res.status, ms: Date.now() - started }, 'powerdns request');
    if (res.status < 200 || res.status >= 300) {
      throw new PowerDnsError('http', this.redact(errorText(text, res.status)), res.status);
    }
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new PowerDnsError('bad-json', `the answer to ${method} ${pathOnly(path)} is not JSON`);
    }
  }

  private transportError(err: unknown, signal: AbortSignal): PowerDnsError {
    if (signal.aborted) return new PowerDnsError('timeout', `no answer within ${Math.round(this.timeoutMs / 1000)} s`);
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    return new PowerDnsError('unreachable', this.redact(printable(String(why), 120)));
  }

  /** Belt and braces: nothing leaving this module may contain the key. */
  redact(s: string): string {
    return redactSecret(s, this.opts.apiKey);
  }
}

/** The body as text, at most `max` bytes (the rest is not read: the connection is cancelled). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new PowerDnsError('too-large', `the answer is larger than ${max} bytes`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new PowerDnsError('too-large', `the answer is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** PowerDNS answers errors as `{"error": "…"}` (or plain text such as `Unauthorized`). */
function errorText(text: string, status: number): string {
  let msg = text.trim();
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') msg = j.error;
  } catch {
    /* plain text */
  }
  return msg ? `HTTP ${status}: ${printable(msg, 300)}` : `HTTP ${status}`;
}

function pathOnly(p: string): string {
  return p.split('?')[0]!;
}
