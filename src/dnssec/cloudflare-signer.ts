/** Signing through Cloudflare's DNSSEC API: the Cloudflare provider's `dnssec` capability. */
import type { CloudflareProvider } from '../providers/cloudflare/client.js';
import { toProblem, type Problem } from '../problem.js';
import type { ProviderDnssec, SignerView } from '../providers/types.js';
import { mapLimit } from '../util/concurrency.js';
import { fromCloudflare } from './signer.js';

function cloudflareProblem(err: unknown, zone: string, what: 'enable' | 'disable'): Problem {
  const p = toProblem(err, 'cloudflare-error', zone);
  if (p.code === 'cloudflare-permission') {
    return { ...p, message: `The Cloudflare API token may not ${what} DNSSEC for ${zone}; nothing was changed.`, fix: 'Give the token the Zone:DNS:Edit permission for this zone (and Zone:Zone:Read).' };
  }
  return p;
}

export function cloudflareDnssec(cf: CloudflareProvider): ProviderDnssec {
  const edit = async (zone: string, to: 'enable' | 'disable'): Promise<Problem | null> => {
    try {
      await cf.dnssecEdit(zone, to === 'enable' ? 'active' : 'disabled');
      return null;
    } catch (err) {
      return cloudflareProblem(err, zone, to);
    }
  };
  return {
    async status(zones) {
      const out = new Map<string, SignerView>();
      if (zones.length > 3) await cf.prepare(zones).catch(() => undefined);
      await mapLimit(zones, 4, async (z) => {
        try {
          out.set(z, fromCloudflare(await cf.dnssec(z)));
        } catch (err) {
          out.set(z, { signing: null, ds: [], dnskey: [], problem: toProblem(err, 'cloudflare-error', z) });
        }
      });
      return out;
    },
    enable: (zone) => edit(zone, 'enable'),
    disable: (zone) => edit(zone, 'disable'),
  };
}
