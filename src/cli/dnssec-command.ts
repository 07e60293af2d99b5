import { serverManagedZones } from '../provider-instances.js';
import { dsLine } from '../dnssec/keys.js';
import { dnssecStatus, type DnssecStatus } from '../dnssec/status.js';
import { handover, type Handover } from '../dnssec/handover.js';
import { recordStatuses } from '../dnssec/watch.js';
import { DEFAULT_ALGORITHM, enableSigning, type SignerChange } from '../dnssec/enable.js';
import { disableSigning } from '../dnssec/disable.js';
import { createInterface } from 'node:readline/promises';

function progress(done: number, total: number): void {
  if (total < 20) return;
  process.stderr.write(`\r${done}/${total} zones${done === total ? '\n' : ''}`);
}
import { DNSSEC_STATES } from '../dnssec/state.js';
import { problem, ProblemError } from '../problem.js';
import { json, type Command, type CommandInput, type CommandResult } from './types.js';

const USAGE = 'dnssec status [ZONE...] [--all] [--json] | dnssec ds ZONE [--json] | dnssec enable ZONE... [--yes] [--force] | dnssec disable ZONE... [--yes] [--after-ds-gone]';

function zonesFrom({ ctx, values, args }: CommandInput): string[] {
  if (values.all) return serverManagedZones(ctx!);
  if (args.length === 0) throw new ProblemError(problem('usage', `dnssec status needs one or more zones, or --all (${USAGE})`));
  return args;
}

export function statusText(rows: DnssecStatus[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const label = DNSSEC_STATES[r.state].label.toUpperCase();
    lines.push(`${r.zone}: ${label}${r.reason ? ` (${r.reason})` : ''} — ${r.message}`);
    lines.push(`  signing: ${r.signing ?? 'unknown'}${r.signer ? ` (${r.signer})` : ''}`);
    for (const d of r.parentDs) lines.push(`  at the parent: ${dsLine(r.zone, d)}`);
    if (r.state !== 'secure') for (const d of r.ds) lines.push(`  wanted:        ${dsLine(r.zone, d)}`);
    if (r.fix && r.state !== 'secure') lines.push(`  fix: ${r.fix}`);
  }
  return lines.join('\n');
}

async function status(input: CommandInput): Promise<CommandResult> {
  const zones = zonesFrom(input);
  const rows = await dnssecStatus(input.ctx!, zones, {
    ...(input.values.resolver ? { resolver: input.values.resolver as string } : {}),
    ...(input.values.json || !process.stderr.isTTY ? {} : { onProgress: progress }),
  });
  // Kept for the web app and the watcher; state changes land in the activity log.
  recordStatuses(input.ctx!, rows, 'cli');
  const exitCode = rows.some((r) => r.state === 'bogus') ? 1 : 0;
  return { output: input.values.json ? json(rows) : statusText(rows), exitCode };
}

export function handoverText(h: Handover): string {
  const lines: string[] = [`${h.zone}: ${DNSSEC_STATES[h.state].label.toUpperCase()}${h.reason ? ` (${h.reason})` : ''}, signing ${h.signing ?? 'unknown'}`];
  if (h.ds.length === 0) {
    lines.push('  No DS to hand over: the zone serves no key. Enable signing first (tlsa-manager dnssec enable ZONE).');
    return lines.join('\n');
  }
  lines.push('', 'DS record (zone-file line):');
  for (const d of h.ds) lines.push(`  ${d.line}`);
  for (const d of h.ds) {
    lines.push('', 'Registrar fields:', `  Key tag:     ${d.keyTag}`, `  Algorithm:   ${d.algorithm} (${d.algorithmName})`, `  Digest type: ${d.digestType} (${d.digestTypeName})`, `  Digest:      ${d.digest.toUpperCase()}`);
  }
  for (const k of h.dnskey) {
    lines.push('', `DNSKEY (for registries that ask for the key; key tag ${k.keyTag}):`, `  Flags:      ${k.flags}`, `  Protocol:   ${k.protocol}`, `  Algorithm:  ${k.algorithm} (${k.algorithmName})`, `  Public key: ${k.publicKey}`);
  }
  lines.push('', `At the parent now: ${h.parentDs.length === 0 ? 'no DS' : h.parentDs.map((d) => `${d.keyTag} ${d.algorithm} ${d.digestType} ${d.digest.toUpperCase()}`).join('; ')}`);
  lines.push(`CDS: ${copyText(h.cds)}; CDNSKEY: ${copyText(h.cdnskey)}`, h.scanning);
  return lines.join('\n');
}

function copyText(c: Handover['cds']): string {
  if (c.error) return `lookup failed (${c.error})`;
  if (c.deleteRequest) return 'delete request (RFC 8078)';
  if (!c.published) return 'not published';
  return c.matches ? 'published, matches' : 'published, does NOT match';
}

async function ds(input: CommandInput): Promise<CommandResult> {
  if (input.args.length !== 1) throw new ProblemError(problem('usage', `dnssec ds needs exactly one zone (${USAGE})`));
  const h = await handover(input.ctx!, input.args[0]!, input.values.resolver ? { resolver: input.values.resolver as string } : {});
  return { output: input.values.json ? json(h) : handoverText(h), exitCode: h.ds.length > 0 ? 0 : 1 };
}

async function confirm(question: string, values: CommandInput['values']): Promise<boolean> {
  if (values.yes) return true;
  if (!process.stdin.isTTY) throw new ProblemError(problem('usage', `${question.replace(/\?$/, '')}: add --yes to run without a terminal.`));
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

function changeText(rows: SignerChange[]): string {
  return rows.map((r) => {
    if (!r.ok) return `${r.zone}: REFUSED — ${r.message}${r.problem?.fix ? `\n  fix: ${r.problem.fix}` : ''}`;
    const ds = r.ds.map((d) => `\n  DS for the registrar: ${dsLine(r.zone, d)}`).join('');
    return `${r.zone}: ${r.message}${r.signing ? ` (signing: ${r.signing})` : ''}${ds}`;
  }).join('\n');
}

async function enable(input: CommandInput): Promise<CommandResult> {
  if (input.args.length === 0) throw new ProblemError(problem('usage', `dnssec enable needs one or more zones (${USAGE})`));
  if (!(await confirm(`Enable DNSSEC signing (algorithm ${DEFAULT_ALGORITHM}, ECDSA P-256) for ${input.args.join(', ')}?`, input.values))) return { output: 'Nothing changed.', exitCode: 0 };
  const rows = await enableSigning(input.ctx!, input.args, { force: input.values.force === true, ...(input.values.resolver ? { resolver: input.values.resolver as string } : {}) });
  return { output: input.values.json ? json(rows) : changeText(rows), exitCode: rows.every((r) => r.ok) ? 0 : 1 };
}

async function disable(input: CommandInput): Promise<CommandResult> {
  if (input.args.length === 0) throw new ProblemError(problem('usage', `dnssec disable needs one or more zones (${USAGE})`));
  const later = input.values['after-ds-gone'] === true;
  if (!later && !(await confirm(`Stop DNSSEC signing for ${input.args.join(', ')}?`, input.values))) return { output: 'Nothing changed.', exitCode: 0 };
  const rows = await disableSigning(input.ctx!, input.args, { afterDsGone: later, ...(input.values.resolver ? { resolver: input.values.resolver as string } : {}) });
  return { output: input.values.json ? json(rows) : changeText(rows), exitCode: rows.every((r) => r.ok) ? 0 : 1 };
}

const SUBCOMMANDS: Record<string, (input: CommandInput) => Promise<CommandResult>> = { status, ds, enable, disable };

export const dnssecCommand: Command = {
  async run(input) {
    const [sub, ...args] = input.args;
    const fn = sub ? SUBCOMMANDS[sub] : undefined;
    if (!fn) throw new ProblemError(problem('usage', `dnssec needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')} (${USAGE})`));
    return fn({ ...input, args });
  },
};
