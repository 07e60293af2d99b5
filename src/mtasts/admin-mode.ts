import type { AppContext } from '../context.js';
import { mtaStsStore, type MtaStsMode } from './store.js';

/**
 * The admin moves a domain's MTA-STS mode (`mta-sts mode`, the domain page's switch): stored, and
 * logged with what happens next. Only the mode changes here; the next run that publishes (apply,
 * the timer, Publish on the page) serves the new policy and only then announces its id.
 */
export function setModeByAdmin(ctx: AppContext, domain: string, mode: MtaStsMode, actor: string): { before: MtaStsMode | null } {
  const store = mtaStsStore(ctx);
  const before = store.get(domain)?.mode ?? null;
  store.setMode(domain, mode, new Date(ctx.now()).toISOString());
  ctx.state().logActivity({ actor, kind: 'mta-sts', zone: null, subject: domain, detail: `mode ${before ?? '(none)'} → ${mode} (the next apply serves the new policy, then publishes its id)`, ok: true });
  return { before };
}
