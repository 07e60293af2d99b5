import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppContext } from '../context.js';
import { readHostname } from '../cpanel/accounts.js';
import { defaultReportAddress } from '../dns/records.js';
import { runWithInput } from '../util/run-input.js';
import { oneLine } from '../alerts/message.js';

/**
 * Whether mail to `tlsrpt@<hostname>` still reaches our pipe (issue 23). install.sh puts our
 * router and transport into /etc/exim.conf.local, which WHM's Exim Advanced Editor replaces
 * whole and "Reset to defaults" deletes (Cpanel/Exim/Reset.pm), so the route can vanish without
 * anything failing. Exim's own address test (`exim -bt <address>`) says which router and
 * transport an address takes, on the configuration Exim really runs.
 */
export const TLSRPT_ROUTER = 'tlsa_manager_tlsrpt';
export const TLSRPT_TRANSPORT = 'tlsa_manager_tlsrpt_pipe';
/** cPanel's Exim. */
export const DEFAULT_EXIM = ['/usr/sbin/exim'];

const here = dirname(fileURLToPath(import.meta.url));
/** plugin/lib sits at the package root, two levels above src/tlsrpt and dist/tlsrpt. */
export const ROUTE_REPAIR_SCRIPT = join(here, '..', '..', 'plugin', 'lib', 'tlsrpt-route.sh');
/** What an admin runs as root to repair the route (shown on the page and in the alert). */
export const REPAIR_COMMAND = '/usr/local/bin/tlsa-manager tlsrpt repair-route';

export interface RouteStatus {
  /** ok: routed to our transport; lost: routed elsewhere or not at all; unknown: not checked. */
  state: 'ok' | 'lost' | 'unknown';
  address: string | null;
  /** What Exim said, in one line (or why nothing was checked). */
  detail: string;
}

/** Pure: the verdict on `exim -bt` output. Exim prints `router = R, transport = T` per address it can route. */
export function routeFromAddressTest(address: string, code: number | null, output: string): RouteStatus {
  const m = /router = ([^,\s]+), transport = ([^\s]+)/.exec(output);
  if (m && m[1] === TLSRPT_ROUTER && m[2] === TLSRPT_TRANSPORT) return { state: 'ok', address, detail: `${address} is routed by ${TLSRPT_ROUTER} to ${TLSRPT_TRANSPORT}` };
  if (m) return { state: 'lost', address, detail: `exim -bt ${address} routes it by ${m[1]} to ${m[2]}, not to TLSA Manager's ${TLSRPT_TRANSPORT}` };
  return { state: 'lost', address, detail: `exim -bt ${address} does not route it (exit ${code ?? 'killed'}: ${oneLine(output).slice(0, 200) || 'no output'})` };
}

/**
 * Ask Exim how it routes the report address. Unknown (no alert either way) when the report
 * address is not ours (`tlsrpt.address` points elsewhere), the server has no valid hostname, or
 * the Exim command is not on this server (a test root without Exim).
 */
export async function checkRoute(ctx: AppContext): Promise<RouteStatus> {
  const address = defaultReportAddress(readHostname(ctx.root));
  if (!address) return { state: 'unknown', address: null, detail: 'the server has no valid hostname in /etc/hostname' };
  const configured = ctx.config.tlsrpt.address?.replace(/^mailto:/i, '').toLowerCase();
  if (configured && configured !== address) return { state: 'unknown', address, detail: `reports go to ${configured}, not to this server's ${address}` };
  const [cmd, ...args] = ctx.config.tlsrpt.eximCommand ?? DEFAULT_EXIM;
  const exe = cmd!.startsWith('/') ? ctx.root.path(cmd!) : cmd!;
  if (cmd!.startsWith('/') && !ctx.root.exists(cmd!)) return { state: 'unknown', address, detail: `${cmd} is not on this server` };
  try {
    const r = await runWithInput([exe, ...args, '-bt', address], '', { timeoutMs: 30_000 });
    return routeFromAddressTest(address, r.code, `${r.stdout}\n${r.stderr}`);
  } catch (err) {
    return { state: 'unknown', address, detail: (err as Error).message };
  }
}

export interface RepairResult {
  state: 'ok' | 'repaired' | 'failed';
  detail: string;
}

/**
 * Put the route back the way install.sh does (plugin/lib/tlsrpt-route.sh runs common.sh's
 * tlsrpt_route_add: backup, rename, buildeximconf, restartsrv_exim, old file back on failure),
 * then ask Exim again: `repaired` only when the address routes to us afterwards.
 */
export async function repairRoute(ctx: AppContext): Promise<RepairResult> {
  const before = await checkRoute(ctx);
  if (before.state === 'ok') return { state: 'ok', detail: before.detail };
  if (before.state === 'unknown' && before.address === null) return { state: 'failed', detail: `cannot repair: ${before.detail}` };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const k of ['TLSA_MANAGER_TLSRPT_PIPE_USER', 'TLSA_MANAGER_TLSRPT_PIPE_GROUP']) if (process.env[k]) env[k] = process.env[k];
  let out;
  try {
    out = await runWithInput(['bash', ROUTE_REPAIR_SCRIPT, ctx.root.root], '', { timeoutMs: 300_000, env });
  } catch (err) {
    return { state: 'failed', detail: (err as Error).message };
  }
  const said = oneLine(`${out.stdout} ${out.stderr}`).slice(0, 600);
  if (out.code !== 0) return { state: 'failed', detail: `${said || `exit ${out.code}`} (${before.detail})` };
  const after = await checkRoute(ctx);
  if (after.state === 'ok') return { state: 'repaired', detail: `${said}; ${after.detail}` };
  return { state: 'failed', detail: `${said}; but ${after.state === 'lost' ? after.detail : `the route could not be checked: ${after.detail}`}` };
}
