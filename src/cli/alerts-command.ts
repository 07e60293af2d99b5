import { alertStore } from '../alerts/notify.js';
import type { Alert } from '../alerts/store.js';
import { problem, ProblemError } from '../problem.js';
import { stripControl } from '../util/text.js';
import { json, type Command } from './types.js';

/** One open alert as `alerts list --json` prints it: the webhook payload's field names (README "Alerts"). */
export interface ListedAlert {
  alertId: number;
  kind: string;
  severity: string;
  domain: string | null;
  host: string | null;
  title: string;
  openedAt: string;
  acknowledgedAt?: string;
  acknowledgedBy?: string;
}

export function listedAlert(a: Alert): ListedAlert {
  return {
    alertId: a.id,
    kind: a.kind,
    severity: a.severity,
    domain: a.domain ?? null,
    host: a.host ?? null,
    title: a.title,
    openedAt: new Date(a.openedAt).toISOString(),
    ...(a.ackedAt ? { acknowledgedAt: new Date(a.ackedAt).toISOString() } : {}),
    ...(a.ackedBy ? { acknowledgedBy: a.ackedBy } : {}),
  };
}

/**
 * `tlsa-manager alerts list [--json]`: the open alerts, oldest first; exit 0 whatever is open
 * (monitoring reads the list, or `check --nagios`, for a status). Text from reports may be in a
 * title: control characters are shown as "?" on a terminal; JSON escapes them itself.
 */
export const alertsCommand: Command = {
  async run({ ctx, args, values }) {
    const sub = args[0];
    if (sub !== 'list') throw new ProblemError(problem('usage', `alerts: unknown subcommand${sub ? ` "${stripControl(sub).slice(0, 40)}"` : ''} (alerts list [--json])`));
    const open = alertStore(ctx!).open().sort((a, b) => a.openedAt - b.openedAt || a.id - b.id).map(listedAlert);
    if (values.json) return { output: json(open), exitCode: 0 };
    if (open.length === 0) return { output: 'no open alerts', exitCode: 0 };
    const lines = open.map((a) => `#${a.alertId}  ${a.severity.padEnd(8)}  ${a.kind.padEnd(20)}  ${a.openedAt.slice(0, 16).replace('T', ' ')}  ${stripControl(a.title).slice(0, 200)}${a.acknowledgedAt ? `  (acknowledged by ${stripControl(a.acknowledgedBy ?? '?').slice(0, 60)} ${a.acknowledgedAt.slice(0, 16).replace('T', ' ')})` : ''}`);
    return { output: lines.join('\n'), exitCode: 0 };
  },
};
