import type { AppContext } from '../context.js';
import { zoneFilePath } from '../cpanel/local-zones.js';
import { parseZone, tlsaRecordsAt } from './zonefile.js';
import { problem, ProblemError } from '../problem.js';
import type { ApplyResult, Change, DnsProvider, PublishedRecord } from './provider.js';

/**
 * The server's own zones. Reads the zone file directly (fast, and what Exim's DNS will serve);
 * writes go through WHM API 1 when cPanel is present (DNS cluster sync), else through a careful
 * zone-file edit + reload.
 */
export function createCpanelProvider(ctx: AppContext): DnsProvider {
  return {
    kind: 'cpanel',
    async populate(zone: string, owners: string[]): Promise<PublishedRecord[]> {
      const path = zoneFilePath(zone);
      const text = ctx.root.readText(path);
      if (text === null) throw new ProblemError(problem('zone-missing', `${path} does not exist.`, { subject: zone }));
      const parsed = parseZone(text, zone, { readInclude: (p) => ctx.root.readText(p.startsWith('/') ? p : `/var/named/${p}`) ?? '' });
      return tlsaRecordsAt(parsed, owners).map((r) => ({
        owner: r.owner,
        ttl: r.ttl,
        usage: r.usage,
        selector: r.selector,
        matchingType: r.matchingType,
        data: r.data,
        id: `${r.file ?? path}:${r.line}`,
      }));
    },
    async apply(zone: string, changes: Change[]): Promise<ApplyResult> {
      return { zone, provider: 'cpanel', applied: [], problem: problem('not-implemented', `Writing ${zone} is not implemented yet (${changes.length} change(s) not applied).`) };
    },
  };
}
