import { canonicalName, tlsaOwner } from '../dns/names.js';
import { tlsrptOwner, tlsrptText, type TlsrptRecord } from '../dns/records.js';
import { isProblem, problem, type Problem } from '../problem.js';
import { findIssuer, type Certificate } from '../tlsa/certificate.js';
import { issuerFamily, keyKind, KNOWN_ISSUERS, issuersOfKind, nextIssuerCandidates, type KnownIssuer } from '../tlsa/known-issuers.js';
import { computeRdata } from '../tlsa/records.js';
import { parseParams, type TlsaParams, type TlsaRdata, type TlsaRecord } from '../tlsa/types.js';
import type { Endpoint } from '../cpanel/scan.js';

export interface Policy {
  ports: number[];
  records: string[];
  ttl: number;
}

/** A record we want published, with the reason an admin will see. */
export interface DesiredRecord extends TlsaRecord {
  host: string;
  port: number;
  reason: string;
  /**
   * Its place when the owner's record budget is short: lower keeps its place first (see
   * PRIORITY). Records of one owner with equal priority keep their order.
   */
  priority: number;
  /** For an issuer pin: the issuer it covers (subject or table name), to name it when left out. */
  issuer?: string;
}

/**
 * What the budget keeps first (issue 9): the served key, a pre-published next key, the served
 * issuer, a pre-published next issuer, then siblings in the order they may sign the next
 * certificate (SIBLING + rank).
 */
export const PRIORITY = { served: 0, next: 1, servedIssuer: 2, nextIssuer: 3, sibling: 10 } as const;

/** The priority of a record for a certificate's own chain (served, or incoming at a renewal). */
export function chainPriority(p: TlsaParams, incoming: boolean): number {
  const pinsIssuer = p.usage === 0 || p.usage === 2;
  if (incoming) return pinsIssuer ? PRIORITY.nextIssuer : PRIORITY.next;
  return pinsIssuer ? PRIORITY.servedIssuer : PRIORITY.served;
}

export interface DesiredSet {
  /** Zone → records, for hosts whose zone some provider manages. */
  byZone: Map<string, DesiredRecord[]>;
  /** Hosts served here whose zone nobody here manages: the admin adds these by hand. */
  unmanaged: { host: string; records: DesiredRecord[] }[];
  problems: Problem[];
}

interface Pin {
  spkiSha256: string;
  /** Who it is, for the admin: table name or subject. */
  issuer: string;
  label: string;
}

/**
 * The sibling issuers a `2 1 1` set should cover for each endpoint, likeliest next signer first
 * (the served issuer itself is pinned from the chain, not here). The CA picks the intermediate,
 * always one with the leaf's key kind (an RSA leaf is never signed by an ECDSA intermediate):
 * 0. when the account's next AutoSSL key (ep.nextKey: cPanel makes a new key of the account's
 *    preferred type at every renewal) is of another kind than the served key, the same CA's
 *    issuers of THAT kind come first: those signing certificates served on this server now, then
 *    the known ones of that kind, newest generation first;
 * 1. known intermediates (src/tlsa/known-issuers.ts) of the served issuer's own generation;
 * 2. other same-CA, same-kind issuers that sign certificates served on this server now (perhaps
 *    newer than the table);
 * 3. known intermediates of the CA's other active generations, newest first.
 * An issuer not in the table has no known generation, so it gets 2 then 3. A CA not in the table
 * at all groups by exact issuer name (a re-keyed intermediate keeps its name).
 */
export function issuerPins(endpoints: Endpoint[], now: Date): Map<string, Pin[]> {
  const issuers = new Map<string, { issuer: Certificate; family: string | null; group: string; switchTo: string | null }>();
  const seen = new Map<string, Map<string, Certificate>>();
  for (const ep of endpoints) {
    const chain = ep.served?.chain;
    const leaf = chain?.[0];
    const issuer = leaf && chain ? findIssuer(leaf, chain) : null;
    if (!issuer) continue;
    const family = issuerFamily(issuer.subject, issuer.spkiSha256);
    const group = `${family ?? `issuer:${issuer.subject}`}\0${keyKind(issuer.keyAlgorithm)}`;
    const nextKind = ep.nextKey ? keyKind(ep.nextKey.keyAlgorithm) : null;
    // The served-kind siblings below are of the issuer's kind (a CA signs with the leaf's kind, so
    // they are the same on real chains): a next key of another kind needs its own issuers.
    const switchTo = family && nextKind && nextKind !== keyKind(issuer.keyAlgorithm) ? nextKind : null;
    issuers.set(ep.host, { issuer, family, group, switchTo });
    if (issuer.notAfter.getTime() <= now.getTime()) continue;
    const members = seen.get(group) ?? new Map<string, Certificate>();
    members.set(issuer.spkiSha256, issuer);
    seen.set(group, members);
  }
  const known = new Map(KNOWN_ISSUERS.map((k) => [k.spkiSha256, k]));
  const fromTable = (k: KnownIssuer): Pin => ({ spkiSha256: k.spkiSha256, issuer: k.name, label: `${k.name}, an active ${k.ca} intermediate that may sign the next certificate` });
  const out = new Map<string, Pin[]>();
  for (const [host, { issuer, family, group, switchTo }] of issuers) {
    const table = nextIssuerCandidates(issuer, now);
    const own = known.get(issuer.spkiSha256)?.generation;
    const pins = new Map<string, Pin>();
    const add = (pin: Pin) => {
      if (pin.spkiSha256 !== issuer.spkiSha256 && !pins.has(pin.spkiSha256)) pins.set(pin.spkiSha256, pin);
    };
    if (family && switchTo) {
      const kindLabel = switchTo === 'ec' ? 'ECDSA' : switchTo.toUpperCase();
      for (const c of seen.get(`${family}\0${switchTo}`)?.values() ?? []) {
        const k = known.get(c.spkiSha256);
        add(k ? fromTable(k) : { spkiSha256: c.spkiSha256, issuer: c.subject, label: `issuer ${c.subject} (seen on this server)` });
      }
      for (const k of issuersOfKind(family, switchTo, now)) add(fromTable(k));
      for (const [spki, pin] of pins) pins.set(spki, { ...pin, label: `${pin.label}; the account's next key is ${kindLabel} (AutoSSL makes a key of the account's preferred type)` });
    }
    for (const k of table) if (own !== undefined && k.generation === own) add(fromTable(k));
    for (const c of seen.get(group)?.values() ?? []) if (!known.has(c.spkiSha256)) add({ spkiSha256: c.spkiSha256, issuer: c.subject, label: `issuer ${c.subject} (seen on this server)` });
    for (const k of table) add(fromTable(k));
    out.set(host, [...pins.values()]);
  }
  return out;
}

/**
 * Policy × endpoints → the records senders need. `zoneOf` returns the managed zone a host's
 * TLSA owners live in, or null.
 */
export function desiredRecords(endpoints: Endpoint[], policy: Policy, zoneOf: (host: string) => string | null, now = new Date()): DesiredSet {
  const params = policyParams(policy);
  const pins = params.some(isIssuerKeyPin) ? issuerPins(endpoints, now) : new Map<string, Pin[]>();
  const byZone = new Map<string, DesiredRecord[]>();
  const unmanaged: DesiredSet['unmanaged'] = [];
  const problems: Problem[] = [];
  for (const ep of endpoints) {
    if (!ep.served) continue;
    const rdatas: RdataWithWhy[] = [];
    for (const p of params) {
      const rd = computeRdata(ep.served.chain, p);
      if (isProblem(rd)) {
        problems.push({ ...rd, subject: ep.host, severity: 'warning' });
        continue;
      }
      const issuer = p.usage === 0 || p.usage === 2 ? findIssuer(ep.served.chain[0]!, ep.served.chain)?.subject : undefined;
      rdatas.push({ rd, reason: describe(p, ep), priority: chainPriority(p, false), ...(issuer ? { issuer } : {}) });
      if (isIssuerKeyPin(p)) {
        (pins.get(ep.host) ?? []).forEach((pin, i) => {
          if (pin.spkiSha256 !== rd.data) rdatas.push({ rd: { ...p, data: pin.spkiSha256 }, reason: pin.label, priority: PRIORITY.sibling + i, issuer: pin.issuer });
        });
      }
    }
    const records = hostRecords(ep.host, policy, rdatas);
    const zone = zoneOf(ep.host);
    if (zone) {
      const list = byZone.get(zone);
      if (list) list.push(...records);
      else byZone.set(zone, records);
    }
    else {
      unmanaged.push({ host: ep.host, records });
      problems.push(
        problem('zone-not-managed', `No zone on this server or in the settings holds ${ep.host}, so its TLSA records must be added by hand.`, {
          subject: ep.host,
          fix: 'Add the records shown to the DNS provider of that zone, or configure the zone as a Cloudflare zone in the settings.',
          severity: 'warning',
        }),
      );
    }
  }
  return { byZone, unmanaged, problems };
}

/** A TLSRPT policy we want published for a mail domain (RFC 8460), with the reason shown. */
export interface DesiredTlsrpt extends TlsrptRecord {
  domain: string;
  reason: string;
}

export interface TlsrptSettings {
  /** `off`, `all`, or the mail domains that opt in (config tlsrpt.publish). */
  publish: 'off' | 'all' | string[];
  /** Where senders mail their reports (already validated: records.ts reportAddressFault). */
  address: string | null;
  ttl: number;
}

/**
 * The TLSRPT policies wanted: one at `_smtp._tls.<domain>` for each opted-in mail domain whose
 * MX host is served here with a certificate (the domains TLSA records are planned for), in the
 * domain's own zone (not the MX host's). `zoneOf` as for desiredRecords.
 */
export function desiredTlsrpt(endpoints: Endpoint[], settings: TlsrptSettings, zoneOf: (name: string) => string | null): { byZone: Map<string, DesiredTlsrpt[]>; problems: Problem[] } {
  const byZone = new Map<string, DesiredTlsrpt[]>();
  const problems: Problem[] = [];
  if (settings.publish === 'off') return { byZone, problems };
  const only = settings.publish === 'all' ? null : new Set(settings.publish.map(canonicalName));
  const domains = [...new Set(endpoints.filter((e) => e.served).flatMap((e) => e.domains))].filter((d) => only === null || only.has(d)).sort();
  if (domains.length === 0) return { byZone, problems };
  if (!settings.address) {
    problems.push(problem('tlsrpt-no-address', 'TLS-RPT policies are wanted (tlsrpt.publish) but no report address is set and the server hostname is unknown, so none is published.', { fix: 'Set tlsrpt.address in the settings (e.g. tlsrpt@<this server\'s hostname>).', severity: 'warning' }));
    return { byZone, problems };
  }
  const text = tlsrptText(settings.address);
  for (const domain of domains) {
    const record: DesiredTlsrpt = { kind: 'TLSRPT', owner: tlsrptOwner(domain), ttl: settings.ttl, text, domain, reason: `TLS-RPT policy: senders mail reports to ${settings.address}` };
    const zone = zoneOf(domain);
    if (!zone) {
      problems.push(problem('tlsrpt-not-managed', `No zone on this server or in the settings holds ${domain}, so its TLS-RPT policy must be added by hand: ${record.owner}. TXT "${text}".`, { subject: domain, fix: 'Add that TXT record at the DNS provider of the domain, or leave the domain out of tlsrpt.publish.', severity: 'info' }));
      continue;
    }
    const list = byZone.get(zone);
    if (list) list.push(record);
    else byZone.set(zone, [record]);
  }
  return { byZone, problems };
}

type RdataWithWhy = { rd: TlsaRdata; reason: string; priority: number; issuer?: string };

/** The policy's record parameters ("3 1 1", …), malformed entries left out (the config schema refuses them). */
function policyParams(policy: Policy): TlsaParams[] {
  return policy.records.map((r) => parseParams(r)).filter((p): p is TlsaParams => p !== null);
}

/** The one builder of a host's desired records: each RDATA at the TLSA owner of each policy port. */
function hostRecords(host: string, policy: Policy, rdatas: RdataWithWhy[]): DesiredRecord[] {
  return policy.ports.flatMap((port) => rdatas.map(({ rd, ...rest }) => ({ ...rd, owner: tlsaOwner(port, host), ttl: policy.ttl, host, port, ...rest })));
}

/**
 * The records for a certificate about to be installed (the renewal hook's pre stage), for the
 * hosts it will serve: counted in each owner's budget right after the served ones.
 */
export function incomingRecords(chain: Certificate[], policy: Policy, hosts: string[]): DesiredRecord[] {
  return hosts.flatMap((host) => {
    const rdatas: RdataWithWhy[] = [];
    for (const p of policyParams(policy)) {
      const rd = computeRdata(chain, p);
      if (!isProblem(rd)) rdatas.push({ rd, reason: `incoming certificate for ${host} (published before it is installed)`, priority: chainPriority(p, true) });
    }
    return hostRecords(host, policy, rdatas);
  });
}

function isIssuerKeyPin(p: TlsaParams): boolean {
  return p.usage === 2 && p.selector === 1 && p.matchingType === 1;
}

function describe(p: TlsaParams, ep: Endpoint): string {
  const leaf = ep.served!.chain[0]!;
  const what = p.usage === 2 || p.usage === 0 ? `issuer (${leaf.issuer}) of` : 'key of';
  return `${what} the certificate Exim presents for ${ep.host} (${ep.served!.source})`;
}
