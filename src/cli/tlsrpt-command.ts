import { createContext, type AppContext } from '../context.js';
import { problem, ProblemError } from '../problem.js';
import { importSpool, tlsrptStore } from '../tlsrpt/import.js';
import { ingest, readStdinBounded } from '../tlsrpt/ingest.js';
import { checkRoute, repairRoute } from '../tlsrpt/route.js';
import { alertOnTlsrptRoute } from '../alerts/evaluate.js';
import { MAX_MESSAGE_BYTES } from '../tlsrpt/limits.js';
import { ServerRoot } from '../util/server-root.js';
import type { TlsrptRow } from '../tlsrpt/store.js';
import { checkName } from '../dns/names.js';
import { stripControl } from '../util/text.js';
import { json, type Command, type CommandInput, type CommandResult } from './types.js';

const USAGE = 'tlsrpt ingest (one message on stdin, from Exim) | tlsrpt import | tlsrpt list [--domain D] [--json] | tlsrpt repair-route [--json]';

/**
 * `tlsrpt ingest` runs as Exim's pipe user and must not read the config or open the database
 * (both root-only): it only needs the root. The other subcommands build the full context.
 */
export const tlsrptCommand: Command = {
  needsContext: false,
  async run(input) {
    const sub = input.args[0];
    if (sub === 'ingest') {
      const root = new ServerRoot((input.values.root as string | undefined) ?? process.env.TLSA_MANAGER_ROOT ?? '/');
      const r = ingest(root, readStdinBounded(MAX_MESSAGE_BYTES), Date.now());
      return { output: r.line, exitCode: r.exitCode };
    }
    const ctx = createContext({ root: input.values.root as string | undefined, config: input.values.config as string | undefined });
    if (sub === 'import') return runImport(ctx, input);
    if (sub === 'list') return list(ctx, input);
    if (sub === 'repair-route') return repair(ctx, input);
    throw new ProblemError(problem('usage', `tlsrpt: unknown subcommand${sub ? ` "${sub}"` : ''} (${USAGE})`));
  },
};

async function runImport(ctx: AppContext, { values }: CommandInput): Promise<CommandResult> {
  const r = await importSpool(ctx, 'cli');
  if (values.json) return { output: json(r), exitCode: 0 };
  const lines = [`${r.imported.length} report(s) imported, ${r.duplicates.length} duplicate(s), ${r.refused.length} refused, ${r.pruned} pruned`];
  for (const f of r.refused) lines.push(`  refused ${oneLine(f.file)} (${f.code}): ${oneLine(f.reason)}`);
  return { output: lines.join('\n'), exitCode: 0 };
}

function list(ctx: AppContext, { values }: CommandInput): CommandResult {
  const domain = values.domain === undefined ? undefined : String(Array.isArray(values.domain) ? values.domain[0] : values.domain).toLowerCase().replace(/\.$/, '');
  if (domain !== undefined && !checkName(domain).ok) throw new ProblemError(problem('name-invalid', `tlsrpt list: "${domain}" is not a valid domain name`));
  const rows = tlsrptStore(ctx).list({ samples: true, ...(domain === undefined ? {} : { domain }) });
  return { output: values.json ? json(rows) : table(rows), exitCode: 0 };
}

/**
 * `tlsrpt repair-route`: the TLS-RPT mail route put back the way install.sh puts it (issue 23).
 * Exit 0 when Exim routes the address to us afterwards (or already did), 1 when it does not.
 */
async function repair(ctx: AppContext, { args, values }: CommandInput): Promise<CommandResult> {
  if (args.length > 1) throw new ProblemError(problem('usage', `tlsrpt repair-route takes no arguments (${USAGE})`));
  const r = await repairRoute(ctx);
  ctx.state().logActivity({ actor: 'cli', kind: 'tlsrpt', zone: null, subject: 'route', detail: `repair-route: ${r.state}: ${r.detail}`.slice(0, 1000), ok: r.state !== 'failed' });
  // The timer's alert follows the route at once instead of at its next run.
  if (r.state !== 'failed') alertOnTlsrptRoute(ctx, await checkRoute(ctx));
  const output = values.json ? json(r) : `${r.state}: ${r.detail}`;
  return { output, exitCode: r.state === 'failed' ? 1 : 0 };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function table(rows: TlsrptRow[]): string {
  if (rows.length === 0) return 'no TLS reports stored';
  const lines = rows.map((r) => {
    const head = `${day(r.start)}..${day(r.end)}  ${r.policyDomain}  ${oneLine(r.policyType)}  ${r.successful} ok, ${r.failed} failed  from ${oneLine(r.organization)}${r.authenticated ? ` (DKIM ${r.signer})` : ' (not authenticated)'}  (${oneLine(r.reportId)})`;
    const totals = r.results.map((x) => `    ${oneLine(x.resultType)}: ${x.count} failed session(s)`);
    const details = r.failures.map((f) => `      e.g. ${oneLine(f.resultType)} ×${f.count}${f.sendingIp ? ` from ${f.sendingIp}` : ''}${f.receivingMx ? ` to ${f.receivingMx}` : ''}${f.receivingIp ? ` [${f.receivingIp}]` : ''}${f.reasonCode ? ` (${oneLine(f.reasonCode)})` : ''}`);
    return [head, ...totals, ...details].join('\n');
  });
  return lines.join('\n');
}

/** Sender-controlled text on a terminal: no control characters (escape sequences). */
function oneLine(s: string): string {
  return stripControl(s).slice(0, 200);
}
