import { checkName, printable } from '../dns/names.js';
import { addressesAt, cnameTarget, mxTargets } from '../zonefile/index.js';
import { problem, type Problem, isProblem, toProblem } from '../problem.js';
import { lintRecord } from '../tlsa/lint.js';
import type { Certificate } from '../tlsa/certificate.js';
import { certificateCoversHost, findIssuer } from '../tlsa/certificate.js';
import { domainOwners, readAccounts, readAddressFiles, readHostname, readMailRouting, type DomainOwner } from './accounts.js';
import { CertificateReader, type ServedCertificate } from './exim-sni.js';
import { nextKeyFor, type NextKey } from './key-preference.js';
import { LocalZones } from './local-zones.js';
import { WhmApi } from './whmapi.js';
import type { ServerRoot } from '../util/server-root.js';
import { mapLimit } from '../util/concurrency.js';

/** Lookups for names whose zone is not on this server (a validating resolver, when configured). */
export interface ExternalDns {
  mx(domain: string): Promise<{ preference: number; host: string }[] | null>;
  addresses(host: string): Promise<string[] | null>;
}

export interface MxHost {
  host: string;
  preference: number;
  /** Implicit MX (RFC 5321 §5.1): the domain has no MX record. */
  implicit?: boolean;
  pointsHere: boolean;
  /** Why we think so, in words. */
  why: string;
  addresses: string[];
}

export interface DomainReport {
  domain: string;
  owner: string;
  kind?: string;
  mail: 'local' | 'remote' | 'unknown';
  /** The zone holding the domain's records, when it is on this server. */
  zone: string | null;
  /** The domain's own name is a CNAME: its mail goes where this name's MX says (RFC 5321 §5.1). */
  cname?: string;
  mx: MxHost[];
  problems: Problem[];
  /**
   * Set when the domain's zone is on this server but refused (TLSA Manager cannot read it
   * exactly, so it will not edit it): why, and the MX hosts of the domain served here as far as
   * the readable part of the zone shows (null: cannot tell).
   */
  refused?: { zone: string; problem: Problem; mxHere: string[] | null };
}

export interface CertificateSummary {
  source: string;
  rule: ServedCertificate['rule'];
  subject: string;
  issuer: string;
  names: string[];
  notBefore: string;
  notAfter: string;
  keyAlgorithm: string;
  sha256: string;
  spkiSha256: string;
  issuerSpkiSha256: string | null;
}

/** One MX host served by this server: the unit TLSA records are published for. */
export interface Endpoint {
  host: string;
  /** Customer domains whose MX points at this host. */
  domains: string[];
  served: ServedCertificate | null;
  problems: Problem[];
  /**
   * The key AutoSSL will make for this host's next certificate (the preference of the account
   * owning the name the certificate was installed for); absent for the service certificate and
   * names no account owns.
   */
  nextKey?: NextKey;
}

export interface ScanResult {
  hostname: string | null;
  addresses: string[];
  domains: DomainReport[];
  endpoints: Endpoint[];
  problems: Problem[];
  localZones: Set<string>;
}

export interface ScanOptions {
  now?: Date;
  externalDns?: ExternalDns;
  /** Extra addresses of this server (from `whmapi1 listips` or the machine's interfaces). */
  extraAddresses?: string[];
  /** Limit the scan to these domains (hooks, "check selected"). */
  onlyDomains?: Set<string>;
  /** Read each account's userdata to label domains main/addon/parked/sub (display only). */
  kinds?: boolean;
}

/**
 * Reads a cPanel server: customer domains, where their mail goes, and for every MX host that
 * points here, the certificate Exim presents to a DANE sender (which sends the MX host as SNI).
 * One bad domain never stops the scan: its problems are attached to it.
 */
export async function scanServer(root: ServerRoot, opts: ScanOptions = {}): Promise<ScanResult> {
  const now = opts.now ?? new Date();
  const accounts = readAccounts(root, { kinds: opts.kinds === true });
  const routing = readMailRouting(root);
  const hostname = readHostname(root);
  const fromApi = opts.onlyDomains ? [] : await listIps(root);
  const addresses = [...new Set([...readAddressFiles(root), ...fromApi, ...(opts.extraAddresses ?? [])])];
  const zones = new LocalZones(root);
  const ctx: Ctx = { root, zones, hostname, addresses: new Set(addresses), routing, externalDns: opts.externalDns };

  const selected = opts.onlyDomains ? accounts.domains.filter((d) => opts.onlyDomains!.has(d.domain)) : accounts.domains;
  const domains = await mapLimit(selected, 16, (d) => scanDomainAlone(ctx, d));

  const certs = new CertificateReader(root);
  const byHost = new Map<string, Endpoint>();
  for (const d of domains) {
    for (const mx of d.mx) {
      if (!mx.pointsHere) continue;
      let ep = byHost.get(mx.host);
      if (!ep) {
        ep = endpointFor(certs, mx.host, now);
        byHost.set(mx.host, ep);
      }
      ep.domains.push(d.domain);
    }
  }
  const endpoints = [...byHost.values()].sort((a, b) => a.host.localeCompare(b.host));
  addNextKeys(root, endpoints, domainOwners(root));
  return { hostname, addresses, domains, endpoints, problems: accounts.problems, localZones: zones.names };
}

/**
 * The server's addresses as WHM knows them (`whmapi1 listips`), on full scans only: hooks stay fast
 * and the files (`/var/cpanel/mainip`, `/etc/ips`) are the same data.
 */
async function listIps(root: ServerRoot): Promise<string[]> {
  if (!WhmApi.available(root)) return [];
  try {
    // Behind NAT `ip` is the local address and `public_ip` the one MX records point at
    // (Whostmgr/API/1/Ips.pm listips, Cpanel::NAT::get_public_ip): both are this server's.
    const data = await new WhmApi(root).call<{ ip?: { ip?: unknown; public_ip?: unknown }[] }>('listips');
    return (data.ip ?? []).flatMap((x) => [x.ip, x.public_ip]).filter((ip): ip is string => typeof ip === 'string' && ip.length > 0);
  } catch {
    return [];
  }
}

interface Ctx {
  root: ServerRoot;
  zones: LocalZones;
  hostname: string | null;
  addresses: Set<string>;
  routing: { local: ReadonlySet<string>; remote: ReadonlySet<string> };
  externalDns: ExternalDns | undefined;
}

/**
 * One domain's scan never stops the others' (issue 21): whatever its zone or DNS holds, an
 * unexpected failure is that domain's `scan-failed` problem and the scan goes on.
 */
async function scanDomainAlone(ctx: Ctx, d: DomainOwner): Promise<DomainReport> {
  try {
    return await scanDomain(ctx, d);
  } catch (err) {
    const p = toProblem(err);
    return { domain: d.domain, owner: d.owner, mail: 'unknown', zone: ctx.zones.zoneOf(d.domain), mx: [], problems: [problem('scan-failed', `Scanning ${d.domain} failed: ${p.message}`, { subject: d.domain, severity: 'error' })] };
  }
}

async function scanDomain(ctx: Ctx, d: DomainOwner): Promise<DomainReport> {
  const problems: Problem[] = [];
  const zone = ctx.zones.zoneOf(d.domain);
  // RFC 5321 §5.1: a CNAME at the mail domain is followed and the MX looked up at its target,
  // which then stands for the domain (implicit MX, routing) exactly as an MTA treats it.
  const alias = aliasTarget(ctx.zones, d.domain);
  const mailDomain = alias ?? d.domain;
  const mail = routingOf(ctx.routing, d.domain) ?? (alias ? routingOf(ctx.routing, alias) : null) ?? 'unknown';
  const report: DomainReport = { domain: d.domain, owner: d.owner, mail, zone, mx: [], problems };
  if (d.kind) report.kind = d.kind;
  if (alias) report.cname = alias;

  let targets: { preference: number; host: string }[];
  const mailZone = ctx.zones.zoneOf(mailDomain);
  if (mailZone) {
    const parsed = ctx.zones.get(mailZone);
    if (isProblem(parsed)) {
      problems.push(parsed);
      report.refused = { zone: mailZone, problem: parsed, mxHere: await mxHereOfRefused(ctx, mailZone, mailDomain) };
      return report;
    }
    targets = mxTargets(parsed, mailDomain);
  } else if (ctx.externalDns) {
    const found = await ctx.externalDns.mx(mailDomain).catch(() => null);
    if (found === null) {
      problems.push(problem('mx-lookup-failed', `The MX records of ${mailDomain} could not be looked up (its zone is not on this server).`, { subject: d.domain, severity: 'warning' }));
      return report;
    }
    targets = found;
  } else {
    problems.push(
      problem('zone-not-here', `The DNS zone of ${mailDomain} is not on this server and no resolver is configured, so its MX hosts are unknown.`, {
        subject: d.domain,
        fix: 'Set "resolver" in the settings, or manage the zone through Cloudflare in the settings.',
        severity: 'info',
      }),
    );
    return report;
  }

  if (targets.length === 0) targets = [{ preference: 0, host: mailDomain }].map((t) => ({ ...t, implicit: true }));
  for (const t of targets) {
    if (t.host === '' || t.host === '.') {
      problems.push(problem('null-mx', `${d.domain} publishes a null MX (RFC 7505): it accepts no mail, so it needs no TLSA records.`, { subject: d.domain, severity: 'info' }));
      continue;
    }
    const c = checkName(t.host);
    if (!c.ok) {
      problems.push(problem('mx-invalid', `${d.domain} has an MX record pointing at "${printable(t.host)}", which is not a valid host name (${c.reason}).`, { subject: d.domain, severity: 'error' }));
      continue;
    }
    const mx = await classifyMx(ctx, mailDomain, c.name, t.preference);
    if ((t as { implicit?: boolean }).implicit) mx.implicit = true;
    report.mx.push(mx);
  }
  if (mail === 'remote' && report.mx.some((m) => m.pointsHere)) {
    problems.push(problem('routing-mismatch', `${d.domain} is set to "remote mail exchanger" but an MX host points at this server.`, { subject: d.domain, fix: 'Check WHM » Email Routing for this domain.', severity: 'warning' }));
  }
  return report;
}

/**
 * The MX hosts of `domain` served here, read from what can be read of its refused zone. Null when
 * that cannot be told: no MX found while some entries (or includes) could not be read.
 */
async function mxHereOfRefused(ctx: Ctx, zone: string, domain: string): Promise<string[] | null> {
  const part = ctx.zones.salvage(zone);
  if (!part) return null;
  const targets = mxTargets(part.parsed, domain);
  if (targets.length === 0 && !part.complete) return null;
  const hosts = targets.length === 0 ? [domain] : targets.map((t) => t.host).filter((h) => h !== '' && h !== '.');
  const here: string[] = [];
  for (const host of hosts) {
    const c = checkName(host);
    if (c.ok && (await classifyMx(ctx, domain, c.name, 0)).pointsHere) here.push(c.name);
  }
  return here.length === 0 && !part.complete ? null : here;
}

async function classifyMx(ctx: Ctx, domain: string, host: string, preference: number): Promise<MxHost> {
  const base = { host, preference };
  if (ctx.hostname && host === ctx.hostname) return { ...base, pointsHere: true, why: "the server's own hostname", addresses: [...ctx.addresses] };
  let addrs = resolveLocally(ctx.zones, host);
  if (addrs === null && ctx.externalDns) addrs = await ctx.externalDns.addresses(host).catch(() => null);
  if (addrs && addrs.length > 0) {
    const here = addrs.filter((a) => ctx.addresses.has(a));
    if (here.length > 0) return { ...base, pointsHere: true, why: `resolves to ${here.join(', ')} (this server)`, addresses: addrs };
    return { ...base, pointsHere: false, why: `resolves to ${addrs.join(', ')}, not this server`, addresses: addrs };
  }
  if (routingOf(ctx.routing, domain) === 'local' && (host === domain || host.endsWith(`.${domain}`))) {
    return { ...base, pointsHere: true, why: 'no address records found; assumed because the domain receives mail here', addresses: [] };
  }
  return { ...base, pointsHere: false, why: addrs ? 'has no addresses' : 'not in a zone on this server', addresses: [] };
}

function routingOf(routing: Ctx['routing'], domain: string): 'local' | 'remote' | null {
  return routing.remote.has(domain) ? 'remote' : routing.local.has(domain) ? 'local' : null;
}

/**
 * Where a CNAME at `name` leads, through zones on this server (up to 8 links, as resolvers
 * allow); null when `name` is not an alias here. A chain leaving this server ends at the first
 * name outside it: its MX is then looked up through the resolver like any outside zone.
 */
export function aliasTarget(zones: LocalZones, name: string): string | null {
  let current = name;
  for (let depth = 0; depth < 8; depth++) {
    const zone = zones.zoneOf(current);
    if (!zone) break;
    const parsed = zones.get(zone);
    if (isProblem(parsed)) break;
    const target = cnameTarget(parsed, current);
    if (!target || target === name) break;
    current = target;
  }
  return current === name ? null : current;
}

/** A and AAAA of `name` from zones on this server, following CNAMEs; null when not answerable here. */
export function resolveLocally(zones: LocalZones, name: string, depth = 0): string[] | null {
  if (depth > 8) return [];
  const zone = zones.zoneOf(name);
  if (!zone) return null;
  const parsed = zones.get(zone);
  if (isProblem(parsed)) return null;
  const target = cnameTarget(parsed, name);
  if (target) return resolveLocally(zones, target, depth + 1);
  return addressesAt(parsed, name);
}

/**
 * Each endpoint served from domain_tls gets the key kind its owner's next AutoSSL certificate
 * will have. The owner is the account of the host name or of its parent (mail.example.com's
 * certificate is example.com's vhost certificate); each account's file is read once.
 */
function addNextKeys(root: ServerRoot, endpoints: Endpoint[], owners: ReadonlyMap<string, string>): void {
  const byUser = new Map<string, NextKey | null>();
  for (const ep of endpoints) {
    if (!ep.served || ep.served.rule === 'service') continue;
    const name = ep.host.replace(/^\*\./, '');
    const owner = owners.get(name) ?? owners.get(name.slice(name.indexOf('.') + 1));
    if (!owner) continue;
    if (!byUser.has(owner)) byUser.set(owner, nextKeyFor(root, owner));
    const next = byUser.get(owner);
    if (next) ep.nextKey = next;
  }
}

function endpointFor(certs: CertificateReader, host: string, now: Date): Endpoint {
  const served = certs.servedFor(host);
  if (isProblem(served)) return { host, domains: [], served: null, problems: [served] };
  const problems = lintRecord({ usage: 3, selector: 1, matchingType: 1 }, served.chain, { host, now });
  // The service certificate is judged like any served one: a problem only when it does not name
  // the host (the usual case is the server's hostname, which /etc/exim.crt is issued for).
  const leaf = served.chain[0];
  if (served.rule === 'service' && !(leaf && certificateCoversHost(leaf, host))) {
    problems.push(problem('service-cert', `Exim has no certificate of its own for ${host} and presents the server's service certificate (${served.source}), which does not name ${host}.`, {
      subject: host,
      fix: `That works for DANE ("3 1 1" pins its key) but senders that check names will not like it; AutoSSL can issue one for ${host} when its DNS points here.`,
      severity: 'info',
    }));
  }
  return { host, domains: [], served, problems };
}

export function summarizeCertificate(s: ServedCertificate): CertificateSummary {
  const leaf = s.chain[0] as Certificate;
  const issuer = findIssuer(leaf, s.chain);
  return {
    source: s.source,
    rule: s.rule,
    subject: leaf.subject,
    issuer: leaf.issuer,
    names: leaf.dnsNames,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
    keyAlgorithm: leaf.keyAlgorithm,
    sha256: leaf.sha256,
    spkiSha256: leaf.spkiSha256,
    issuerSpkiSha256: issuer?.spkiSha256 ?? null,
  };
}
