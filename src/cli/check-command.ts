import { readAccounts } from '../cpanel/accounts.js';
import { checkDomains } from '../dane/check.js';
import { authenticates, VERDICTS, type DomainCheck, type TlsaAnswerSize } from '../dane/verdict.js';
import { createContext, type AppContext } from '../context.js';
import { problem, ProblemError, toProblem } from '../problem.js';
import { nagiosReport, parseThresholds, unknownLine } from './nagios.js';
import { optedIn } from '../mtasts/desired.js';
import { labCa } from '../mtasts/serve.js';
import { statusOf, type StsStatus } from '../mtasts/status.js';
import { storedStates } from '../mtasts/store.js';
import { json, type Command, type CommandInput, type CommandResult } from './types.js';

function progressBar(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
  };
}

function answerSize(a: TlsaAnswerSize): string {
  const leg = (bytes: number | null, truncated: boolean): string =>
    bytes === null ? (truncated ? 'truncated over UDP, no TCP answer' : 'size unknown') : `${bytes} bytes${truncated || bytes > 1232 ? ', truncated over UDP at 1232 (TCP needed)' : ', fits 1232 (UDP)'}`;
  const auth = a.authoritative ? `; from ${a.authoritative.server} (as resolvers get it): ${leg(a.authoritative.bytes, a.authoritative.truncated)}` : '';
  return `signed answer ${leg(a.bytes, a.truncated)}${auth}`;
}

function text(results: DomainCheck[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const v = VERDICTS[r.verdict];
    lines.push(`${r.domain}: ${v.label.toUpperCase()} — ${r.message}${r.fix && r.verdict !== 'valid' ? `\n  fix: ${r.fix}` : ''}`);
    for (const mx of r.mx) {
      lines.push(`  MX ${mx.preference} ${mx.host}${mx.expandedHost !== mx.host ? ` (CNAME → ${mx.expandedHost})` : ''}: ${VERDICTS[mx.verdict].label}`);
      for (const a of mx.tlsaAnswers ?? []) lines.push(`    TLSA ${a.owner}: ${a.records} record(s), ${answerSize(a)}`);
      for (const p of mx.ports) lines.push(`    ${p.address}:${p.port} ${VERDICTS[p.verdict].label}: ${p.message}`);
    }
    for (const p of r.problems ?? []) lines.push(`  ${p.severity ?? 'warning'} ${p.code}: ${p.message}${p.fix ? `\n    fix: ${p.fix}` : ''}`);
  }
  return lines.join('\n');
}

/** The domains to check: the arguments, or every customer domain with --all. */
function domainsToCheck(ctx: AppContext, input: CommandInput): string[] {
  if (!input.values.all) {
    if (input.args.length === 0) {
      throw new ProblemError(problem('usage', 'check needs one or more domains, or --all', { fix: input.values.nagios ? 'Call it as: check --nagios DOMAIN... | --all [--warning N] [--critical N]' : 'Call it as: check DOMAIN... | --all' }));
    }
    return input.args;
  }
  const accounts = readAccounts(ctx.root);
  if (accounts.domains.length > 0) return accounts.domains.map((d) => d.domain);
  const missing = accounts.problems.find((p) => p.code === 'no-userdomains');
  if (missing) throw new ProblemError(missing);
  throw new ProblemError(problem('no-domains', 'check --all found no customer domains in /etc/userdomains.', { fix: 'Add an account in WHM first, or name the domains to check.' }));
}

/**
 * `--mta-sts`: the MTA-STS status, as a sender sees it, of the checked domains MTA-STS covers
 * (opted in by mtaSts.publish, or keeping a stored state). Like the DANE checks, nothing is stored.
 */
async function stsStatuses(ctx: AppContext, domains: string[], resolver: string | undefined): Promise<StsStatus[]> {
  const stored = storedStates(ctx);
  const covered = [...new Set(domains)].filter((d) => stored.has(d) || optedIn(d, ctx.config.mtaSts.publish));
  return statusOf(ctx, covered, stored, labCa(ctx), resolver);
}

/** `check --nagios`: every failure, even a bad option or config, is UNKNOWN on one line. */
async function nagiosCheck(input: CommandInput): Promise<CommandResult> {
  try {
    const thresholds = parseThresholds(input.values);
    const ctx = createContext({ root: input.values.root as string | undefined, config: input.values.config as string | undefined });
    const domains = domainsToCheck(ctx, input);
    // A monitoring probe observes; it does not write the state database (and may run without its rights).
    const results = await checkDomains(ctx, domains, { save: false, ...(input.values.resolver ? { resolver: input.values.resolver as string } : {}) });
    const sts = input.values['mta-sts'] ? await stsStatuses(ctx, domains, input.values.resolver as string | undefined) : undefined;
    return nagiosReport(results, thresholds, sts);
  } catch (err) {
    return unknownLine(toProblem(err).message);
  }
}

export const checkCommand: Command = {
  needsContext: false,
  async run(input) {
    if (input.values.nagios) return nagiosCheck(input);
    const { values } = input;
    for (const opt of ['warning', 'critical'] as const) {
      if (values[opt] !== undefined) throw new ProblemError(problem('usage', `--${opt} is a Nagios threshold: it goes with --nagios`, { fix: `Add --nagios, or leave --${opt} out.` }));
    }
    if (values['mta-sts']) throw new ProblemError(problem('usage', '--mta-sts adds MTA-STS to the Nagios line: it goes with --nagios', { fix: 'Add --nagios, or use "tlsa-manager mta-sts status" for the MTA-STS details.' }));
    const ctx = createContext({ root: values.root as string | undefined, config: values.config as string | undefined });
    const domains = domainsToCheck(ctx, input);
    const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) {
      throw new ProblemError(problem('usage', '--concurrency must be a whole number from 1 to 256'));
    }
    const progress = values.json ? undefined : progressBar();
    const results = await checkDomains(ctx, domains, {
      ...(values.resolver ? { resolver: values.resolver as string } : {}),
      ...(concurrency ? { concurrency } : {}),
      ...(progress ? { onProgress: progress } : {}),
    });
    const ok = results.every((c) => authenticates(c.verdict));
    return { output: values.json ? json(results) : text(results), exitCode: ok ? 0 : 1 };
  },
};
