import { nextChecks } from '../checks/scheduled.js';
import type { AppContext } from '../context.js';
import { alertStore, enabledChannels } from './notify.js';

/** What the overview shows about alerting: open incidents, history, channels in trouble, the schedule. */
export function alertsOverview(ctx: AppContext, now = ctx.now()) {
  const store = alertStore(ctx);
  const history = store.history(30);
  return {
    open: history.filter((a) => a.resolvedAt === null).concat(store.open().filter((a) => !history.some((h) => h.id === a.id))),
    history: history.filter((a) => a.resolvedAt !== null).slice(0, 15),
    failing: store.failingChannels(),
    channels: enabledChannels(ctx),
    schedule: nextChecks(ctx),
    lastScheduledCheck: ctx.state().getMeta('lastScheduledCheck'),
    now,
  };
}
