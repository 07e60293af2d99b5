import { CPANEL_IMPORTANCES, parseConfig, type Config } from '../state/config.js';
import { ProblemError, problem } from '../problem.js';
import { formList, formString } from './params.js';
import { checkName, printable } from '../dns/names.js';
import { BUILTIN_INSTANCES, instanceName, isProviderKind, PROVIDERS, providerModule, RESERVED_NAMES } from '../providers/registry.js';
import { changedFields, formFields, formState, settingsFromForm, type FormField } from './provider-form.js';

/** The named provider instances as the settings page lists them: never a secret's value, only whether it is saved. */
export function instanceRows(config: Config): { name: string; label: string; server: string; verify: boolean; secrets: { path: string; saved: boolean }[] }[] {
  return Object.entries(config.providers).map(([name, inst]) => {
    const m = providerModule(inst.kind);
    const { kind: _kind, ...settings } = inst;
    const saved = (path: string) => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), settings) !== undefined;
    return { name, label: m.label, server: m.describe(settings), verify: m.capabilities.verify, secrets: m.secrets.map((path) => ({ path, saved: saved(path) })) };
  });
}

/** The per-zone provider choices: the built-in instances, the named ones (labelled by their module), and none. */
export function providerChoices(config: Config): { value: string; label: string }[] {
  return [
    ...BUILTIN_INSTANCES.map((b) => ({ value: b, label: providerModule(b).label })),
    ...Object.entries(config.providers).map(([name, inst]) => ({ value: name, label: `${name} (${providerModule(inst.kind).label})` })),
    { value: 'none', label: 'Not managed' },
  ];
}
export const RECORD_CHOICES = ['3 1 1', '2 1 1', '3 1 2', '2 1 2', '3 0 1', '2 0 1'] as const;

/** The form's values as shown back after a failed save; the token is never among them. */
export interface SettingsFormValues {
  zones: { zone: string; provider: string }[];
  ports: string;
  records: string[];
  ttl: string;
  resolver: string;
  /** Alerts and checks (secrets only as "saved or not"). */
  alertEmail: string;
  cpanelNotifications: boolean;
  /** high | medium | low (anything else is refused on save). */
  cpanelImportance: string;
  webhookUrl: string;
  webhookSecretSaved: boolean;
  metricsTokenSaved: boolean;
  dailyFullCheck: boolean;
  afterPublish: boolean;
  /** TLS-RPT: which domains get a policy, the domains of the "list" choice one per line, the address ('' = the default). */
  tlsrptPublish: string;
  tlsrptDomains: string;
  tlsrptAddress: string;
  /** The account owners' page and their e-mails (accountView); the raw box values, checked on save. */
  accountViewEnabled: string;
  accountViewNotify: string;
  /** MTA-STS (issue 27 §1): the raw field values, checked on save; caFile is lab-only and not on the page. */
  mtaStsPublish: string;
  mtaStsDomains: string;
  mtaStsMode: string;
  mtaStsMaxAgeTesting: string;
  mtaStsMaxAgeEnforce: string;
  mtaStsMxWildcard: string;
  mtaStsAutoEnforce: string;
  mtaStsAfterDays: string;
}

export const TLSRPT_PUBLISH_CHOICES = ['off', 'all', 'list'] as const;
/** MTA-STS publishes for the same three choices as TLS-RPT. */
export const MTA_STS_PUBLISH_CHOICES = TLSRPT_PUBLISH_CHOICES;
export const MTA_STS_MODE_CHOICES = ['testing', 'enforce'] as const;

export function formValues(config: Config): SettingsFormValues {
  return {
    zones: Object.entries(config.zones).map(([zone, z]) => ({ zone, provider: z.provider })),
    ports: config.policy.ports.join(', '),
    records: config.policy.records,
    ttl: String(config.policy.ttl),
    resolver: config.resolver ?? '',
    ...alertValues(config),
    ...tlsrptValues(config),
    ...accountViewValues(config),
    ...mtaStsValues(config),
  };
}

function mtaStsValues(config: Config) {
  const m = config.mtaSts;
  return {
    mtaStsPublish: Array.isArray(m.publish) ? 'list' : m.publish,
    mtaStsDomains: Array.isArray(m.publish) ? m.publish.join('\n') : '',
    mtaStsMode: m.mode,
    mtaStsMaxAgeTesting: String(m.maxAgeTesting),
    mtaStsMaxAgeEnforce: String(m.maxAgeEnforce),
    mtaStsMxWildcard: m.mxWildcard ? '1' : '',
    mtaStsAutoEnforce: m.autoEnforce.enabled ? '1' : '',
    mtaStsAfterDays: String(m.autoEnforce.afterDays),
  };
}

function accountViewValues(config: Config) {
  return { accountViewEnabled: config.accountView.enabled ? '1' : '', accountViewNotify: config.accountView.notify ? '1' : '' };
}

function tlsrptValues(config: Config) {
  const publish = config.tlsrpt.publish;
  return {
    tlsrptPublish: Array.isArray(publish) ? 'list' : publish,
    tlsrptDomains: Array.isArray(publish) ? publish.join('\n') : '',
    tlsrptAddress: config.tlsrpt.address ?? '',
  };
}

function alertValues(config: Config) {
  return {
    alertEmail: config.alerts.email.join(', '),
    cpanelNotifications: config.alerts.cpanelNotifications,
    cpanelImportance: config.alerts.cpanelImportance,
    webhookUrl: config.alerts.webhook?.url ?? '',
    webhookSecretSaved: !!config.alerts.webhook?.secret,
    metricsTokenSaved: !!config.metrics.token,
    dailyFullCheck: config.checks.dailyFullCheck,
    afterPublish: config.checks.afterPublish,
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
    ...(formString(body.alertsForm) === '1'
      ? {
          ...alertValues(config),
          alertEmail: formString(body.alertEmail).trim(),
          cpanelNotifications: formString(body.cpanelNotifications) === '1',
          cpanelImportance: formString(body.cpanelImportance),
          webhookUrl: formString(body.webhookUrl).trim(),
          dailyFullCheck: formString(body.dailyFullCheck) === '1',
          afterPublish: formString(body.afterPublish) === '1',
        }
      : alertValues(config)),
    ...(formString(body.tlsrptForm) === '1'
      ? { tlsrptPublish: formString(body.tlsrptPublish), tlsrptDomains: formString(body.tlsrptDomains), tlsrptAddress: formString(body.tlsrptAddress).trim() }
      : tlsrptValues(config)),
    ...(formString(body.accountViewForm) === '1'
      ? { accountViewEnabled: formString(body.accountViewEnabled), accountViewNotify: formString(body.accountViewNotify) }
      : accountViewValues(config)),
    ...(formString(body.mtaStsForm) === '1'
      ? {
          mtaStsPublish: formString(body.mtaStsPublish),
          mtaStsDomains: formString(body.mtaStsDomains),
          mtaStsMode: formString(body.mtaStsMode),
          mtaStsMaxAgeTesting: formString(body.mtaStsMaxAgeTesting).trim(),
          mtaStsMaxAgeEnforce: formString(body.mtaStsMaxAgeEnforce).trim(),
          mtaStsMxWildcard: formString(body.mtaStsMxWildcard),
          mtaStsAutoEnforce: formString(body.mtaStsAutoEnforce),
          mtaStsAfterDays: formString(body.mtaStsAfterDays).trim(),
        }
      : mtaStsValues(config)),
  };
}

/**
 * The MTA-STS part of the form (issue 27 §1; only when the form carried it, like alerts). Form-shaped
 * mistakes get their own message here; the ranges (max_age, afterDays) are config.ts's rule, checked
 * by parseConfig with the rest. caFile (the lab's CA) is not on the page and is kept as saved.
 */
function mtaStsFromForm(body: Record<string, unknown>, v: SettingsFormValues, current: Config): Config['mtaSts'] {
  if (formString(body.mtaStsForm) !== '1') return current.mtaSts;
  const publish = publishFromForm('MTA-STS', v.mtaStsPublish, v.mtaStsDomains);
  const mode = MTA_STS_MODE_CHOICES.find((m) => m === v.mtaStsMode);
  if (!mode) bad('MTA-STS: the start mode is either Testing or Enforce.', 'Choose one of the two and save again.');
  for (const [label, value] of [['“*.parent” patterns', v.mtaStsMxWildcard], ['Move to enforce on evidence', v.mtaStsAutoEnforce]] as const) {
    if (value !== '' && value !== '1') bad(`MTA-STS: ${label}: the box is either ticked or not.`, 'Reload the settings page and save again.');
  }
  const whole = (label: string, value: string, example: string) => {
    if (!/^\d{1,9}$/.test(value)) bad(`MTA-STS: ${label}: "${printable(value.slice(0, 20), 20)}" is not a whole number.`, `Enter a whole number, e.g. ${example}.`);
    return Number(value);
  };
  return {
    ...current.mtaSts,
    publish,
    mode,
    maxAgeTesting: whole('max_age while testing', v.mtaStsMaxAgeTesting, '86400 (a day)'),
    maxAgeEnforce: whole('max_age under enforce', v.mtaStsMaxAgeEnforce, '1209600 (two weeks)'),
    mxWildcard: v.mtaStsMxWildcard === '1',
    autoEnforce: { enabled: v.mtaStsAutoEnforce === '1', afterDays: whole('days of clean evidence', v.mtaStsAfterDays, '14') },
  };
}

/**
 * Off, all, or the listed domains (TLS-RPT and MTA-STS): a bad line is named, and "list" with no
 * domain is refused rather than saved as an empty list.
 */
function publishFromForm(section: string, choice: string, domainsText: string): 'off' | 'all' | string[] {
  if (!(TLSRPT_PUBLISH_CHOICES as readonly string[]).includes(choice)) bad(`${section}: choose Off, All domains or Only these domains.`, 'Pick one of the three choices and save again.');
  if (choice !== 'list') return choice as 'off' | 'all';
  const domains = new Set<string>();
  for (const line of domainsText.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const name = checkName(line.trim());
    if (!name.ok) bad(`${section}: "${printable(line.trim(), 80)}" is not a domain name: ${name.reason}.`, 'Enter one domain per line, e.g. example.com.');
    domains.add(name.name);
  }
  if (domains.size === 0) bad(`${section}: "Only these domains" is chosen but no domain is listed.`, 'List the domains one per line, or choose Off.');
  return [...domains];
}

/**
 * The account owners' part of the form (issue 28; only when the form carried it, like alerts). A
 * box is '1' or absent; e-mails without the page are refused: the mails send the owner to the
 * page, and the page is where the owner turns them off.
 */
function accountViewFromForm(body: Record<string, unknown>, v: SettingsFormValues, current: Config): Config['accountView'] {
  if (formString(body.accountViewForm) !== '1') return current.accountView;
  for (const [label, value] of [['Account owners’ page', v.accountViewEnabled], ['E-mail account owners', v.accountViewNotify]] as const) {
    if (value !== '' && value !== '1') bad(`${label}: the box is either ticked or not.`, 'Reload the settings page and save again.');
  }
  const enabled = v.accountViewEnabled === '1';
  const notify = v.accountViewNotify === '1';
  if (notify && !enabled) bad('E-mail account owners: the mails need the account owners’ page (they send owners there, and it is where owners turn them off).', 'Tick “Account owners’ page” too, or untick the e-mails.');
  return { enabled, notify };
}

/**
 * The TLS-RPT part of the form (only when the form carried it, like alerts). The domains get a
 * message naming the bad line; the address is checked by parseConfig (config.ts's rule). An
 * empty address means the default, tlsrpt@<hostname>, so it is left out of the file.
 */
function tlsrptFromForm(body: Record<string, unknown>, v: SettingsFormValues, current: Config): Config['tlsrpt'] {
  if (formString(body.tlsrptForm) !== '1') return current.tlsrpt;
  const publish = publishFromForm('TLS reporting', v.tlsrptPublish, v.tlsrptDomains);
  const { address: _old, ...rest } = current.tlsrpt;
  return { ...rest, publish, ...(v.tlsrptAddress ? { address: v.tlsrptAddress } : {}) };
}

/**
 * The alerts part of the form (only when the form carried it: older forms leave alerts alone).
 * Secrets are write-only: a new value replaces the saved one, an empty field keeps it, the
 * remove box deletes it.
 */
function alertsFromForm(body: Record<string, unknown>, v: SettingsFormValues, current: Config): Pick<Config, 'alerts' | 'checks' | 'metrics'> {
  if (formString(body.alertsForm) !== '1') return { alerts: current.alerts, checks: current.checks, metrics: current.metrics };
  const email = v.alertEmail.split(/[\s,;]+/).filter(Boolean);
  const newSecret = formString(body.webhookSecret).trim();
  let webhook = current.alerts.webhook;
  if (formString(body.removeWebhook) === '1' || !v.webhookUrl) webhook = undefined;
  else {
    const secret = newSecret || current.alerts.webhook?.secret;
    if (!secret) bad('Webhook: a shared secret is needed to sign the messages.', 'Enter a secret of 16 or more characters (the receiver checks X-TLSA-Manager-Signature with it).');
    webhook = { url: v.webhookUrl, secret };
  }
  const newToken = formString(body.metricsToken).trim();
  const metrics = { ...current.metrics };
  if (formString(body.removeMetricsToken) === '1') delete metrics.token;
  else if (newToken) metrics.token = newToken;
  // A form without the field (an older page) keeps the saved importance.
  const cpanelImportance = v.cpanelImportance === '' ? current.alerts.cpanelImportance : CPANEL_IMPORTANCES.find((i) => i === v.cpanelImportance);
  if (!cpanelImportance) bad('cPanel notifications: the importance must be High, Medium or Low.', 'Choose one of the three.');
  const alerts = { ...current.alerts, email, cpanelNotifications: v.cpanelNotifications, cpanelImportance };
  if (webhook) alerts.webhook = webhook;
  else delete alerts.webhook;
  return { alerts, checks: { ...current.checks, dailyFullCheck: v.dailyFullCheck, afterPublish: v.afterPublish }, metrics };
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
  const choices = providerChoices(current);
  for (const z of v.zones) {
    const name = checkName(z.zone);
    if (!name.ok) bad(`Zones: "${printable(z.zone, 80)}" is not a valid zone name: ${name.reason}.`, 'Enter the zone as a plain domain name, e.g. example.com.');
    if (!choices.some((c) => c.value === z.provider)) bad(`Zones: choose the DNS provider for ${printable(z.zone, 80)}.`, `Pick ${choices.map((c) => c.label).join(', ')} in the row of the zone.`);
    if (zones[z.zone.toLowerCase()]) bad(`Zones: ${z.zone.slice(0, 80)} is listed twice.`, 'Keep one line per zone.');
    zones[z.zone.toLowerCase()] = { provider: z.provider };
  }
  // The built-in Cloudflare instance's fields sit in the main form without a prefix (apiToken, baseURL).
  const cloudflare = settingsFromForm(providerModule('cloudflare'), body, '', current.cloudflare);
  const raw = {
    ...current,
    policy: { ...current.policy, ports, records: v.records, ttl: Number(v.ttl) },
    zones,
    cloudflare,
    ...alertsFromForm(body, v, current),
    tlsrpt: tlsrptFromForm(body, v, current),
    accountView: accountViewFromForm(body, v, current),
    mtaSts: mtaStsFromForm(body, v, current),
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
  for (const f of changedFields(providerModule('cloudflare'), current.cloudflare, config.cloudflare)) changed.push(`cloudflare ${f}`);
  // Never the secrets themselves: the activity log shows only that they changed.
  const { webhook: _w, ...alertsShown } = config.alerts;
  const { webhook: _cw, ...currentShown } = current.alerts;
  if (JSON.stringify(alertsShown) !== JSON.stringify(currentShown) || config.alerts.webhook?.url !== current.alerts.webhook?.url) changed.push('alerts');
  if (config.alerts.webhook?.secret !== current.alerts.webhook?.secret) changed.push(config.alerts.webhook ? 'webhook secret set' : 'webhook removed');
  if (JSON.stringify(config.checks) !== JSON.stringify(current.checks)) changed.push('checks');
  if (JSON.stringify(config.tlsrpt) !== JSON.stringify(current.tlsrpt)) changed.push('TLS reporting');
  if (JSON.stringify(config.accountView) !== JSON.stringify(current.accountView)) changed.push('account owners');
  if (JSON.stringify(config.mtaSts) !== JSON.stringify(current.mtaSts)) changed.push('MTA-STS');
  if (config.metrics.token !== current.metrics.token) changed.push(config.metrics.token ? 'metrics token replaced' : 'metrics token removed');
  return { config, changed };
}

/** One provider form as the page draws it (views/partials/form/provider-fields.ejs). */
export interface ProviderFormView {
  kind: string;
  label: string;
  fields: FormField[];
  values: Record<string, string | boolean>;
  saved: Record<string, boolean>;
}

/** The built-in Cloudflare instance's fields in the main form. */
export function builtinCloudflareForm(config: Config): ProviderFormView {
  const m = providerModule('cloudflare');
  return { kind: m.kind, label: m.label, fields: formFields(m), ...formState(m, config.cloudflare) };
}

/** An empty form per kind that may have named instances (the "Add" forms). */
export function newInstanceForms(): ProviderFormView[] {
  return PROVIDERS.filter((p) => p.namedInstances).map((p) => ({ kind: p.kind, label: p.label, fields: formFields(p as never), values: formState(p as never, {}).values, saved: {} }));
}

/** Each named instance's edit form: its fields with the saved values, secrets only as saved or not. */
export function instanceForms(config: Config): (ProviderFormView & { name: string; usedBy: string[] })[] {
  return Object.entries(config.providers).map(([name, inst]) => {
    const m = providerModule(inst.kind);
    const { kind: _kind, ...settings } = inst;
    return { name, kind: m.kind, label: m.label, fields: formFields(m), ...formState(m, settings), usedBy: zonesUsing(config, name) };
  });
}

function zonesUsing(config: Config, name: string): string[] {
  return Object.entries(config.zones)
    .filter(([, z]) => z.provider === name)
    .map(([zone]) => zone)
    .sort();
}

/**
 * A named instance added or changed from its form (`instance`, `kind` for a new one, fields as
 * `f.<path>`). The whole config is parsed again, so the module's schema judges the fields and a
 * refusal changes nothing.
 */
export function instanceFromForm(body: Record<string, unknown>, current: Config): { config: Config; changed: string[] } {
  const name = formString(body.instance).trim();
  const exists = Object.hasOwn(current.providers, name);
  if (!exists) {
    if (RESERVED_NAMES.includes(name)) bad(`Providers: "${name}" is a built-in name.`, `Choose another name; ${RESERVED_NAMES.join(', ')} are reserved.`);
    const n = instanceName.safeParse(name);
    if (!n.success) bad(`Providers: the name "${printable(name, 40)}" ${n.error.issues[0]?.message ?? 'is not valid'}.`, 'Use a short name such as hidden-primary or pdns1.');
  }
  const kind = exists ? current.providers[name]!.kind : formString(body.kind);
  if (!isProviderKind(kind) || !providerModule(kind).namedInstances) bad('Providers: choose the kind of DNS server.', `Use one of the Add forms (${PROVIDERS.filter((p) => p.namedInstances).map((p) => p.label).join(', ')}).`);
  const m = providerModule(kind);
  const before = exists ? (({ kind: _k, ...rest }) => rest)(current.providers[name]!) : {};
  const settings = settingsFromForm(m, body, 'f.', before);
  let config: Config;
  try {
    config = parseConfig({ ...current, providers: { ...current.providers, [name]: { kind, ...settings } } }, 'settings');
  } catch (err) {
    if (err instanceof ProblemError) bad(err.problem.message.replace(/^settings: /, ''), `Correct the field named in the message in the form of "${name}" and save again.`);
    throw err;
  }
  const { kind: _k, ...after } = config.providers[name]!;
  const fields = changedFields(m, before, after);
  return { config, changed: exists ? (fields.length ? [`provider ${name}: ${fields.join(', ')}`] : []) : [`provider ${name} added (${m.label})`] };
}

/** A named instance removed; refused while a zone still names it (its records would have no one to keep them). */
export function instanceRemoved(body: Record<string, unknown>, current: Config): { config: Config; changed: string[] } {
  const name = formString(body.instance).trim();
  if (!Object.hasOwn(current.providers, name)) bad(`Providers: there is no provider named "${printable(name, 40)}".`, 'Reload the settings page and use its Remove button.');
  const used = zonesUsing(current, name);
  if (used.length) bad(`Providers: ${name} still serves ${used.length === 1 ? 'the zone' : 'the zones'} ${used.slice(0, 5).join(', ')}${used.length > 5 ? ', …' : ''}.`, 'Choose another provider for those zones first (DNS providers per zone), save, then remove it.');
  const { [name]: _gone, ...providers } = current.providers;
  return { config: parseConfig({ ...current, providers }, 'settings'), changed: [`provider ${name} removed`] };
}
