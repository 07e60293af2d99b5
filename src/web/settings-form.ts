import { parseConfig, type Config } from '../state/config.js';
import { ProblemError, problem } from '../problem.js';
import { formList, formString } from './params.js';
import { checkName, printable } from '../dns/names.js';

export const PROVIDER_CHOICES = ['cpanel', 'cloudflare', 'none'] as const;
export const RECORD_CHOICES = ['3 1 1', '2 1 1', '3 1 2', '2 1 2', '3 0 1', '2 0 1'] as const;

/** The form's values as shown back after a failed save; the token is never among them. */
export interface SettingsFormValues {
  zones: { zone: string; provider: string }[];
  ports: string;
  records: string[];
  ttl: string;
  resolver: string;
  tokenSaved: boolean;
}

export function formValues(config: Config): SettingsFormValues {
  return {
    zones: Object.entries(config.zones).map(([zone, z]) => ({ zone, provider: z.provider })),
    ports: config.policy.ports.join(', '),
    records: config.policy.records,
    ttl: String(config.policy.ttl),
    resolver: config.resolver ?? '',
    tokenSaved: !!config.cloudflare.apiToken,
  };
}

export function valuesFromBody(body: Record<string, unknown>, config: Config): SettingsFormValues {
  const zones = formList(body.zone);
  const providers = formList(body.provider);
  return {
    zones: zones.map((zone, i) => ({ zone: zone.trim(), provider: providers[i] ?? '' })).filter((z) => z.zone !== ''),
    ports: formString(body.ports),
    records: formList(body.records),
    ttl: formString(body.ttl),
    resolver: formString(body.resolver).trim(),
    tokenSaved: !!config.cloudflare.apiToken,
  };
}

function bad(message: string, fix: string): never {
  throw new ProblemError(problem('settings-invalid', message, { fix }));
}

/**
 * Form → a new Config. Form-shaped mistakes (a port that is not a number) get their own
 * message; the rest is checked by parseConfig, the same validation the config file gets.
 * The token: a new one replaces the old, an empty field keeps it, "remove" deletes it.
 */
export function configFromForm(body: Record<string, unknown>, current: Config): { config: Config; changed: string[] } {
  const v = valuesFromBody(body, current);
  const ports = v.ports
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((p) => {
      if (!/^\d{1,5}$/.test(p)) bad(`Ports: "${p.slice(0, 20)}" is not a port number.`, 'List port numbers separated by commas, e.g. 25, 465, 587.');
      return Number(p);
    });
  if (!/^\d{1,6}$/.test(v.ttl)) bad(`TTL: "${v.ttl.slice(0, 20)}" is not a whole number of seconds.`, 'Enter a TTL from 60 to 86400 seconds, e.g. 3600.');
  const zones: Record<string, { provider: string }> = {};
  for (const z of v.zones) {
    const name = checkName(z.zone);
    if (!name.ok) bad(`Zones: "${printable(z.zone, 80)}" is not a valid zone name: ${name.reason}.`, 'Enter the zone as a plain domain name, e.g. example.com.');
    if (zones[z.zone.toLowerCase()]) bad(`Zones: ${z.zone.slice(0, 80)} is listed twice.`, 'Keep one line per zone.');
    zones[z.zone.toLowerCase()] = { provider: z.provider };
  }
  const newToken = formString(body.apiToken).trim();
  const cloudflare = { ...current.cloudflare };
  if (formString(body.removeToken) === '1') delete cloudflare.apiToken;
  else if (newToken) cloudflare.apiToken = newToken;
  const raw = {
    ...current,
    policy: { ...current.policy, ports, records: v.records, ttl: Number(v.ttl) },
    zones,
    cloudflare,
    ...(v.resolver ? { resolver: v.resolver } : { resolver: undefined }),
  };
  if (!v.resolver) delete (raw as { resolver?: string }).resolver;
  let config: Config;
  try {
    config = parseConfig(raw, 'settings');
  } catch (err) {
    if (err instanceof ProblemError) bad(err.problem.message.replace(/^settings: /, ''), 'Correct the field named in the message and save again.');
    throw err;
  }
  const changed: string[] = [];
  if (JSON.stringify(config.zones) !== JSON.stringify(current.zones)) changed.push('zones');
  if (JSON.stringify(config.policy) !== JSON.stringify(current.policy)) changed.push('policy');
  if ((config.resolver ?? '') !== (current.resolver ?? '')) changed.push('resolver');
  if (config.cloudflare.apiToken !== current.cloudflare.apiToken) changed.push(config.cloudflare.apiToken ? 'cloudflare token replaced' : 'cloudflare token removed');
  return { config, changed };
}
