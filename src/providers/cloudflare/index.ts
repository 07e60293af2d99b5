/** Cloudflare through its official SDK (./client.ts, loaded only when a zone uses it: ~0.5 s). */
import { z } from 'zod';
import { problem } from '../../problem.js';
import type { ProviderModule } from '../types.js';

export const cloudflareSettings = z.object({ apiToken: z.string().min(1).optional(), baseURL: z.string().url().optional() }).strict();
export type CloudflareSettings = z.infer<typeof cloudflareSettings>;

/**
 * The Cloudflare API token and base URL: the settings first, then the environment
 * (CLOUDFLARE_API_TOKEN, CLOUDFLARE_BASE_URL). The one place that reads either.
 */
export function cloudflareAccess(settings: CloudflareSettings): { apiToken?: string; baseURL?: string } {
  const apiToken = settings.apiToken ?? process.env.CLOUDFLARE_API_TOKEN;
  const baseURL = settings.baseURL ?? process.env.CLOUDFLARE_BASE_URL;
  return { ...(apiToken ? { apiToken } : {}), ...(baseURL ? { baseURL } : {}) };
}

export const cloudflareProvider: ProviderModule<'cloudflare', CloudflareSettings> = {
  kind: 'cloudflare',
  label: 'Cloudflare',
  settings: cloudflareSettings,
  secrets: ['apiToken'],
  fields: [
    { path: 'apiToken', label: 'API token (Zone:Zone:Read, Zone:DNS:Edit)', secret: true },
    { path: 'baseURL', label: 'API base URL (empty: Cloudflare)', secret: false, placeholder: 'https://api.cloudflare.com/client/v4' },
  ],
  capabilities: { tlsa: true, txt: true, dnssec: true, dsLookup: true, verify: true, batchSize: 200, marksOwnership: true },
  namedInstances: true,
  describe: (s) => cloudflareAccess(s).baseURL ?? 'Cloudflare API',
  async create(settings, host) {
    const { apiToken, baseURL } = cloudflareAccess(settings);
    if (!apiToken) {
      return problem('cloudflare-no-token', 'A zone is set to Cloudflare but no API token is configured.', {
        fix: 'Enter a Cloudflare API token (Zone:Zone:Read and Zone:DNS:Edit) in the settings, or set CLOUDFLARE_API_TOKEN.',
        severity: 'error',
      });
    }
    const [{ CloudflareProvider }, { cloudflareDnssec }] = await Promise.all([import('./client.js'), import('../../dnssec/cloudflare-signer.js')]);
    const cf = new CloudflareProvider({ apiToken, ...(baseURL ? { baseURL } : {}), logger: host.logger });
    cf.signer = cloudflareDnssec(cf);
    return cf;
  },
};
