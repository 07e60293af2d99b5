import { DnsClient, parseResolver, type MxData } from '../dane/dns-client.js';
import type { ExternalDns } from './scan.js';

/**
 * MX and address lookups for names whose zone is not on this server (Cloudflare-hosted zones,
 * remote MX hosts), through the configured resolver. Discovery only: DNSSEC is judged by `check`.
 */
export function resolverDns(resolver: string): ExternalDns {
  const client = new DnsClient(parseResolver(resolver), { timeoutMs: 2000, retries: 1 });
  return {
    async mx(domain) {
      const a = await client.query(domain, 'MX');
      if (a.status === 'nodata' || a.status === 'nxdomain') return [];
      if (a.status !== 'ok') return null;
      return (a.records.map((r) => r.data) as MxData[]).map((m) => ({ preference: m.preference, host: m.exchange }));
    },
    async addresses(host) {
      const [v4, v6] = await Promise.all([client.query(host, 'A'), client.query(host, 'AAAA')]);
      if (v4.status !== 'ok' && v6.status !== 'ok' && (v4.status === 'timeout' || v4.status === 'error')) return null;
      return [...v4.records, ...v6.records].map((r) => String(r.data));
    },
  };
}
