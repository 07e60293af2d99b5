/**
 * Signing through cPanel (PowerDNS, WHM API 1): the cPanel provider's `dnssec` capability.
 * fetch_ds_records_for_domains also returns each key's PRIVATE key: fromCpanelDsRow drops it.
 */
import { WhmApi } from '../cpanel/whmapi.js';
import { problem, toProblem, type Problem } from '../problem.js';
import type { ProviderDnssec, SignerView } from '../providers/types.js';
import type { ServerRoot } from '../util/server-root.js';
import { bindInstructions } from './enable.js';
import { fromCpanelDsRow, nameserverType, type CpanelDsRow } from './signer.js';

const FETCH_CHUNK = 50;

/** A row of whmapi1 enable_dnssec_for_domains / disable_dnssec_for_domains: the flag is 1 when done. */
type WhmDnssecRow = { domain?: string; enabled?: number | string; disabled?: number | string; error?: string };

async function cpanelSigners(root: ServerRoot, zones: string[]): Promise<Map<string, SignerView>> {
  const out = new Map<string, SignerView>();
  const ns = nameserverType({ root }) ?? 'unknown';
  const none = (p?: Problem): SignerView => ({ signing: null, ds: [], dnskey: [], nameserver: ns, ...(p ? { problem: p } : {}) });
  if (ns !== 'powerdns' || !WhmApi.available(root)) {
    // With BIND cPanel does not sign; the zone may still be signed by hand, which the live chain shows.
    for (const z of zones) out.set(z, none());
    return out;
  }
  const api = new WhmApi(root);
  for (let i = 0; i < zones.length; i += FETCH_CHUNK) {
    const chunk = zones.slice(i, i + FETCH_CHUNK);
    try {
      const data = await api.call<{ domains?: CpanelDsRow[] }>('fetch_ds_records_for_domains', chunk.map((z) => ['domain', z] as [string, string]));
      const rows = new Map((data.domains ?? []).map((r) => [String(r.domain ?? '').toLowerCase(), r]));
      for (const z of chunk) {
        const row = rows.get(z);
        out.set(z, row ? { ...fromCpanelDsRow(row), dnskey: [], nameserver: ns } : none(problem('dnssec-signer-missing', `fetch_ds_records_for_domains returned nothing for ${z}.`)));
      }
    } catch (err) {
      for (const z of chunk) out.set(z, none(toProblem(err, 'whmapi-error', z)));
    }
  }
  return out;
}

/**
 * cPanel answers a row per domain whose `enabled`/`disabled` flag says whether it happened (the
 * call itself succeeds either way).
 */
async function switchCpanel(root: ServerRoot, zone: string, to: 'enable' | 'disable', whmArgs: [string, string][] = []): Promise<Problem | null> {
  const flag = to === 'enable' ? 'enabled' : 'disabled';
  try {
    const data = await new WhmApi(root).call<{ domains?: WhmDnssecRow[] }>(`${to}_dnssec_for_domains`, [['domain', zone], ...whmArgs]);
    const row = (data.domains ?? []).find((d) => String(d.domain).toLowerCase() === zone);
    if (!row || Number(row[flag]) !== 1) return problem('whmapi-error', `cPanel did not ${to} DNSSEC for ${zone}: ${row?.error ?? 'no result for the zone'}.`);
  } catch (err) {
    return toProblem(err, 'whmapi-error', zone);
  }
  return null;
}

export function cpanelDnssec(root: ServerRoot): ProviderDnssec {
  return {
    status: (zones) => cpanelSigners(root, zones),
    async enable(zone, algorithm) {
      if (nameserverType({ root }) !== 'powerdns') return problem('dnssec-needs-powerdns', bindInstructions(zone));
      if (!WhmApi.available(root)) return problem('dnssec-no-whmapi', 'WHM API 1 (/usr/local/cpanel/bin/whmapi1) is not available; cannot enable DNSSEC through cPanel.');
      return switchCpanel(root, zone, 'enable', [['algo_num', String(algorithm)], ['key_setup', algorithm > 8 ? 'simple' : 'classic'], ['active', '1'], ['use_nsec3', '0']]);
    },
    async disable(zone) {
      if (nameserverType({ root }) !== 'powerdns' || !WhmApi.available(root)) {
        return problem('dnssec-needs-powerdns', `cPanel signs zones only with PowerDNS; ${zone} is not signed by cPanel here, so there is nothing cPanel can switch off.`);
      }
      return switchCpanel(root, zone, 'disable');
    },
  };
}
