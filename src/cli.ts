#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { createContext, type AppContext } from './context.js';
import { exitCodeOf, toProblem } from './problem.js';
import { commands, GLOBAL_OPTIONS, type Options } from './cli/commands.js';
import type { CommandResult, Values } from './cli/types.js';

const USAGE = `Usage: tlsa-manager <command> [options]

Commands:
  tlsa --cert FILE [--host H] [--port P]... [--usage U] [--selector S] [--matching M]
                      TLSA records for a certificate file (PEM, chain, cPanel combined, DER)
  scan                mail endpoints: MX hosts per domain and the certificate Exim presents
  plan [--domain D]...  desired vs published TLSA records; changes nothing
  apply [--domain D]... [--yes] [--force] [--takeover OWNER]...  publish the plan
  check [DOMAIN...] [--all] [--resolver IP[:PORT]]  DANE validation as a sender sees it
        [--nagios [--warning N] [--critical N] [--mta-sts]]  one status line, Monitoring Plugins exit codes
                                     (--mta-sts: broken MTA-STS domains count too, sts_broken= in the perfdata)
  metrics             Prometheus exposition of the server's state (from the state database)
  alerts list [--json]  open alerts (webhook field names in JSON)
  audit [--format table|csv|json]  one row per domain
  dnssec status [ZONE...] [--all]  DNSSEC chain per zone: secure, signed-no-ds, bogus, ... (exit 1 if bogus)
  dnssec ds ZONE      the DS to give the registrar (zone-file line, registrar fields, DNSKEY; CDS/CDNSKEY)
  dnssec enable ZONE... [--yes] [--force]   start signing (cPanel/PowerDNS or Cloudflare, algorithm 13)
  dnssec disable ZONE... [--yes] [--after-ds-gone]   stop signing; refused while the parent has a DS
  hook [--describe] [--budget SECONDS]  cPanel hook protocol (JSON on stdin; answers within the budget, default 50 s)
  reconcile [--metrics-file PATH]  periodic run (timer): cheap when nothing changed
  mta-sts status [DOMAIN...] [--all] [--json]  MTA-STS as a sender sees it: TXT, policy over HTTPS, MX patterns, MX certificates (exit 1 if broken)
  mta-sts mode DOMAIN testing|enforce  the domain's own MTA-STS mode (served, then announced, by the next apply)
  mta-sts subdomain DOMAIN         (root; the oneshot unit) creates mta-sts.DOMAIN for an opted-in domain, removes ours when turned off
  mta-sts create-subdomain DOMAIN  (root; the oneshot unit) mta-sts.DOMAIN through WHM API 1, refused when the name is used
  mta-sts remove-subdomain DOMAIN  (root; the oneshot unit) removes mta-sts.DOMAIN only if TLSA Manager created it
  tlsrpt ingest        one TLS-RPT mail on stdin (Exim pipe) into the spool; refusals exit 0 (no bounce)
  tlsrpt import        spooled reports into the state database (also done by reconcile)
  tlsrpt list [--domain D] [--json]  stored TLS reports (RFC 8460), newest first
  tlsrpt repair-route [--json]  put Exim's route for tlsrpt@<hostname> back as install.sh does (exit 0 ok/repaired, 1 failed)
  account status --user NAME [--domain D] [--json]  what one cPanel account may see of its domains (no network)
  serve [--listen HOST:PORT [--tls-cert FILE --tls-key FILE] [--insecure] | --socket PATH]  the web app
  login-link          a fresh one-time login link (15 minutes) for the running standalone server

Global options: --root DIR (default /, env TLSA_MANAGER_ROOT), --config FILE, --json, --debug
Exit codes: 0 ok, 1 something does not validate / failed, 2 usage or configuration error.`;

/** Every option any command knows: only to find the command name before parsing strictly. */
const ALL_OPTIONS: Options = Object.assign({}, GLOBAL_OPTIONS, ...Object.values(commands).map((c) => c.options));

async function main(argv: string[]): Promise<number> {
  const usageError = (message: string) => {
    // In Nagios mode every failure is one status line and UNKNOWN (Monitoring Plugins guidelines).
    if (argv.includes('--nagios')) {
      process.stdout.write(`TLSA_MANAGER UNKNOWN - ${message.replace(/\s+/g, ' ')}\n`);
      return 3;
    }
    process.stderr.write(`tlsa-manager: ${message}\n${USAGE}\n`);
    return 2;
  };
  let name: string | undefined;
  try {
    name = parseArgs({ args: argv, options: ALL_OPTIONS, allowPositionals: true, strict: false }).positionals[0];
  } catch (err) {
    return usageError((err as Error).message);
  }
  const entry = name === undefined ? undefined : commands[name];
  if (name !== undefined && !entry) return usageError(`unknown command "${name}"`);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...entry?.options }, allowPositionals: true, strict: true });
  } catch (err) {
    return usageError(name === undefined ? (err as Error).message : `${name}: ${(err as Error).message}`);
  }
  const values = parsed.values as Values;
  const rest = parsed.positionals.slice(1);
  if (values.help || !entry) {
    process.stdout.write(`${USAGE}\n`);
    return entry || values.help ? 0 : 2;
  }
  try {
    const command = await entry.load();
    const ctx: AppContext | null = command.needsContext === false ? null : createContext({ root: values.root as string | undefined, config: values.config as string | undefined });
    const result: CommandResult = await command.run({ ctx, values, args: rest, stdin: () => readFileSync(0, 'utf8') });
    if (result.output) process.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
    if (result.stream) await result.stream(writeStdout);
    if (result.exitNow) process.stdout.write('', () => process.exit(result.exitCode));
    return result.exitCode;
  } catch (err) {
    if (values.debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    const p = toProblem(err);
    process.stderr.write(`tlsa-manager: ${p.message}${p.fix ? ` (${p.fix})` : ''}\n`);
    return exitCodeOf(p);
  }
}

/** Write to stdout, waiting for 'drain' when the pipe is full so memory stays bounded. */
function writeStdout(chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(chunk, (err) => (err ? reject(err) : undefined))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tlsa-manager: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
