import { tlsaOwner } from '../dns/names.js';
import { problem, type Problem } from '../problem.js';
import { computeRdata } from '../tlsa/records.js';
import { parseParams, type TlsaParams, type TlsaRecord } from '../tlsa/types.js';
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

/**
 * Policy × endpoints → the records senders need. `zoneOf` returns the managed zone a host's
 * TLSA owners live in, or null.
 */
export function desiredRecords(endpoints: Endpoint[], policy: Policy, zoneOf: (host: string) => string | null): DesiredSet {
  const params = policy.records.map((r) => parseParams(r)).filter((p): p is TlsaParams => p !== null);
  const byZone = new Map<string, DesiredRecord[]>();
  const unmanaged: DesiredSet['unmanaged'] = [];
  const problems: Problem[] = [];
  for (const ep of endpoints) {
    if (!ep.served) continue;
    const records: DesiredRecord[] = [];
    for (const p of params) {
      const rd = computeRdata(ep.served.chain, p);
      if ('code' in rd) {
        problems.push({ ...rd, subject: ep.host, severity: 'warning' });
        continue;
      }
      for (const port of policy.ports) {
        records.push({
          ...rd,
          owner: tlsaOwner(port, ep.host),
          ttl: policy.ttl,
          host: ep.host,
          port,
          reason: describe(p, ep),
        });
      }
    }
    const zone = zoneOf(ep.host);
    if (zone) byZone.set(zone, [...(byZone.get(zone) ?? []), ...records]);
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

function describe(p: TlsaParams, ep: Endpoint): string {
  const leaf = ep.served!.chain[0]!;
  const what = p.usage === 2 || p.usage === 0 ? `issuer (${leaf.issuer}) of` : 'key of';
  return `${what} the certificate Exim presents for ${ep.host} (${ep.served!.source})`;
}
