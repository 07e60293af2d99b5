import { statSync } from 'node:fs';
import { writeFileAtomic } from '../util/durable-write.js';
import { dirname } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { checkName } from '../dns/names.js';
import { reportAddressFault } from '../dns/records.js';
import { problem, ProblemError } from '../problem.js';
import { parseParams } from '../tlsa/types.js';
import { CPANEL_DEFAULTS, cpanelSettings } from '../providers/cpanel/index.js';
import { cloudflareSettings } from '../providers/cloudflare/index.js';
import { BUILTIN_INSTANCES, instanceName, instanceSchema, providerSecretPaths, RESERVED_NAMES, ZOD_CUSTOM } from '../providers/registry.js';
import { hostPort } from '../providers/schema-parts.js';

const BUDGET_MESSAGE =
  'must be a whole number from 2 to 12 (room for the served 3 1 1 and the next one at a renewal; senders such as Exchange Online accept about 12 TLSA records per MX host)';

const zoneName = z.string().refine((s) => checkName(s).ok, { message: 'is not a valid zone name' });
/** IP:PORT with the port required (IPv6 in brackets). */
const endpoint = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9.]+):\d{1,5}$/, 'must be IP:PORT ([IPv6]:PORT)');

/** A shared secret (webhook key, metrics token): long enough to resist guessing, no whitespace. */
const secret = z.string().regex(/^\S{16,256}$/, 'must be 16 to 256 characters without spaces');
/** An e-mail address for alerts, or CONTACTEMAIL (the server contact in /etc/wwwacct.conf). */
const alertAddress = z.string().refine((s) => s === 'CONTACTEMAIL' || isMailAddress(s), { message: 'must be an e-mail address (user@example.com) or CONTACTEMAIL' });

/** user@domain with a valid domain name; nothing a mail header or command line could misread. */
export function isMailAddress(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at < 1 || s.length > 254) return false;
  const local = s.slice(0, at);
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(local) && !local.startsWith('-') && !local.startsWith('.') && checkName(s.slice(at + 1)).ok;
}

/** Contact Manager importances, most important first (Cpanel/iContact/EventImportance.pm: High 1, Medium 2, Low 3). */
export const CPANEL_IMPORTANCES = ['high', 'medium', 'low'] as const;
export type CpanelImportance = (typeof CPANEL_IMPORTANCES)[number];

const ALERTS_DEFAULT = { email: [], cpanelNotifications: true, cpanelImportance: 'high' as const, sendmail: ['/usr/sbin/sendmail'], renotifyHours: 24 };
const alertsSchema = z
  .object({
    /** Addresses that get alert mail through the local MTA; CONTACTEMAIL = the server contact. Empty: no mail channel. */
    email: z.array(alertAddress).max(20).default([]),
    /** Raise alerts through cPanel's own notification system (WHM » Contact Manager). */
    cpanelNotifications: z.boolean().default(true),
    /**
     * The importance of our notifications in WHM's Contact Manager (application TLSAManager), set by
     * install.sh and the settings page with `whmapi1 set_application_contact_importance`. cPanel
     * gives an application it does not know Low, which reaches only contact methods set to "All".
     */
    cpanelImportance: z.enum(CPANEL_IMPORTANCES).default('high'),
    webhook: z.object({ url: z.string().url().refine((u) => /^https?:/i.test(u), { message: 'must be an http(s) URL' }), secret }).strict().optional(),
    /** The sendmail interface (argv; recipients are appended). */
    sendmail: z.array(z.string().min(1)).min(1).default(['/usr/sbin/sendmail']),
    /** Open alerts are sent again this often until they clear. */
    renotifyHours: z.number().min(1).max(24 * 7).default(24),
  })
  .strict();

/** MTA-STS is off until the admin opts domains in (config mtaSts). */
const MTA_STS_DEFAULT = { publish: 'off' as const, mode: 'testing' as const, maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false, autoEnforce: { enabled: false, afterDays: 14 } };

const CHECKS_DEFAULT = { dailyFullCheck: true, afterPublish: true, brokenRecheckMinutes: 30, brokenRecheckMaxHours: 6, concurrency: 16, connectionsPerHost: 8, connectionsPerSecondPerHost: 100, timerIntervalMinutes: 5, mtaStsOnDemand: true };
const checksSchema = z
  .object({
    /** Every domain is checked once a day, at its own time of day (spread over the day). */
    dailyFullCheck: z.boolean().default(true),
    /** Domains touched by a publish are checked again ~2×TTL after it (the outside proof). */
    afterPublish: z.boolean().default(true),
    /**
     * Seconds from a publish to that re-check. Unset: when senders can see the change (the longest
     * TTL of the records replaced, or the SOA minimum for new ones, plus a minute). 0: at once
     * (the demo and the lab, whose resolvers cache nothing).
     */
    afterPublishDelaySeconds: z.number().int().min(0).max(2 * 86400).optional(),
    /** A broken domain is checked again after this, doubling up to brokenRecheckMaxHours. */
    brokenRecheckMinutes: z.number().int().min(5).max(24 * 60).default(30),
    brokenRecheckMaxHours: z.number().min(1).max(24).default(6),
    /** Domains checked side by side in a scheduled run. */
    concurrency: z.number().int().min(1).max(64).default(16),
    /** At most this many TLS connections to one MX address at a time, and this many per second. */
    connectionsPerHost: z.number().int().min(1).max(64).default(8),
    connectionsPerSecondPerHost: z.number().int().min(1).max(1000).default(100),
    /** How often the timer runs reconcile (the systemd timer's interval); 2 missed runs raise an alert. */
    timerIntervalMinutes: z.number().int().min(1).max(24 * 60).default(5),
    /**
     * Not for production: connect to another address and port than the MX address DNS gave, keyed
     * "ADDRESS:PORT" ("[v6]:PORT"). The demo's simulated network uses it (its mail listeners run
     * unprivileged on high loopback ports); everything else about the check is unchanged (SNI,
     * STARTTLS or implicit TLS by the policy port, the messages name the DNS address).
     */
    smtpEndpoints: z.record(endpoint, endpoint).optional(),
    /**
     * "Check now" and "Check all" on the pages check MTA-STS too (the domains the timer checks).
     * false: they leave MTA-STS to the timer and say so. The demo sets it: its network has no
     * port 443, so a check there could only report that, over what it seeded as proven.
     */
    mtaStsOnDemand: z.boolean().default(true),
  })
  .strict();

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
        /**
         * Below this many managed TLSA record sets (owners) in a zone the share above is not
         * applied (octoDNS's rule, which counts record sets): a zone losing its one mail host
         * (3 owners) is routine, not a mass deletion.
         */
        minRecordsForDeleteLimit: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(0, 'must be 0 or more').default(10),
        /**
         * TLSA records per owner as senders see the RRset (ours, foreign, kept for rollover,
         * pre-published). Microsoft's outbound servers handle about 12 per MX host.
         */
        maxRecordsPerOwner: z
          .number({ error: BUDGET_MESSAGE })
          .int(BUDGET_MESSAGE)
          .min(2, BUDGET_MESSAGE)
          .max(12, BUDGET_MESSAGE)
          .default(10),
      })
      .strict()
      .default({ ports: [25, 465, 587], records: ['3 1 1', '2 1 1'], ttl: 3600, maxDeleteShare: 0.3, minRecordsForDeleteLimit: 10, maxRecordsPerOwner: 10 }),
    /**
     * Which provider instance serves a zone: a built-in (`cpanel`, `cloudflare`), a name under
     * `providers`, or `none`. Checked against `providers` below.
     */
    zones: z.record(zoneName, z.object({ provider: z.string().min(1) }).strict()).default({}),
    /** Named provider instances (src/providers/registry.ts): `{ "hidden": { "kind": "...", ... } }`. */
    providers: z
      .record(z.string(), instanceSchema)
      .superRefine((all, ctx) => {
        for (const name of Object.keys(all)) {
          if (RESERVED_NAMES.includes(name)) {
            ctx.addIssue({ code: ZOD_CUSTOM, path: [name], message: `"${name}" is a built-in provider name${name === 'none' ? '' : ` (its settings live under the top-level "${name}" key)`}; give this instance another name` });
          } else if (!instanceName.safeParse(name).success) {
            ctx.addIssue({ code: ZOD_CUSTOM, path: [name], message: 'an instance name must be 1 to 32 lowercase letters, digits or "-", starting with a letter' });
          }
        }
      })
      .default({}),
    cloudflare: cloudflareSettings.default({}),
    cpanel: cpanelSettings.default(CPANEL_DEFAULTS),
    resolver: hostPort.optional(),
    /** A name the resolver must report as DNSSEC-secure (self-test); default the root zone. */
    resolverProbeName: z.string().refine((s) => s === '.' || checkName(s).ok, { message: 'is not a valid name' }).optional(),
    dnssec: z
      .object({
        /** Servers to ask for a zone instead of its NS addresses ("ip" or "ip:port"): hidden primaries, labs. */
        servers: z.record(zoneName, z.array(hostPort).min(1)).default({}),
        /** Zones checked at once by `dnssec status`. */
        concurrency: z.number().int().min(1).max(512).default(64),
      })
      .strict()
      .default({ servers: {}, concurrency: 64 }),
    /** Extra addresses that count as "this server" (NAT, anycast). */
    serverAddresses: z.array(z.string()).default([]),
    alerts: alertsSchema.default(ALERTS_DEFAULT),
    checks: checksSchema.default(CHECKS_DEFAULT),
    metrics: z.object({ token: secret.optional() }).strict().default({}),
    /**
     * How many days the activity log is kept (pruned by the timer). At least 90: the domain page's
     * TLS-RPT timeline draws 90 days of publish events from it.
     */
    history: z.object({ retentionDays: z.number().int().min(90).max(3650).default(400) }).strict().default({ retentionDays: 400 }),
    /**
     * SMTP TLS reporting (RFC 8460): which mail domains get a `_smtp._tls` policy record
     * (`off`, `all`, or a list), the address senders mail reports to (default
     * `tlsrpt@<server hostname>`), and how many days received reports are kept.
     */
    tlsrpt: z
      .object({
        publish: z.union([z.enum(['off', 'all']), z.array(zoneName).max(100_000)]).default('off'),
        address: z
          .string()
          .refine((s) => reportAddressFault(s) === null, { error: (issue) => `${reportAddressFault(String(issue.input)) ?? 'is not valid'} (a mailto: address on a DNS name, e.g. tlsrpt@host.example.com)` })
          .optional(),
        retentionDays: z.number().int().min(1).max(3650).default(400),
        /**
         * Exim as argv, for the timer's route check (`<argv> -bt tlsrpt@<hostname>`); an absolute
         * argv[0] is a server path (under --root). Default `/usr/sbin/exim`; the lab uses Debian's
         * `exim4 -C <file>`.
         */
        eximCommand: z.array(z.string().min(1)).min(1).max(16).optional(),
      })
      .strict()
      .default({ publish: 'off', retentionDays: 400 }),
    /**
     * MTA-STS (RFC 8461): which mail domains get a policy served at
     * https://mta-sts.<domain>/.well-known/mta-sts.txt and a `_mta-sts` TXT record (`off`, `all`,
     * or a list), the mode a domain starts in (each domain then keeps its own, src/mtasts/state.ts),
     * the max_age of each mode, whether `*.parent` patterns may replace MX names that share a
     * parent, the move to enforce on evidence, and a CA file that replaces the system store (the
     * lab's CA; never set in production).
     */
    mtaSts: z
      .object({
        publish: z.union([z.enum(['off', 'all']), z.array(zoneName).max(100_000)]).default('off'),
        mode: z.enum(['testing', 'enforce']).default('testing'),
        // RFC 8461 §3.2: max_age at most 31557600 s; a policy under a day makes senders refetch all the time.
        maxAgeTesting: z.number().int().min(3600).max(31557600).default(86400),
        maxAgeEnforce: z.number().int().min(86400).max(31557600).default(1209600),
        mxWildcard: z.boolean().default(false),
        autoEnforce: z.object({ enabled: z.boolean().default(false), afterDays: z.number().int().min(1).max(365).default(14) }).strict().default({ enabled: false, afterDays: 14 }),
        caFile: z.string().startsWith('/', 'must be an absolute path').optional(),
      })
      .strict()
      .default(MTA_STS_DEFAULT),
    /**
     * The cPanel page for account owners (issue 28): `enabled` false turns it off for every
     * account (the page then says so); `notify` mails owners when their action is needed.
     */
    accountView: z.object({ enabled: z.boolean().default(true), notify: z.boolean().default(false) }).strict().default({ enabled: true, notify: false }),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const [zone, z] of Object.entries(c.zones)) {
      if (z.provider === 'none' || (BUILTIN_INSTANCES as readonly string[]).includes(z.provider) || Object.hasOwn(c.providers, z.provider)) continue;
      const named = Object.keys(c.providers);
      ctx.addIssue({ code: ZOD_CUSTOM, path: ['zones', zone, 'provider'], message: `"${z.provider}" is no provider: use ${[...BUILTIN_INSTANCES, ...named].join(', ')} or none` });
    }
  });

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
  throw new ProblemError(problem('config-invalid', `${file}: ${issues.join('; ')}`, { subject: file, fix: 'Correct the setting (see README "Configuration").' }));
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new ProblemError(problem('config-unreadable', `${file}: cannot be read (${(err as NodeJS.ErrnoException).code}).`, { subject: file }));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ProblemError(problem('config-invalid', `${file}: not valid JSON (${(err as Error).message}).`, { subject: file }));
  }
  return parseConfig(raw, file);
}

/** The config file holds an API token: it must not be readable by anyone but root. */
export function configPermissionProblem(file: string, config: Config): string | null {
  if (!hasSecrets(config)) return null;
  try {
    const st = statSync(file);
    if (st.mode & 0o077) return `${file} holds a secret (API token, webhook key or metrics token) but is readable by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${file}`;
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

export function hasSecrets(config: Config): boolean {
  return Boolean(providerSecretPaths(config.providers).some((p) => getPath(config, p) !== undefined) || config.alerts.webhook?.secret || config.metrics.token);
}

function getPath(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A copy of `obj` with the value at `path` replaced (only when present). */
function withPath<T>(obj: T, path: string[], value: unknown): T {
  const [k, ...rest] = path;
  if (k === undefined || obj === null || typeof obj !== 'object' || !Object.hasOwn(obj, k)) return obj;
  const o = obj as Record<string, unknown>;
  return { ...o, [k]: rest.length === 0 ? value : withPath(o[k], rest, value) } as T;
}

const MASK = '••••••••';

/** A copy safe to show or log: secrets replaced by a mask. */
export function redactConfig(config: Config): Config {
  let out = config;
  // Provider secrets as each module declares them (src/providers/registry.ts).
  for (const p of providerSecretPaths(config.providers)) if (getPath(out, p) !== undefined) out = withPath(out, p, MASK);
  return {
    ...out,
    alerts: { ...config.alerts, ...(config.alerts.webhook ? { webhook: { ...config.alerts.webhook, secret: MASK } } : {}) },
    metrics: { ...config.metrics, ...(config.metrics.token ? { token: MASK } : {}) },
  };
}
