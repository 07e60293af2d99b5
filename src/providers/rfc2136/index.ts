/**
 * RFC 2136 dynamic updates with TSIG (RFC 8945) to a DNS server that holds the zones (a hidden
 * primary: BIND, Knot, PowerDNS…). Implementation: ./client.ts (populate, apply, verify),
 * ./tsig.ts, ./wire.ts, ./transport.ts; loaded only when a zone uses it.
 */
import { z } from 'zod';
import { dnsName, hostPort } from '../schema-parts.js';
import type { ProviderModule } from '../types.js';
import { TSIG_ALGORITHMS } from './tsig.js';

/** Base64 of at least 16 bytes (tsig-keygen makes 32 for hmac-sha256); the value is a secret, so it is never echoed. */
const base64Secret = z
  .string()
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'must be base64 (as tsig-keygen or keymgr prints it)')
  .refine((s) => Buffer.from(s, 'base64').length >= 16, 'must be at least 16 bytes once base64-decoded');

export const rfc2136Settings = z
  .object({
    /** The server's address, port 53 when none is given. */
    server: hostPort,
    tsig: z
      .object({
        name: dnsName,
        algorithm: z.enum(TSIG_ALGORITHMS).default('hmac-sha256'),
        secret: base64Secret,
      })
      .strict(),
    /** When set, the only zones this instance reads or changes. */
    zones: z.array(dnsName).max(10_000).optional(),
    /** Seconds one exchange with the server may take. */
    timeoutSeconds: z.number().int().min(1).max(60).default(5),
  })
  .strict();
export type Rfc2136Settings = z.infer<typeof rfc2136Settings>;

export const rfc2136Provider: ProviderModule<'rfc2136', Rfc2136Settings> = {
  kind: 'rfc2136',
  label: 'RFC 2136 dynamic update (TSIG)',
  settings: rfc2136Settings,
  secrets: ['tsig.secret'],
  fields: [
    { path: 'server', label: 'DNS server address (IP or IP:PORT; port 53 when none)', secret: false, placeholder: '192.0.2.53:53' },
    { path: 'tsig.name', label: 'TSIG key name (as on the server)', secret: false, placeholder: 'tlsa-manager.' },
    { path: 'tsig.algorithm', label: 'TSIG algorithm (hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1)', secret: false, placeholder: 'hmac-sha256' },
    { path: 'tsig.secret', label: 'TSIG secret (base64, as tsig-keygen prints it)', secret: true },
    { path: 'zones', label: 'Zones this server may change (empty: every zone set to this provider)', secret: false, placeholder: 'example.com, example.net' },
    { path: 'timeoutSeconds', label: 'Seconds to wait for the server', secret: false, placeholder: '5' },
  ],
  // The whole zone's changes go in one UPDATE, which the server applies all or nothing (§3.2).
  capabilities: { tlsa: true, txt: true, dnssec: false, dsLookup: false, verify: true, batchSize: Infinity, marksOwnership: false },
  namedInstances: true,
  describe: (s) => s.server,
  async create(settings, host) {
    const { Rfc2136Provider } = await import('./client.js');
    return new Rfc2136Provider({
      server: settings.server,
      key: { name: settings.tsig.name, algorithm: settings.tsig.algorithm, secret: Buffer.from(settings.tsig.secret, 'base64') },
      ...(settings.zones ? { zones: settings.zones } : {}),
      timeoutMs: settings.timeoutSeconds * 1000,
      confirmMs: 10_000,
      logger: host.logger,
      now: host.now,
    });
  },
};
