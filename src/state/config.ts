import { statSync } from 'node:fs';
import { writeFileAtomic } from '../util/durable-write.js';
import { dirname } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { checkName } from '../dns/names.js';
import { ProblemError } from '../problem.js';
import { parseParams } from '../tlsa/types.js';

const zoneName = z.string().refine((s) => checkName(s).ok, { message: 'is not a valid zone name' });
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:.]+)(:\d{1,5})?$/, 'must be IP or IP:PORT');

export const configSchema = z
  .object({
    policy: z
      .object({
        ports: z.array(z.number().int().min(1).max(65535)).min(1).default([25, 465, 587]),
        records: z
          .array(z.string().refine((s) => parseParams(s) !== null, { message: 'must look like "3 1 1" (usage selector matching-type)' }))
          .min(1)
          .default(['3 1 1', '2 1 1']),
        ttl: z.number().int().min(60).max(86400).default(3600),
        /** Largest share of a zone's managed records one plan may delete without a replacement. */
        maxDeleteShare: z.number().min(0).max(1).default(0.3),
      })
      .strict()
      .default({ ports: [25, 465, 587], records: ['3 1 1', '2 1 1'], ttl: 3600, maxDeleteShare: 0.3 }),
    zones: z.record(zoneName, z.object({ provider: z.enum(['cpanel', 'cloudflare', 'none']) }).strict()).default({}),
    cloudflare: z.object({ apiToken: z.string().min(1).optional(), baseURL: z.string().url().optional() }).strict().default({}),
    cpanel: z
      .object({
        reloadCommand: z.array(z.string().min(1)).min(1).default(['rndc', 'reload', '{zone}']),
        /** Asked after a zone-file edit to confirm the change is served; false skips that. */
        authoritative: z.union([hostPort, z.literal(false)]).default('127.0.0.1:53'),
        /** Prefer WHM API 1 when present (cluster sync); false forces direct zone-file edits. */
        useWhmApi: z.boolean().default(true),
      })
      .strict()
      .default({ reloadCommand: ['rndc', 'reload', '{zone}'], authoritative: '127.0.0.1:53', useWhmApi: true }),
    resolver: hostPort.optional(),
    /** A name the resolver must report as DNSSEC-secure (self-test); default the root zone. */
    resolverProbeName: z.string().refine((s) => s === '.' || checkName(s).ok, { message: 'is not a valid name' }).optional(),
    /** Extra addresses that count as "this server" (NAT, anycast). */
    serverAddresses: z.array(z.string()).default([]),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export const CONFIG_PATH = '/etc/tlsa-manager/config.json';

export function defaultConfig(): Config {
  return configSchema.parse({});
}

/** Validate raw JSON; errors name the file, the key and what is wrong. */
export function parseConfig(raw: unknown, file: string): Config {
  const r = configSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
  throw new ProblemError({ code: 'config-invalid', message: `${file}: ${issues.join('; ')}`, subject: file, fix: 'Correct the setting (see README "Configuration").' });
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new ProblemError({ code: 'config-unreadable', message: `${file}: cannot be read (${(err as NodeJS.ErrnoException).code}).`, subject: file });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProblemError({ code: 'config-invalid', message: `${file}: not valid JSON (${(err as Error).message}).`, subject: file });
  }
  return parseConfig(raw, file);
}

/** The config file holds an API token: it must not be readable by anyone but root. */
export function configPermissionProblem(file: string, config: Config): string | null {
  if (!config.cloudflare.apiToken) return null;
  try {
    const st = statSync(file);
    if (st.mode & 0o077) return `${file} holds an API token but is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`;
  } catch {
    return null;
  }
  return null;
}

/** Write atomically with mode 0600 (temp file, fsync, rename). */
export function saveConfig(file: string, config: Config): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/**
 * Change the configuration of a running process (the web app's settings page): the file is
 * written first, so a failed write leaves both the file and the process on the old settings.
 */
export function replaceConfig(holder: { configPath: string; config: Config }, next: Config): void {
  saveConfig(holder.configPath, next);
  holder.config = next;
}

/** A copy safe to show or log: secrets replaced by a mask. */
export function redactConfig(config: Config): Config {
  return { ...config, cloudflare: { ...config.cloudflare, ...(config.cloudflare.apiToken ? { apiToken: '••••••••' } : {}) } };
}
