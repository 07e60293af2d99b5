import { LocalZones } from '../cpanel/local-zones.js';
import { managedZones } from '../dns/registry.js';
import { dsLine } from '../dnssec/keys.js';
import { dnssecStatus, type DnssecStatus } from '../dnssec/status.js';
import { DNSSEC_STATES } from '../dnssec/state.js';
import { ProblemError } from '../problem.js';
import { json, type Command, type CommandInput, type CommandResult } from './types.js';

const USAGE = 'dnssec status [ZONE...] [--all] [--json]';

function zonesFrom({ ctx, values, args }: CommandInput): string[] {
  if (values.all) return [...managedZones(ctx!, new LocalZones(ctx!.root).names)].sort();
  if (args.length === 0) throw new ProblemError({ code: 'usage', message: `dnssec status needs one or more zones, or --all (${USAGE})` });
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
  });
  const exitCode = rows.some((r) => r.state === 'bogus') ? 1 : 0;
  return { output: input.values.json ? json(rows) : statusText(rows), exitCode };
}

const SUBCOMMANDS: Record<string, (input: CommandInput) => Promise<CommandResult>> = { status };

export const dnssecCommand: Command = {
  async run(input) {
    const [sub, ...args] = input.args;
    const fn = sub ? SUBCOMMANDS[sub] : undefined;
    if (!fn) throw new ProblemError({ code: 'usage', message: `dnssec needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')} (${USAGE})` });
    return fn({ ...input, args });
  },
};
