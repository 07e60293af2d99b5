import type { AppContext } from '../context.js';
import { problem, type Problem } from '../problem.js';
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

/** What the refusal below needs to know about the domain. */
export interface ModeTarget {
  domain: string;
  /** The server lists the domain. */
  onServer: boolean;
  /** The settings opt it in (mtaSts.publish). */
  optedIn: boolean;
  /** The plan wants a testing or enforce policy for it (its mail is handled here and it has MX records). */
  wanted: boolean;
  /** A mode is stored for it. */
  stored: boolean;
}

/**
 * Why the admin cannot set a mode for this domain, or null: only a domain MTA-STS covers has one
 * (the web's switch and `mta-sts mode` alike). Otherwise the row would be one the next run retires
 * or forgets, a mode nothing serves.
 */
export function modeRefusal(t: ModeTarget): Problem | null {
  if (!t.onServer) return problem('not-found', `${t.domain} is not a domain on this server.`, { fix: 'Pick a domain from the list; press Rescan if it was added just now.' });
  if (!t.optedIn) return problem('bad-request', `MTA-STS is not published for ${t.domain}, so it has no mode to change.`, { fix: 'Add the domain under Settings » MTA-STS (or publish for all domains) first.' });
  if (!t.wanted && !t.stored) return problem('bad-request', `${t.domain} gets no MTA-STS policy (its mail is not handled on this server, or it has no MX record), so it has no mode to change.`, { fix: `See the MTA-STS panel of ${t.domain} (or "tlsa-manager plan") for why.` });
  return null;
}
