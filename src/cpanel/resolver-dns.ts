import { DnsClient, parseResolver, type Answer, type MxData } from '../resolver/stub-client.js';
import type { ExternalDns } from './scan.js';

/**
 * MX and address lookups for names whose zone is not on this server (Cloudflare-hosted zones,
 * remote MX hosts), through the configured resolver. Discovery only: DNSSEC is judged by `check`.
 * A resolver that does not answer is given up on for the rest of the scan, so a dead resolver
 * costs one timeout, not one per domain.
 */
export function resolverDns(resolver: string): ExternalDns {
  const client = new DnsClient(parseResolver(resolver), { timeoutMs: 800, retries: 0 });
  let dead = false;
  const ask = async (name: string, type: 'MX' | 'A' | 'AAAA'): Promise<Answer | null> => {
    if (dead) return null;
    const a = await client.query(name, type);
    if (a.status === 'timeout') dead = true;
    return a.status === 'timeout' || a.status === 'error' ? null : a;
  };
  return {
    async mx(domain) {
      const a = await ask(domain, 'MX');
      if (!a) return null;
      if (a.status === 'nodata' || a.status === 'nxdomain') return [];
      if (a.status !== 'ok') return null;
      return (a.records.map((r) => r.data) as MxData[]).map((m) => ({ preference: m.preference, host: m.exchange }));
    },
    async addresses(host) {
      const [v4, v6] = await Promise.all([ask(host, 'A'), ask(host, 'AAAA')]);
      if (!v4 && !v6) return null;
      return [...(v4?.records ?? []), ...(v6?.records ?? [])].map((r) => String(r.data));
    },
  };
}
