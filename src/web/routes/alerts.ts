import { Router } from 'express';
import { alertStore } from '../../alerts/notify.js';
import { problem, ProblemError } from '../../problem.js';
import { actor, h, redirect, type RouteDeps } from './common.js';

/** Acknowledging an open alert (issue 24): reminders stop until it resolves or gets worse. */
export function alertsRouter({ ctx }: RouteDeps): Router {
  const r = Router();
  r.post(
    '/alerts/:id/ack',
    h(async (req, res) => {
      const raw = String(req.params.id);
      if (!/^[0-9]{1,12}$/.test(raw)) throw new ProblemError(problem('not-found', 'No such alert.'));
      const id = Number(raw);
      const store = alertStore(ctx);
      const who = actor(res);
      const alert = store.get(id);
      if (!alert) throw new ProblemError(problem('not-found', 'No such alert.'));
      if (store.acknowledge(id, who, ctx.now())) {
        ctx.state().logActivity({ actor: who, kind: 'alert', zone: null, subject: alert.subject, detail: `acknowledged: ${alert.title} (no reminders until it resolves or gets worse)`, ok: true });
      }
      // Resolved meanwhile: nothing to acknowledge; the overview shows it in the history.
      redirect(res, '/', {});
    }),
  );
  return r;
}
