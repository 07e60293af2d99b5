import { Router, type Response } from 'express';
import { builtinCloudflareAccess } from '../../provider-instances.js';
import { problem, ProblemError } from '../../problem.js';
import { domainParam, formString } from '../params.js';
import { builtinCloudflareForm, configFromForm, formValues, instanceForms, instanceFromForm, instanceRemoved, instanceRows, newInstanceForms, providerChoices, RECORD_CHOICES, valuesFromBody, type SettingsFormValues } from '../settings-form.js';
import { actor, h, redirect, render, type RouteDeps } from './common.js';
import { CHANNELS, enabledChannels, type ChannelId } from '../../alerts/notify.js';
import { mailRecipients } from '../../alerts/channels/email.js';
import { defaultReportAddress } from '../../dns/records.js';
import { readHostname } from '../../cpanel/accounts.js';
import { importanceName } from '../../alerts/channels/cpanel.js';

/** The settings form, saved through the config module, and the Cloudflare token test. */
export function settingsRouter({ ctx, services, snapshot }: RouteDeps): Router {
  const r = Router();

  const page = (res: Response, values: SettingsFormValues, extra: Record<string, unknown> = {}) =>
    render(res, 'settings', 'Settings', 'settings', { values, PROVIDER_CHOICES: providerChoices(ctx.config), INSTANCES: instanceRows(ctx.config), INSTANCE_FORMS: instanceForms(ctx.config), NEW_INSTANCE_FORMS: newInstanceForms(), CLOUDFLARE_FORM: builtinCloudflareForm(ctx.config), RECORD_CHOICES, configPath: ctx.configPath, tlsrptDefault: defaultReportAddress(readHostname(ctx.root)), saved: false, error: null, test: null, alertTest: null, channels: channelStates(ctx), cpanelImportanceSaved: ctx.config.alerts.cpanelImportance, importanceError: null, ...extra });

  r.get('/settings', (req, res) => page(res, formValues(ctx.config), { saved: formString(req.query.saved) === '1' }));

  r.post(
    '/settings',
    h(async (req, res) => {
      let result;
      try {
        result = configFromForm(req.body ?? {}, ctx.config);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        res.status(400);
        return page(res, valuesFromBody(req.body ?? {}, ctx.config), { error: err.problem });
      }
      const refused = await services.saveSettings(result.config, result.changed, actor(res));
      // Zones, policy, resolver and addresses all change what the scan finds.
      if (result.changed.length > 0) snapshot.refresh().catch(() => undefined);
      if (refused) return page(res, formValues(ctx.config), { saved: true, importanceError: refused });
      redirect(res, '/settings', { saved: 1 });
    }),
  );

  // A named provider instance added, changed or removed (issue 25): its own small form, so a
  // refusal there never costs the main form's unsaved edits, and vice versa.
  r.post(
    '/settings/providers',
    h(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      let result;
      try {
        result = formString(body.op) === 'remove' ? instanceRemoved(body, ctx.config) : instanceFromForm(body, ctx.config);
      } catch (err) {
        if (!(err instanceof ProblemError)) throw err;
        res.status(400);
        return page(res, formValues(ctx.config), { error: err.problem, openAdd: formString(body.kind) });
      }
      await services.saveSettings(result.config, result.changed, actor(res));
      if (result.changed.length > 0) snapshot.refresh().catch(() => undefined);
      redirect(res, '/settings', { saved: 1 });
    }),
  );

  r.post(
    '/settings/test-cloudflare',
    h(async (req, res) => {
      const token = builtinCloudflareAccess(ctx.config).apiToken;
      const zoneRaw = formString(req.body?.testZone).trim();
      const zone = zoneRaw ? domainParam(zoneRaw, 'zone') : undefined;
      const test = token
        ? await services.testCloudflareToken(token, zone)
        : { ok: false, summary: 'No Cloudflare token is saved.', problems: [problem('cloudflare-no-token', 'No Cloudflare token is saved.', { fix: 'Enter a token and save, then test it.' })] };
      page(res, formValues(ctx.config), { test });
    }),
  );

  // The Test button of a named provider instance whose module declares `verify` (issue 25).
  r.post(
    '/settings/test-provider',
    h(async (req, res) => {
      const name = formString(req.body?.instance);
      const zoneRaw = formString(req.body?.testZone).trim();
      const zone = zoneRaw ? domainParam(zoneRaw, 'zone') : undefined;
      const test = await services.testProvider(name, zone);
      if (!test) throw new ProblemError(problem('bad-request', 'No provider instance with a Test button has that name.', { fix: 'Use a Test button on the settings page.' }));
      page(res, formValues(ctx.config), { test: { ...test, title: `Provider ${name} test` } });
    }),
  );

  r.post(
    '/settings/test-alert',
    h(async (req, res) => {
      const channel = formString(req.body?.channel);
      if (!(CHANNELS as readonly string[]).includes(channel)) throw new ProblemError(problem('bad-request', 'Unknown alert channel.', { fix: 'Use one of the Test buttons on the settings page.' }));
      const result = await services.sendTestAlert(channel as ChannelId, actor(res));
      page(res, formValues(ctx.config), { alertTest: { channel, ...result } });
    }),
  );

  return r;
}

/** Each channel: on or off, and why it cannot work when it cannot (shown next to its Test button). */
function channelStates(ctx: RouteDeps['ctx']) {
  const enabled = new Set(enabledChannels(ctx));
  const a = ctx.config.alerts;
  return CHANNELS.map((c) => ({
    channel: c,
    label: { cpanel: 'cPanel notifications', email: 'E-mail', webhook: 'Webhook' }[c],
    enabled: enabled.has(c),
    note: c === 'cpanel'
      ? (a.cpanelNotifications ? (enabled.has(c) ? `Routed by WHM » Server Contacts » Contact Manager (application TLSAManager, importance ${importanceName(a.cpanelImportance)}).` : 'cPanel’s notification module is not on this server.') : 'Off.')
      : c === 'email'
        ? (a.email.length ? `To ${mailRecipients(ctx.root, a.email).join(', ') || '(CONTACTEMAIL is not set in /etc/wwwacct.conf)'} via ${a.sendmail[0]}.` : 'Off: no addresses.')
        : (a.webhook ? 'Signed POST to the saved URL.' : 'Off: no URL.'),
  }));
}
