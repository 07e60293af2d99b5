import { Router, type Response } from 'express';
import { problem, ProblemError } from '../../problem.js';
import { redactConfig, replaceConfig } from '../../state/config.js';
import { domainParam, formString } from '../params.js';
import { configFromForm, formValues, PROVIDER_CHOICES, RECORD_CHOICES, valuesFromBody, type SettingsFormValues } from '../settings-form.js';
import { actor, h, redirect, render, type RouteDeps } from './common.js';

/** The settings form, saved through the config module, and the Cloudflare token test. */
export function settingsRouter({ ctx, services, snapshot }: RouteDeps): Router {
  const r = Router();

  const page = (res: Response, values: SettingsFormValues, extra: Record<string, unknown> = {}) =>
    render(res, 'settings', 'Settings', 'settings', { values, PROVIDER_CHOICES, RECORD_CHOICES, configPath: ctx.configPath, saved: false, error: null, test: null, ...extra });

  r.get('/settings', (req, res) => page(res, formValues(ctx.config), { saved: formString(req.query.saved) === '1' }));

  r.post('/settings', (req, res) => {
    let result;
    try {
      result = configFromForm(req.body ?? {}, ctx.config);
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      res.status(400);
      return page(res, valuesFromBody(req.body ?? {}, ctx.config), { error: err.problem });
    }
    replaceConfig(ctx, result.config);
    ctx.state().logActivity({ actor: actor(res), kind: 'settings', zone: null, subject: 'settings', detail: result.changed.length ? `Changed: ${result.changed.join(', ')}.` : 'Saved without changes.', ok: true });
    ctx.logger.info({ config: redactConfig(result.config) }, 'settings saved');
    // Zones, policy, resolver and addresses all change what the scan finds.
    if (result.changed.length > 0) snapshot.refresh().catch(() => undefined);
    redirect(res, '/settings', { saved: 1 });
  });

  r.post(
    '/settings/test-cloudflare',
    h(async (req, res) => {
      const token = ctx.config.cloudflare.apiToken ?? process.env.CLOUDFLARE_API_TOKEN;
      const zoneRaw = formString(req.body?.testZone).trim();
      const zone = zoneRaw ? domainParam(zoneRaw, 'zone') : undefined;
      const test = token
        ? await services.testCloudflareToken(token, zone)
        : { ok: false, summary: 'No Cloudflare token is saved.', problems: [problem('cloudflare-no-token', 'No Cloudflare token is saved.', { fix: 'Enter a token and save, then test it.' })] };
      page(res, formValues(ctx.config), { test });
    }),
  );

  return r;
}
