import { expiresSoon } from '../tlsa/expiry.js';
import type { AppContext } from '../context.js';
import { LocalZones } from '../cpanel/local-zones.js';
import { checkName, normalizeName, printable, tlsaOwner } from '../dns/names.js';
import { problem, toProblem } from '../problem.js';
import { parseCertificateDer } from '../tlsa/certificate.js';
import type { TlsaRdata } from '../tlsa/types.js';
import { mapLimit } from '../util/concurrency.js';
import { DnsClient, EDNS_UDP_SIZE, parseResolver, resolverFromResolvConf, type Answer, type MxData, type Resolver, type TlsaData } from '../resolver/stub-client.js';
import { answerSizeProblem, diagnosePort } from './diagnose.js';
import type { HostGate } from './host-gate.js';
import { matchTlsa } from './match.js';
import { probeSmtp } from './smtp-probe.js';
import { uniqueProblems, VERDICTS, worst, type DomainCheck, type MxCheck, type PortCheck, type TlsaAnswerSize, type Verdict } from './verdict.js';

export interface CheckOptions {
  /** Validating resolver "IP[:PORT]"; default config.resolver, then the root's /etc/resolv.conf. */
  resolver?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Ports to probe; default the policy's ports. */
  ports?: number[];
  timeoutMs?: number;
  /** Store results in the state database (default true). */
  save?: boolean;
  /** Per-address connection limits (scheduled checks); none: only `concurrency` bounds the run. */
  hostGate?: HostGate;
}

const IMPLICIT_TLS_PORTS = new Set([465]);

export function resolverFor(ctx: AppContext, override?: string): Resolver {
  const s = override ?? ctx.config.resolver;
  if (s) return parseResolver(s);
  const r = resolverFromResolvConf(ctx.root.readText('/etc/resolv.conf') ?? '');
  if (!r) return parseResolver('127.0.0.1');
  return r;
}

/**
 * DANE validation as a sending MTA does it (RFC 7672): secure MX, secure addresses, TLSA at the
 * CNAME-expanded name then the original, a TLS connection to every address, and matching against
 * the chain the server actually sent. One DnsClient per run: answers are shared between domains.
 */
export async function checkDomains(ctx: AppContext, domains: string[], opts: CheckOptions = {}): Promise<DomainCheck[]> {
  const names = domains.map((d) => normalizeName(d, 'domain'));
  const client = new DnsClient(resolverFor(ctx, opts.resolver), { ...(ctx.config.resolverProbeName ? { probeName: ctx.config.resolverProbeName } : {}) });
  const self = await client.selfTest();
  const save = opts.save !== false;
  if (save) ctx.state().setMeta('resolverSelfTest', JSON.stringify({ ...self, time: new Date(ctx.now()).toISOString() }));
  let done = 0;
  const run: Run = { client, ports: opts.ports ?? ctx.config.policy.ports, timeoutMs: opts.timeoutMs ?? 15_000, now: new Date(ctx.now()), probes: new Map(), ...(opts.hostGate ? { gate: opts.hostGate } : {}), authoritative: authoritativeSizer(ctx), ...(ctx.config.checks.smtpEndpoints ? { endpoints: ctx.config.checks.smtpEndpoints } : {}) };
  const results = await mapLimit(names, opts.concurrency ?? 16, async (domain) => {
    const r = self.validating ? await checkOneDomain(run, domain) : result(domain, run.now, 'resolver-not-validating', self.message);
    opts.onProgress?.(++done, names.length);
    return r;
  });
  if (save) {
    const state = ctx.state();
    for (const r of results) {
      state.saveCheck(r.domain, r.verdict, r, r.time);
      state.logActivity({ actor: 'check', kind: 'check', zone: null, subject: r.domain, detail: `${VERDICTS[r.verdict].label}: ${r.message}`, ok: VERDICTS[r.verdict].severity !== 'error' });
    }
  }
  return results;
}

interface Run {
  client: DnsClient;
  ports: number[];
  timeoutMs: number;
  now: Date;
  /** One probe per address/port/SNI per run: many domains share the hostname MX. */
  probes: Map<string, Promise<Awaited<ReturnType<typeof probeSmtp>>>>;
  gate?: HostGate;
  /** This server's DNS, asked as a resolver asks it (RD off) for owners in zones hosted here. */
  authoritative: AuthoritativeSizer | null;
  /** config checks.smtpEndpoints: "ADDRESS:PORT" → where to connect instead (the demo network). */
  endpoints?: Record<string, string>;
}

function endpointKey(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** "1.2.3.4:25" / "[::1]:25" (the config schema already checked the shape). */
function splitEndpoint(s: string): { address: string; port: number } {
  const colon = s.lastIndexOf(':');
  return { address: s.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(s.slice(colon + 1)) };
}

interface AuthoritativeSizer {
  server: string;
  client: DnsClient;
  zones: LocalZones;
}

/**
 * The answer senders' resolvers receive comes from the authoritative server, with its authority
 * section (NS + RRSIG): hundreds of bytes more than the validating resolver hands on. Measured
 * only for zones whose files are on this server, at `cpanel.authoritative`.
 */
function authoritativeSizer(ctx: AppContext): AuthoritativeSizer | null {
  const server = ctx.config.cpanel.authoritative;
  if (server === false) return null;
  const zones = new LocalZones(ctx.root);
  if (zones.names.size === 0) return null;
  return { server, zones, client: new DnsClient(parseResolver(server), { recursionDesired: false, retries: 0 }) };
}

async function measureAuthoritative(a: AuthoritativeSizer | null, size: TlsaAnswerSize): Promise<TlsaAnswerSize> {
  if (!a || !a.zones.zoneOf(size.owner)) return size;
  const r = await a.client.query(size.owner, 'TLSA');
  if (r.authoritative !== true || r.status !== 'ok') return size;
  return { ...size, authoritative: { server: a.server, bytes: r.size ?? null, truncated: r.truncated === true } };
}


function result(domain: string, now: Date, verdict: Verdict, message: string, rest: Partial<DomainCheck> = {}): DomainCheck {
  return { domain, time: now.toISOString(), verdict, message, fix: VERDICTS[verdict].fix, mxSecure: false, dnssec: { signed: null, ds: null }, mx: [], ...rest };
}

/**
 * One domain's check never stops the others' (issue 21): whatever its DNS holds, a failure is
 * that domain's result, and the run goes on to save every other domain's and deliver alerts.
 */
async function checkOneDomain(run: Run, domain: string): Promise<DomainCheck> {
  try {
    return await checkDomain(run, domain);
  } catch (err) {
    const p = toProblem(err);
    const failed = problem('check-failed', `The check of ${domain} failed: ${p.message}`, { subject: domain, severity: 'error', ...(p.fix ? { fix: p.fix } : {}) });
    return result(domain, run.now, 'dns-error', failed.message, { problems: [failed] });
  }
}

async function checkDomain(run: Run, domain: string): Promise<DomainCheck> {
  const { client, now } = run;
  const mx = await client.security(domain, 'MX');
  if (mx.security === 'bogus') return result(domain, now, 'bogus', `DNSSEC validation fails for the MX records of ${domain}.`);
  if (mx.security === 'indeterminate') return result(domain, now, 'dns-error', `The MX lookup for ${domain} failed: ${mx.answer.error ?? mx.answer.rcode}.`);
  if (mx.answer.status === 'nxdomain') return result(domain, now, 'dns-error', `${domain} does not exist in DNS.`);
  if (mx.security === 'insecure') {
    const dnssec = await zoneSigning(client, domain);
    const verdict: Verdict = dnssec.signed ? 'no-ds' : 'no-dnssec';
    const message = dnssec.signed
      ? `${domain} is signed but its parent zone has no DS record for it, so its answers cannot be validated.`
      : `The zone of ${domain} is not signed with DNSSEC, so senders ignore TLSA records.`;
    return result(domain, now, verdict, message, { dnssec });
  }

  let targets = (mx.answer.records.map((r) => r.data) as MxData[]).sort((a, b) => a.preference - b.preference);
  // No MX: the domain itself is the host; checkMx expands an alias like any MX target (RFC 7672 §2.2.2).
  if (mx.answer.status === 'nodata') targets = [{ preference: 0, exchange: domain }];
  if (targets.length === 1 && targets[0]!.exchange === '') return result(domain, now, 'valid', `${domain} accepts no mail (null MX); nothing to protect.`, { mxSecure: true, dnssec: { signed: true, ds: true } });

  const hosts = await Promise.all(targets.map((t) => checkMx(run, t)));
  const verdict = worst(hosts.map((h) => h.verdict));
  const bad = hosts.find((h) => h.verdict === verdict) ?? hosts[0];
  const message = verdict === 'valid' ? `All ${hosts.length} MX host(s) of ${domain} authenticate with DANE.` : bad!.message;
  const problems = uniqueProblems(hosts.flatMap((h) => h.problems ?? []));
  // The fix of the cause behind the worst port, when one is named, beats the verdict's general fix.
  const cause = bad?.ports.find((p) => p.verdict === verdict)?.problems?.find((x) => x.severity === 'error') ?? (bad?.ports.length === 0 ? bad.problems?.find((x) => x.severity === 'error') : undefined);
  return result(domain, now, verdict, message, { mxSecure: true, dnssec: { signed: true, ds: true }, mx: hosts, ...(cause?.fix ? { fix: cause.fix } : {}), ...(problems.length > 0 ? { problems } : {}) });
}

/** Signed (DNSKEY at the name) and delegated securely (DS at the parent)? Asked with CD so a broken chain still answers. */
async function zoneSigning(client: DnsClient, zone: string): Promise<{ signed: boolean; ds: boolean }> {
  const [dnskey, ds] = await Promise.all([client.query(zone, 'DNSKEY', { checkingDisabled: true }), client.query(zone, 'DS', { checkingDisabled: true })]);
  return { signed: dnskey.status === 'ok' && dnskey.records.length > 0, ds: ds.status === 'ok' && ds.records.length > 0 };
}

async function checkMx(run: Run, target: MxData): Promise<MxCheck> {
  const { client } = run;
  const host = target.exchange;
  // An MX target that is no host name (mx_1.example): senders cannot use it, and its A/TLSA names
  // cannot be asked for. The scan's rule and code (src/cpanel/scan.ts), for this MX host only.
  const name = checkName(host);
  if (!name.ok) {
    const message = `The MX record points at "${printable(host)}", which is not a valid host name (${name.reason}): senders cannot deliver to it.`;
    const invalid = problem('mx-invalid', message, { subject: printable(host), severity: 'error', fix: 'Point the MX record at a valid host name (letters, digits and hyphens), e.g. the server\'s hostname.' });
    return { host: printable(host), preference: target.preference, expandedHost: printable(host), addressesSecure: false, addresses: [], tlsaOwner: null, tlsaSecure: false, tlsa: [], ports: [], verdict: 'dns-error', message, problems: [invalid] };
  }
  const [a, aaaa] = await Promise.all([client.security(host, 'A'), client.security(host, 'AAAA')]);
  const expandedHost = a.answer.cnameChain.at(-1) ?? host;
  const addresses = [...a.answer.records, ...aaaa.answer.records].map((r) => String(r.data));
  const base: MxCheck = { host, preference: target.preference, expandedHost, addressesSecure: false, addresses, tlsaOwner: null, tlsaSecure: false, tlsa: [], ports: [], verdict: 'valid', message: '' };
  const lookups = [a, aaaa];
  if (lookups.some((l) => l.security === 'bogus')) return { ...base, verdict: 'bogus', message: `DNSSEC validation fails for the addresses of ${host}.` };
  if (addresses.length === 0) return { ...base, verdict: 'dns-error', message: `${host} has no A or AAAA records.` };
  const secure = lookups.every((l) => l.security === 'secure' || (l.answer.status === 'nodata' && l.answer.secure));
  if (!secure) return { ...base, verdict: 'insecure-mx', message: `The address records of ${host} are not DNSSEC-secure, so senders do not use DANE for it.` };
  base.addressesSecure = true;

  const ports: PortCheck[] = [];
  const tlsaAnswers: TlsaAnswerSize[] = [];
  for (const port of run.ports) {
    const tlsa = await tlsaFor(client, port, host, expandedHost);
    if (tlsa.bogus) {
      ports.push(...addresses.map((address) => ({ port, address, verdict: 'bogus' as const, message: `DNSSEC validation fails for the TLSA records at ${tlsa.owner}.` })));
      continue;
    }
    if (port === run.ports[0]) {
      base.tlsaOwner = tlsa.owner;
      base.tlsaSecure = tlsa.secure;
      base.tlsa = tlsa.records;
    }
    if (tlsa.records.length === 0 || !tlsa.secure) {
      ports.push(...addresses.map((address) => ({ port, address, verdict: 'no-tlsa' as const, message: `No ${tlsa.secure ? '' : 'secure '}TLSA records at ${tlsaOwner(port, host)}: senders use TLS without authentication.` })));
      continue;
    }
    tlsaAnswers.push(await measureAuthoritative(run.authoritative, tlsa.size));
    // RFC 7672 §8.1: SNI is the TLSA base domain; names are checked against it and the MX host.
    for (const address of addresses) ports.push(await checkEndpoint(run, tlsa.base, [...new Set([tlsa.base, host])], address, port, tlsa.records, tlsa.owner));
  }
  const verdict = worst(ports.map((p) => p.verdict));
  const bad = ports.find((p) => p.verdict === verdict);
  const message = verdict === 'valid' ? `${host} authenticates on ${[...new Set(ports.map((p) => p.port))].join(', ')} at ${addresses.join(', ')}.` : bad?.message ?? '';
  const sizeProblems = tlsaAnswers.flatMap((s) => answerSizeProblem(s, EDNS_UDP_SIZE) ?? []);
  const problems = uniqueProblems([...sizeProblems, ...ports.flatMap((p) => p.problems ?? [])]);
  return { ...base, ports, verdict, message, tlsaAnswers, ...(problems.length > 0 ? { problems } : {}) };
}

/** RFC 7672 §2.2.2: TLSA at the CNAME-expanded name first; if that is not secure, at the original name. */
interface TlsaLookup {
  owner: string;
  base: string;
  records: TlsaRdata[];
  secure: boolean;
  bogus: boolean;
  size: TlsaAnswerSize;
}

async function tlsaFor(client: DnsClient, port: number, host: string, expanded: string): Promise<TlsaLookup> {
  const names = expanded !== host ? [expanded, host] : [host];
  const owner0 = tlsaOwner(port, host);
  let last: TlsaLookup = { owner: owner0, base: host, records: [], secure: false, bogus: false, size: { owner: owner0, port, records: 0, bytes: null, truncated: false } };
  for (const name of names) {
    const owner = tlsaOwner(port, name);
    const r = await client.security(owner, 'TLSA');
    const records = tlsaRecords(r.answer);
    const size: TlsaAnswerSize = { owner, port, records: records.length, bytes: r.answer.size ?? null, truncated: r.answer.truncated === true };
    if (r.security === 'bogus') return { owner, base: name, records: [], secure: false, bogus: true, size };
    last = { owner, base: name, records, secure: r.security === 'secure', bogus: false, size };
    if (last.secure && records.length > 0) return last;
  }
  return last;
}

function tlsaRecords(a: Answer): TlsaRdata[] {
  return a.records.filter((r) => r.type === 'TLSA').map((r) => {
    const t = r.data as TlsaData;
    return { usage: t.usage, selector: t.selector, matchingType: t.matchingType, data: t.data } as TlsaRdata;
  });
}

async function checkEndpoint(run: Run, host: string, hostnames: string[], address: string, port: number, records: TlsaRdata[], owner: string): Promise<PortCheck> {
  const key = `${address}|${port}|${host}`;
  let probe = run.probes.get(key);
  if (!probe) {
    const to = run.endpoints?.[endpointKey(address, port)];
    const target = to ? splitEndpoint(to) : { address, port };
    const connect = () => probeSmtp({ address: target.address, port: target.port, servername: host, implicitTls: IMPLICIT_TLS_PORTS.has(port), timeoutMs: run.timeoutMs });
    probe = run.gate ? run.gate.run(address, connect) : connect();
    run.probes.set(key, probe);
  }
  const p = await probe;
  const at = `${host} [${address}]:${port}`;
  if (!p.ok) {
    if (p.starttlsOffered === false) return { port, address, verdict: 'no-starttls', message: `${at} does not offer STARTTLS although TLSA records exist: DANE senders will not deliver.` };
    return { port, address, verdict: 'unreachable', message: `${at}: ${p.error ?? 'no answer'}.` };
  }
  const m = matchTlsa(records, p.chain, { hostnames, now: run.now });
  const leaf = safeLeaf(p.chain[0]);
  const problems = diagnosePort(m, p.chain, { host, at, owner });
  const presented = {
    ...(leaf ? { presentedSpkiSha256: leaf.spkiSha256, presentedSubject: leaf.subject, presentedNotAfter: leaf.notAfter.toISOString() } : {}),
    ...(problems.length > 0 ? { problems } : {}),
  };
  if (!m.matched) {
    if (m.usable.length === 0) return { port, address, verdict: 'tlsa-unusable', message: `None of the TLSA records for ${host} is usable for SMTP (${m.reasons[0] ?? 'PKIX usages'}).`, ...presented };
    // A named cause says more than "no match": it is the message, and its fix travels with it.
    const cause = problems.find((x) => x.severity === 'error');
    return { port, address, verdict: 'tlsa-mismatch', message: cause?.message ?? `No TLSA record for ${host} matches the certificate presented at ${at}${leaf ? ` (key ${leaf.spkiSha256.slice(0, 16)}…)` : ''}.`, ...presented };
  }
  const match = m.match!;
  if (leaf && leaf.notAfter < run.now) {
    // Only a DANE-EE record can still match an expired leaf (RFC 7672 §3.1.3): say who still delivers.
    return { port, address, verdict: 'expired', matched: match, message: `${at} matches "${match.record.usage} ${match.record.selector} ${match.record.matchingType}", but its certificate expired on ${leaf.notAfter.toISOString().slice(0, 10)}: DANE senders still deliver, senders that verify certificates (MTA-STS) refuse it.`, ...presented };
  }
  if (leaf && expiresSoon(leaf.notAfter, run.now)) {
    return { port, address, verdict: 'expiring', matched: match, message: `${at} validates, but its certificate expires on ${leaf.notAfter.toISOString().slice(0, 10)}.`, ...presented };
  }
  return { port, address, verdict: 'valid', matched: match, message: `${at} matches "${match.record.usage} ${match.record.selector} ${match.record.matchingType}" at depth ${match.depth}.`, ...presented };
}

function safeLeaf(der: Buffer | undefined) {
  if (!der) return null;
  try {
    return parseCertificateDer(der);
  } catch {
    return null;
  }
}
