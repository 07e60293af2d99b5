import { Router } from 'express';
import { MTA_STS_MODES, type MtaStsMode } from '../../mtasts/store.js';
import { problem, ProblemError } from '../../problem.js';
import { modeRefusal } from '../../mtasts/admin-mode.js';
import { optedIn } from '../../mtasts/desired.js';
import { domainParam, formString } from '../params.js';
import { actor, dataFor, h, redirect, type RouteDeps } from './common.js';

/**
 * The domain page's MTA-STS mode switch (issue 27 §6). Root only (ROUTE_ACCESS): under enforce,
 * senders refuse mail the policy does not allow and keep the policy for max_age (two weeks by
 * default), so one wrong move cannot be undone quickly; a reseller sees the panel but asks root.
 */
export function mtaStsRouter(deps: RouteDeps): Router {
  const { ctx, services, snapshot } = deps;
  const r = Router();

  r.post(
    '/domains/:domain/mta-sts/mode',
    h(async (req, res) => {
      const domain = domainParam(req.params.domain);
      const mode = formString(req.body?.mode);
      if (!(MTA_STS_MODES as readonly string[]).includes(mode)) throw new ProblemError(problem('bad-request', 'The MTA-STS mode is either testing or enforce.', { fix: 'Use the Testing or Enforce button in the MTA-STS panel of the domain page.' }));
      const d = await dataFor(deps, res);
      const refused = modeRefusal({ domain, onServer: d.byDomain.has(domain), optedIn: optedIn(domain, ctx.config.mtaSts.publish), wanted: d.plan.mtaStsPolicies.some((p) => p.domain === domain && p.mode !== 'none'), stored: d.mtaSts.has(domain) });
      if (refused) throw new ProblemError(refused);
      services.setMtaStsMode(domain, mode as MtaStsMode, actor(res));
      // The rows read the stored mode again now; the plan (the policy text wanted) follows in the background.
      snapshot.refreshChecks();
      snapshot.refresh().catch(() => undefined);
      redirect(res, `/domains/${domain}`, { sts: mode });
    }),
  );

  return r;
}
