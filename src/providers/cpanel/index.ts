/**
 * The server's own zones: through WHM API 1 when cPanel is present (so DNS clusters sync), else
 * the zone file itself (./zonefile.ts). Signing through cPanel's PowerDNS.
 */
import { z } from 'zod';
import { hostPort } from '../schema-parts.js';
import type { ProviderModule } from '../types.js';

export const cpanelSettings = z
  .object({
    reloadCommand: z.array(z.string().min(1)).min(1).default(['rndc', 'reload', '{zone}']),
    /** Asked after a zone-file edit to confirm the change is served; false skips that. */
    authoritative: z.union([hostPort, z.literal(false)]).default('127.0.0.1:53'),
    /** Prefer WHM API 1 when present (cluster sync); false forces direct zone-file edits. */
    useWhmApi: z.boolean().default(true),
    /** How long the authoritative server may take to serve an edit before it is undone. */
    confirmSeconds: z.number().int().min(1).max(300).default(10),
  })
  .strict();
export type CpanelSettings = z.infer<typeof cpanelSettings>;
export const CPANEL_DEFAULTS: CpanelSettings = { reloadCommand: ['rndc', 'reload', '{zone}'], authoritative: '127.0.0.1:53', useWhmApi: true, confirmSeconds: 10 };

export const cpanelProvider: ProviderModule<'cpanel', CpanelSettings> = {
  kind: 'cpanel',
  label: 'cPanel (this server)',
  settings: cpanelSettings,
  secrets: [],
  fields: [],
  capabilities: { tlsa: true, txt: true, dnssec: true, dsLookup: true, verify: false, batchSize: Infinity, marksOwnership: false },
  // One server has one set of zone files.
  namedInstances: false,
  describe: () => 'this server',
  async create(settings, host) {
    const [{ WhmApi }, { createWhmApi1Provider }, { createZoneFileProvider }, { cpanelDnssec }] = await Promise.all([
      import('../../cpanel/whmapi.js'),
      import('./whmapi1.js'),
      import('./zonefile.js'),
      import('../../dnssec/cpanel-signer.js'),
    ]);
    const env = { root: host.root, now: host.now, journalStep: host.journalStep, cpanel: settings };
    const useApi = settings.useWhmApi && WhmApi.available(host.root);
    const p = useApi ? createWhmApi1Provider(env) : createZoneFileProvider(env);
    return { ...p, signer: cpanelDnssec(host.root) };
  },
};
