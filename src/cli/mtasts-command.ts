import { checkName } from '../dns/names.js';
import { problem, ProblemError } from '../problem.js';
import { scanFor } from '../plan/run.js';
import { optedIn, wantedPolicies } from '../mtasts/desired.js';
import { ourRecordLeft } from '../mtasts/remove.js';
import { labCa } from '../mtasts/serve.js';
import { recordCheck } from '../mtasts/scheduled.js';
import { statusOf, type StsStatus } from '../mtasts/status.js';
import { MTA_STS_MODES, mtaStsStore, storedStates, type MtaStsMode } from '../mtasts/store.js';
import { modeRefusal, setModeByAdmin } from '../mtasts/admin-mode.js';
import { createSubdomain, removeSubdomain } from '../mtasts/subdomain.js';
import { json, type Command, type CommandInput, type CommandResult } from './types.js';

const USAGE = 'mta-sts status [DOMAIN...] [--all] [--json] | mta-sts mode DOMAIN testing|enforce | mta-sts subdomain DOMAIN | mta-sts create-subdomain DOMAIN | mta-sts remove-subdomain DOMAIN';

function domainArg(s: string): string {
  const c = checkName(s);
  if (!c.ok) throw new ProblemError(problem('name-invalid', `mta-sts: "${s.slice(0, 100)}" is not a valid domain name (${c.reason})`));
  return c.name;
}

export const mtaStsCommand: Command = {
  async run(input) {
    const sub = input.args[0];
    const rest = { ...input, args: input.args.slice(1) };
    if (sub === 'status') return status(rest);
    if (sub === 'mode') return mode(rest);
    if (sub === 'create-subdomain' || sub === 'remove-subdomain') return subdomain(sub, rest);
    if (sub === 'subdomain') return syncSubdomain(rest);
    throw new ProblemError(problem('usage', `mta-sts: unknown subcommand${sub ? ` "${sub}"` : ''} (${USAGE})`));
  },
};

/**
 * `mta-sts status`: each domain as a sender sees it. `--all`: the domains the settings opt in
 * whose mail is handled here, and those with a stored state. Exit 1 when a domain is broken.
 */
async function status({ ctx, values, args }: CommandInput): Promise<CommandResult> {
  const c = ctx!;
  const stored = storedStates(c);
  let domains = args.map(domainArg);
  if (values.all) {
    const scan = await scanFor(c);
    const wanted = wantedPolicies(scan.domains, { ...c.config.mtaSts }, stored, c.now()).policies.map((p) => p.domain);
    domains = [...new Set([...domains, ...wanted, ...stored.keys()])].sort();
  }
  if (domains.length === 0 && !values.all) throw new ProblemError(problem('usage', `mta-sts status needs one or more domains, or --all (${USAGE})`));
  const rows = await statusOf(c, domains, stored, labCa(c));
  // A real check: kept beside the timer's (the evidence auto-enforce weighs, the pages' history).
  for (const r of rows) recordCheck(c, r);
  const exitCode = rows.some((r) => r.state === 'broken') ? 1 : 0;
  return { output: values.json ? json(rows) : statusText(rows), exitCode };
}

export function statusText(rows: StsStatus[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`${r.domain}: ${r.state.toUpperCase()}${r.id ? ` (id ${r.id})` : ''}${r.policy ? ` — policy ${r.policy.mode}, max_age ${r.policy.maxAge}, mx ${r.policy.mx.join(' ')}` : ''}`);
    lines.push(`  served: ${r.served ? `yes${r.certificate ? ` (certificate ${r.certificate.subject}, issuer ${r.certificate.issuer}, until ${r.certificate.notAfter})` : ''}` : 'no'}`);
    for (const m of r.mx) lines.push(`  mx ${m.host}${m.address ? ` (${m.address})` : ''}: ${m.covered ? 'covered' : 'NOT covered'}, certificate ${m.certificateValid === null ? 'not checked' : m.certificateValid ? 'valid' : 'INVALID'}${m.detail ? ` (${m.detail})` : ''}`);
    for (const p of r.problems) lines.push(`  ${p.code}: ${p.message}${p.fix ? ` Fix: ${p.fix}` : ''}`);
  }
  return lines.join('\n');
}

/** `mta-sts mode DOMAIN testing|enforce`: the domain's own mode (it keeps it until changed again). */
async function mode({ ctx, args }: CommandInput): Promise<CommandResult> {
  if (args.length !== 2 || !(MTA_STS_MODES as readonly string[]).includes(args[1]!)) throw new ProblemError(problem('usage', `mta-sts mode takes a domain and testing or enforce (${USAGE})`));
  const domain = domainArg(args[0]!);
  const c = ctx!;
  // Only a domain MTA-STS covers (the web's rule): a row for any other would be retired or forgotten by the next run.
  const scan = await scanFor(c, { domains: [domain] });
  const stored = storedStates(c);
  const wanted = wantedPolicies(scan.domains, { ...c.config.mtaSts }, new Map([...stored].filter(([d]) => d === domain)), c.now());
  const refused = modeRefusal({ domain, onServer: scan.domains.some((d) => d.domain === domain), optedIn: optedIn(domain, c.config.mtaSts.publish), wanted: wanted.policies.some((p) => p.domain === domain && p.mode !== 'none'), stored: stored.has(domain) });
  if (refused) throw new ProblemError(refused);
  setModeByAdmin(c, domain, args[1] as MtaStsMode, 'cli');
  return { output: `${domain}: mode ${args[1]}; run "tlsa-manager apply" to serve and announce it`, exitCode: 0 };
}

/**
 * What the oneshot unit tlsa-manager-mta-sts-subdomain@DOMAIN runs (as root, /etc writable): the
 * subdomain as the state wants it. An opted-in domain gets it created (refused when the name is
 * used); a domain turned off whose `_mta-sts` record of ours is gone (retire.ts: that is the
 * last step but this one) has the one TLSA Manager created removed; anything else is left as it is.
 */
async function syncSubdomain({ ctx, args }: CommandInput): Promise<CommandResult> {
  if (args.length !== 1) throw new ProblemError(problem('usage', `mta-sts subdomain takes one domain (${USAGE})`));
  const domain = domainArg(args[0]!);
  const c = ctx!;
  const state = mtaStsStore(c).get(domain);
  if (optedIn(domain, c.config.mtaSts.publish)) {
    if (state?.subdomainOurs) return { output: `mta-sts.${domain}: there already (created by TLSA Manager)`, exitCode: 0 };
    const p = await createSubdomain(c, domain, (await scanFor(c, { domains: [domain] })).localZones, 'cli');
    if (p) throw new ProblemError(p);
    return { output: `created: mta-sts.${domain}`, exitCode: 0 };
  }
  // Turned off: only once our _mta-sts record is gone (the timer and apply remove it first).
  if (state?.subdomainOurs && !ourRecordLeft(c, domain, (await scanFor(c, { domains: [domain] })).localZones)) {
    const p = await removeSubdomain(c, domain, 'cli');
    if (p) throw new ProblemError(p);
    return { output: `removed: mta-sts.${domain}`, exitCode: 0 };
  }
  return { output: `mta-sts.${domain}: nothing to do (${state?.subdomainOurs ? 'MTA-STS is being turned off; the subdomain goes after the record' : 'not created by TLSA Manager'})`, exitCode: 0 };
}

/** The explicit create-subdomain / remove-subdomain (as root, /etc writable). */
async function subdomain(sub: string, { ctx, args }: CommandInput): Promise<CommandResult> {
  if (args.length !== 1) throw new ProblemError(problem('usage', `mta-sts ${sub} takes one domain (${USAGE})`));
  const domain = domainArg(args[0]!);
  const c = ctx!;
  const p = sub === 'create-subdomain' ? await createSubdomain(c, domain, (await scanFor(c, { domains: [domain] })).localZones, 'cli') : await removeSubdomain(c, domain, 'cli');
  if (p) throw new ProblemError(p);
  return { output: `${sub === 'create-subdomain' ? 'created' : 'removed (if TLSA Manager had created it)'}: mta-sts.${domain}`, exitCode: 0 };
}
