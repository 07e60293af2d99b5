/**
 * The policy fetched as a sender fetches it (RFC 8461 §3.3): HTTPS GET of
 * https://mta-sts.<domain>/.well-known/mta-sts.txt, the certificate validated against the WebPKI
 * (the system CA store, or mtaSts.caFile in the lab) and for the name `mta-sts.<domain>`, no
 * redirect followed, a 200 answer of `text/plain`, at most 64 KiB, within a time limit. The
 * name is resolved through the resolver the rest of the product uses.
 */
import https from 'node:https';
import { DnsClient, type Resolver } from '../resolver/stub-client.js';
import { MAX_POLICY_BYTES } from './policy.js';

export interface FetchOptions {
  resolver: Resolver;
  /** PEM of the CAs to trust instead of the system store (lab only). */
  ca?: string;
  timeoutMs?: number;
}

export type FetchResult =
  | { ok: true; body: string; contentType: string; address: string; certificate: { subject: string; issuer: string; notAfter: string } }
  | { ok: false; kind: 'certificate' | 'unreachable' | 'http'; reason: string; address?: string };

/** TLS errors that mean the certificate is not valid for the name (OpenSSL verify codes, Node's name check). */
const CERT_ERROR = /CERT|SELF_SIGNED|VERIFY|ISSUER|ALTNAME|HOSTNAME/;

export function policyUrl(domain: string): string {
  return `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
}

/** The first address of a name through the product's resolver (A, then AAAA), so the fetch sees the DNS a sender sees. */
function lookupVia(resolver: Resolver, timeoutMs: number): { first: (name: string) => Promise<string | null> } {
  const client = new DnsClient(resolver, { timeoutMs: Math.min(timeoutMs, 3000), retries: 1 });
  const first = async (name: string): Promise<string | null> => {
    for (const type of ['A', 'AAAA'] as const) {
      const a = await client.query(name, type);
      const addr = a.status === 'ok' ? a.records.find((r) => typeof r.data === 'string')?.data : undefined;
      if (typeof addr === 'string') return addr;
    }
    return null;
  };
  return { first };
}

export async function fetchPolicy(domain: string, opts: FetchOptions): Promise<FetchResult> {
  const host = `mta-sts.${domain}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const { first } = lookupVia(opts.resolver, timeoutMs);
  let address: string | null;
  try {
    address = await first(host);
  } catch (err) {
    return { ok: false, kind: 'unreachable', reason: `${host} could not be resolved (${(err as Error).message})` };
  }
  if (!address) return { ok: false, kind: 'unreachable', reason: `${host} has no address record` };
  return new Promise<FetchResult>((resolve) => {
    let settled = false;
    const done = (r: FetchResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = https.request({
      host: address,
      port: 443,
      servername: host,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      headers: { Host: host, 'User-Agent': 'tlsa-manager mta-sts', Accept: 'text/plain' },
      // The WebPKI decides (RFC 8461 §3.3): the name is checked against `servername`.
      rejectUnauthorized: true,
      ...(opts.ca ? { ca: opts.ca } : {}),
      agent: false,
    });
    const timer = setTimeout(() => done({ ok: false, kind: 'unreachable', reason: `no answer from ${host} (${address}) within ${timeoutMs} ms`, address: address! }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      done(CERT_ERROR.test(code) ? { ok: false, kind: 'certificate', reason: `the certificate of ${host} is not valid for senders: ${code} (${err.message})`, address: address! } : { ok: false, kind: 'unreachable', reason: `${host} (${address}): ${err.message}`, address: address! });
    });
    req.on('response', (res) => {
      const sock = res.socket as import('node:tls').TLSSocket;
      const peer = sock.getPeerCertificate?.();
      const status = res.statusCode ?? 0;
      const type = String(res.headers['content-type'] ?? '');
      // RFC 8461 §3.3: no redirects; only 200 counts; the media type is text/plain.
      if (status !== 200) return done({ ok: false, kind: 'http', reason: `${policyUrl(domain)} answered HTTP ${status}${status >= 300 && status < 400 ? ' (a redirect, which senders do not follow)' : ''}`, address: address! });
      if (!/^text\/plain\s*(;|$)/i.test(type)) return done({ ok: false, kind: 'http', reason: `${policyUrl(domain)} is served as "${type.slice(0, 60)}", not text/plain`, address: address! });
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_POLICY_BYTES) return done({ ok: false, kind: 'http', reason: `${policyUrl(domain)} is larger than ${MAX_POLICY_BYTES} bytes`, address: address! });
        chunks.push(c);
      });
      res.on('end', () =>
        done({
          ok: true,
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: type,
          address: address!,
          certificate: { subject: peer?.subject?.CN ? String(peer.subject.CN) : '', issuer: peer?.issuer?.CN ? String(peer.issuer.CN) : '', notAfter: peer?.valid_to ? new Date(peer.valid_to).toISOString() : '' },
        }),
      );
      res.on('error', (err) => done({ ok: false, kind: 'unreachable', reason: `${host}: ${err.message}`, address: address! }));
    });
    req.end();
  });
}
