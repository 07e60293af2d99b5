/**
 * Signing through the PowerDNS API's cryptokeys: the powerdns provider's `dnssec` capability.
 * A zone signs while it has an active key; `enable` adds one active CSK (PowerDNS signs on the fly)
 * and rectifies the zone (the SQL backends store the ordering and auth fields signing needs);
 * `disable` removes every key. The DS comes from the key's own `ds` field; the POST's answer
 * carries the private key, which is never read.
 */
import type { PdnsCryptokey, PowerDnsProvider } from '../providers/powerdns/client.js';
import { problem, toProblem, type Problem } from '../problem.js';
import type { ProviderDnssec, SignerView } from '../providers/types.js';
import { mapLimit } from '../util/concurrency.js';
import { ALGORITHM_NAMES, type DnskeyRecord, type DsRecord } from './keys.js';
import { preferSha256 } from './signer.js';

/** The algorithms PowerDNS signs with (pdnsutil add-zone-key), with the key size RSA needs. */
const PDNS_ALGORITHMS: Readonly<Record<number, { bits?: number }>> = { 8: { bits: 2048 }, 10: { bits: 2048 }, 13: {}, 14: {}, 15: {}, 16: {} };

/** Keys that sign the zone's DNSKEY set and so go to the parent: KSKs and CSKs. */
function entryKeys(keys: PdnsCryptokey[]): PdnsCryptokey[] {
  return keys.filter((k) => k.active === true && (k.keytype === 'ksk' || k.keytype === 'csk'));
}

/** `1167 13 2 1791…` → DsRecord (null when it is not that form). */
export function parseDs(s: string): DsRecord | null {
  const m = /^\s*(\d{1,5})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9a-fA-F]+)\s*$/.exec(s);
  return m ? { keyTag: Number(m[1]), algorithm: Number(m[2]), digestType: Number(m[3]), digest: m[4]!.toLowerCase() } : null;
}

/** `257 3 13 <base64>` → DnskeyRecord (null when it is not that form). */
export function parseDnskey(s: string): DnskeyRecord | null {
  const m = /^\s*(\d{1,5})\s+(\d{1,3})\s+(\d{1,3})\s+([A-Za-z0-9+/=\s]+)$/.exec(s);
  return m ? { flags: Number(m[1]), protocol: Number(m[2]), algorithm: Number(m[3]), publicKey: m[4]!.replace(/\s+/g, '') } : null;
}

/** The signer's view from a zone's cryptokeys. */
export function fromCryptokeys(keys: PdnsCryptokey[]): Pick<SignerView, 'signing' | 'ds' | 'dnskey'> {
  const entry = entryKeys(keys);
  const active = keys.some((k) => k.active === true);
  return {
    signing: active ? 'active' : 'off',
    ds: preferSha256(entry.flatMap((k) => (Array.isArray(k.ds) ? k.ds : []).map(parseDs).filter((d): d is DsRecord => d !== null))),
    dnskey: entry.map((k) => (typeof k.dnskey === 'string' ? parseDnskey(k.dnskey) : null)).filter((d): d is DnskeyRecord => d !== null),
  };
}

export function powerdnsDnssec(pdns: PowerDnsProvider): ProviderDnssec {
  return {
    async status(zones) {
      const out = new Map<string, SignerView>();
      await mapLimit(zones, 4, async (z) => {
        try {
          out.set(z, { ...fromCryptokeys(await pdns.cryptokeys(z)), nameserver: 'powerdns' });
        } catch (err) {
          out.set(z, { signing: null, ds: [], dnskey: [], problem: toProblem(err, 'powerdns-error', z) });
        }
      });
      return out;
    },
    async enable(zone, algorithm): Promise<Problem | null> {
      const spec = PDNS_ALGORITHMS[algorithm];
      if (!spec) {
        return problem('powerdns-rejected', `PowerDNS does not sign with DNSSEC algorithm ${algorithm}; nothing was changed for ${zone}.`, {
          subject: zone,
          fix: `Choose one of ${Object.keys(PDNS_ALGORITHMS).map((a) => `${a} (${ALGORITHM_NAMES[Number(a)]})`).join(', ')}; 13 is the default.`,
        });
      }
      try {
        if (!(await pdns.cryptokeys(zone)).some((k) => k.active === true)) {
          await pdns.createCryptokey(zone, { keytype: 'csk', algorithm: ALGORITHM_NAMES[algorithm]!, ...(spec.bits ? { bits: spec.bits } : {}) });
        }
        await pdns.rectify(zone);
        return null;
      } catch (err) {
        return toProblem(err, 'powerdns-error', zone);
      }
    },
    async disable(zone): Promise<Problem | null> {
      try {
        for (const k of await pdns.cryptokeys(zone)) await pdns.deleteCryptokey(zone, k.id);
        return null;
      } catch (err) {
        return toProblem(err, 'powerdns-error', zone);
      }
    },
  };
}
