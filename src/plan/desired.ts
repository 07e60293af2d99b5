import { tlsaOwner } from '../dns/names.js';
import { problem, type Problem } from '../problem.js';
import { findIssuer } from '../tlsa/certificate.js';
import { issuerFamily, siblingIssuers } from '../tlsa/known-issuers.js';
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
  label: string;
}

/**
 * The issuers a `2 1 1` set must cover for each endpoint: the next certificate may come from any
 * intermediate of the same CA (Let's Encrypt rotates among several), so the set is the served
 * issuer, every same-family issuer seen on this server, and the CA's known active intermediates
 * (src/tlsa/known-issuers.ts). Unknown CAs group by exact issuer name.
 */
export function issuerPins(endpoints: Endpoint[], now: Date): Map<string, Pin[]> {
  const familyOf = new Map<string, string>();
  const seen = new Map<string, Map<string, Pin>>();
  for (const ep of endpoints) {
    const chain = ep.served?.chain;
    const leaf = chain?.[0];
    const issuer = leaf && chain ? findIssuer(leaf, chain) : null;
    if (!issuer) continue;
    const family = issuerFamily(issuer.subject, issuer.spkiSha256) ?? `issuer:${issuer.subject}`;
    familyOf.set(ep.host, family);
    const pins = seen.get(family) ?? new Map<string, Pin>();
    pins.set(issuer.spkiSha256, { spkiSha256: issuer.spkiSha256, label: `issuer ${issuer.subject} (seen on this server)` });
    seen.set(family, pins);
  }
  const out = new Map<string, Pin[]>();
  for (const [host, family] of familyOf) {
    const pins = new Map(seen.get(family));
    for (const k of siblingIssuers(family, now)) if (!pins.has(k.spkiSha256)) pins.set(k.spkiSha256, { spkiSha256: k.spkiSha256, label: `${k.name}, an active ${family} intermediate that may sign the next certificate` });
    out.set(host, [...pins.values()]);
  }
  return out;
}

/**
 * Policy × endpoints → the records senders need. `zoneOf` returns the managed zone a host's
 * TLSA owners live in, or null.
 */
export function desiredRecords(endpoints: Endpoint[], policy: Policy, zoneOf: (host: string) => string | null, now = new Date()): DesiredSet {
  const params = policy.records.map((r) => parseParams(r)).filter((p): p is TlsaParams => p !== null);
  const pins = params.some(isIssuerKeyPin) ? issuerPins(endpoints, now) : new Map<string, Pin[]>();
  const byZone = new Map<string, DesiredRecord[]>();
  const unmanaged: DesiredSet['unmanaged'] = [];
  const problems: Problem[] = [];
  for (const ep of endpoints) {
    if (!ep.served) continue;
    const rdatas: { rd: TlsaRdata; reason: string }[] = [];
    for (const p of params) {
      const rd = computeRdata(ep.served.chain, p);
      if ('code' in rd) {
        problems.push({ ...rd, subject: ep.host, severity: 'warning' });
        continue;
      }
      rdatas.push({ rd, reason: describe(p, ep) });
      if (isIssuerKeyPin(p)) {
        for (const pin of pins.get(ep.host) ?? []) {
          if (pin.spkiSha256 !== rd.data) rdatas.push({ rd: { ...p, data: pin.spkiSha256 }, reason: pin.label });
        }
      }
    }
    const records: DesiredRecord[] = policy.ports.flatMap((port) => rdatas.map(({ rd, reason }) => ({ ...rd, owner: tlsaOwner(port, ep.host), ttl: policy.ttl, host: ep.host, port, reason })));
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

function isIssuerKeyPin(p: TlsaParams): boolean {
  return p.usage === 2 && p.selector === 1 && p.matchingType === 1;
}

function describe(p: TlsaParams, ep: Endpoint): string {
  const leaf = ep.served!.chain[0]!;
  const what = p.usage === 2 || p.usage === 0 ? `issuer (${leaf.issuer}) of` : 'key of';
  return `${what} the certificate Exim presents for ${ep.host} (${ep.served!.source})`;
}
