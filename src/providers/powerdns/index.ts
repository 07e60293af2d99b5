/**
 * PowerDNS Authoritative through its HTTP API (./client.ts): one PATCH per zone, applied by
 * PowerDNS as one transaction; signing through the API's cryptokeys (dnssec/powerdns-signer.ts).
 */
import { z } from 'zod';
import type { ProviderModule } from '../types.js';

export const powerdnsSettings = z
  .object({
    /** The PowerDNS webserver (pdns.conf webserver-address and webserver-port); `/api/v1` is added. */
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\/[^/]/i.test(u), 'must be an http:// or https:// URL')
      // The URL is shown on pages and in logs (describe): no credentials in it, the key has its own field.
      .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'must not hold a user name or password (the API key goes in apiKey)'),
    /** pdns.conf `api-key`. */
    apiKey: z.string().min(1),
    /** The server id in the API's paths; PowerDNS itself is always `localhost`. */
    serverId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be letters, digits, ".", "_" or "-"').default('localhost'),
  })
  .strict();
export type PowerdnsSettings = z.infer<typeof powerdnsSettings>;

export const powerdnsProvider: ProviderModule<'powerdns', PowerdnsSettings> = {
  kind: 'powerdns',
  label: 'PowerDNS (HTTP API)',
  settings: powerdnsSettings,
  secrets: ['apiKey'],
  fields: [
    { path: 'url', label: 'API URL (the PowerDNS webserver: webserver-address and webserver-port)', secret: false, placeholder: 'http://127.0.0.1:8081' },
    { path: 'apiKey', label: 'API key (api-key in pdns.conf)', secret: true },
    { path: 'serverId', label: 'Server id (empty: localhost)', secret: false, placeholder: 'localhost' },
  ],
  // One PATCH carries a zone's changes, whatever their number; ownership is a comment on the RRset.
  capabilities: { tlsa: true, txt: true, dnssec: true, dsLookup: true, verify: true, batchSize: Infinity, marksOwnership: true },
  namedInstances: true,
  describe: (s) => s.url,
  async create(settings, host) {
    const [{ PowerDnsProvider }, { powerdnsDnssec }] = await Promise.all([import('./client.js'), import('../../dnssec/powerdns-signer.js')]);
    const p = new PowerDnsProvider({ url: settings.url, apiKey: settings.apiKey, serverId: settings.serverId, logger: host.logger });
    p.signer = powerdnsDnssec(p);
    return p;
  },
};
