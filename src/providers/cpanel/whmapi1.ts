import { WhmApi } from '../../cpanel/whmapi.js';
import { problem, ProblemError, retryable, toProblem } from '../../problem.js';
import { recordKey } from '../../tlsa/types.js';
import { absoluteName, relativeTo } from '../../dns/names.js';
import { isManagedTxt, managedKey, managedTxt, txtRecordFault, type ManagedRecord } from '../../dns/records.js';
import type { ApplyResult, Change, DnsProvider } from '../contract.js';
import { applyGuarded, populateFromZoneFile, type ZoneFileHost } from './zonefile.js';

/** How often a write is retried when someone else changed the zone between our read and write. */
const STALE_SERIAL_RETRIES = 3;

/**
 * The server's own zones on a cPanel server: read from the zone file (fast, and exactly what
 * dnsadmin writes), written through WHM API 1 so DNS clusters sync.
 */
export function createWhmApi1Provider(ctx: ZoneFileHost): DnsProvider {
  return {
    kind: 'cpanel',
    populate: async (zone, owners) => populateFromZoneFile(ctx, zone, owners),
    apply: async (zone, changes) => applyGuarded(zone, changes, () => applyViaWhmApi(ctx, zone, changes)),
  };
}

interface ApiZoneLine {
  line_index: number;
  type: string;
  dname_b64?: string;
  ttl?: number;
  record_type?: string;
  data_b64?: string[];
}

const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

async function applyViaWhmApi(ctx: ZoneFileHost, zone: string, changes: Change[]): Promise<ApplyResult> {
  const api = new WhmApi(ctx.root);
  for (let attempt = 0; ; attempt++) {
    const { payload } = await api.call<{ payload: ApiZoneLine[] }>('parse_dns_zone', [['zone', zone]]);
    const soa = payload.find((l) => l.type === 'record' && l.record_type === 'SOA');
    const serial = soa?.data_b64?.[2] ? unb64(soa.data_b64[2]) : null;
    if (!serial) throw new ProblemError(problem('zone-no-soa', `${zone} has no SOA record in WHM's view.`, { subject: zone }));
    const byKey = new Map<string, number>();
    // A TXT record set has one TTL when loaded: a policy joins TXT records at its owner with theirs.
    const txtTtl = new Map<string, number>();
    for (const l of payload) {
      const key = l.type === 'record' ? lineKey(l, zone) : null;
      if (key !== null) byKey.set(key, l.line_index);
      if (l.type === 'record' && l.record_type === 'TXT' && l.dname_b64 && typeof l.ttl === 'number') {
        const owner = absoluteName(unb64(l.dname_b64), zone);
        if (!txtTtl.has(owner)) txtTtl.set(owner, l.ttl);
      }
    }
    const args: [string, string][] = [['zone', zone], ['serial', serial]];
    const applied: Change[] = [];
    for (const c of changes) {
      if (c.kind === 'delete') {
        const idx = byKey.get(managedKey(c.record));
        if (idx === undefined) continue; // already gone
        args.push(['remove', String(idx)]);
      } else {
        if (byKey.has(managedKey(c.record))) continue; // already there
        const r = isManagedTxt(c.record) ? { ...c.record, ttl: txtTtl.get(c.record.owner) ?? c.record.ttl } : c.record;
        args.push(['add', JSON.stringify(addItem(r, zone))]);
      }
      applied.push(c);
    }
    if (applied.length === 0) return { zone, provider: 'cpanel', applied: [] };
    try {
      const res = await api.call<{ new_serial?: string }>('mass_edit_dns_zone', args);
      return { zone, provider: 'cpanel', applied, details: { via: 'whmapi1', serial: res.new_serial ?? '' } };
    } catch (err) {
      if (retryable(toProblem(err)) && attempt < STALE_SERIAL_RETRIES) continue; // someone else edited the zone: re-read
      throw err;
    }
  }
}

/**
 * The managed record a parse_dns_zone line holds, as its key: TLSA (`data_b64` is
 * `[usage, selector, matching_type, hex]`) or a TXT line whose strings (one `data_b64` item
 * each) make a managed TXT record (TLSRPT policy, MTA-STS). Any other line: null.
 */
function lineKey(l: ApiZoneLine, zone: string): string | null {
  if (!l.dname_b64 || !l.data_b64) return null;
  const owner = absoluteName(unb64(l.dname_b64), zone);
  if (l.record_type === 'TLSA') {
    const [u, s, m, hex] = l.data_b64.map(unb64);
    return recordKey({ owner, usage: Number(u) as 0, selector: Number(s) as 0, matchingType: Number(m) as 0, data: hex ?? '' });
  }
  if (l.record_type !== 'TXT') return null;
  const text = l.data_b64.map(unb64).join('');
  const txt = managedTxt(owner, 0, text);
  return txt ? managedKey(txt) : null;
}

/** A mass_edit_dns_zone `add` item (cPanel's documented shape: `dname` relative, `data` the fields or TXT strings). */
function addItem(r: ManagedRecord, zone: string): { dname: string; ttl: number; record_type: string; data: string[] } {
  const dname = relativeTo(r.owner, zone);
  if (isManagedTxt(r)) {
    const fault = txtRecordFault(r);
    if (fault) {
      const p = problem('tlsrpt-record-invalid', `${r.kind} record ${r.owner}: ${fault}; nothing was changed in ${zone}.`, { subject: zone });
      throw new ProblemError(r.kind === 'MTASTS' ? { ...p, code: 'mta-sts-record-invalid' } : p);
    }
    return { dname, ttl: r.ttl, record_type: 'TXT', data: [r.text] };
  }
  return { dname, ttl: r.ttl, record_type: 'TLSA', data: [String(r.usage), String(r.selector), String(r.matchingType), r.data] };
}
