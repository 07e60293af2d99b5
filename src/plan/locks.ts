import type { AppContext } from '../context.js';

/** One lock file per zone: every run that writes a zone (or settles its journal) holds it. */
export function lockPath(ctx: AppContext, zone: string): string {
  return ctx.root.path(`/var/lib/tlsa-manager/locks/${zone}.lock`);
}
