import { Router } from 'express';
import { problem, ProblemError } from '../../problem.js';
import { actor, h, redirect, type RouteDeps } from './common.js';

/** Acknowledging an open alert (issue 24): reminders stop until it resolves or gets worse. */
export function alertsRouter({ services }: RouteDeps): Router {
  const r = Router();
  r.post(
    '/alerts/:id/ack',
    h(async (req, res) => {
      const raw = String(req.params.id);
      if (!/^[0-9]{1,12}$/.test(raw)) throw new ProblemError(problem('not-found', 'No such alert.'));
      const id = Number(raw);
      if (services.acknowledgeAlert(id, actor(res)) === 'unknown') throw new ProblemError(problem('not-found', 'No such alert.'));
      // Resolved meanwhile: nothing to acknowledge; the overview shows it in the history.
      redirect(res, '/', {});
    }),
  );
  return r;
}
