#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoManifest } from './build-root.js';
import { startAccountPages } from './account-pages.js';
import { startDemoNetwork, type DemoNetwork } from './network.js';
import { seedMessages } from './tlsrpt-seed.js';
import { MTA_STS_DEMO, seedMtaSts } from './mtasts-seed.js';
import { DemoError, explain, mapLimit } from './util.js';

/**
 * `npm start`: the product's own `serve` command on a fake cPanel root. Builds `.demo/root` on
 * first run, starts the simulated network (demo/network.ts) and points the demo config at it, then runs
 * `node dist/cli.js serve --listen 127.0.0.1:8450` against it: the demo serves exactly the code
 * that ships.
 */
const here = dirname(fileURLToPath(import.meta.url));
/** Compiled to .demo/build/, two levels below the repository. */
const REPO = join(here, '..', '..');
/** Where the product keeps its configuration under a root (src/state/config.ts CONFIG_PATH). */
const CONFIG_PATH = 'etc/tlsa-manager/config.json';

export async function prepareDemoRoot(dir: string): Promise<DemoManifest> {
  const manifestFile = join(dir, 'demo-manifest.json');
  if (!existsSync(manifestFile)) {
    process.stdout.write(`Building the demo server tree in ${dir} (first run only)…\n`);
    const { buildDemoRoot } = await import('./build-root.js');
    await buildDemoRoot(dir, existsSync(dir) ? { force: true } : {});
  }
  return JSON.parse(readFileSync(manifestFile, 'utf8')) as DemoManifest;
}

/**
 * Points the product at this run's demo network through its ordinary configuration (the ports
 * are new on every start): the resolver, the authoritative server asked after a zone edit,
 * checks.smtpEndpoints for the mail listeners and dnssec.servers for the simulated TLD's server.
 * It also opts the demo into publishing TLS-RPT policies (tlsrpt.publish "all") and MTA-STS for the
 * seeded domains (with auto-enforce) the first time. Everything else someone saved in Settings stays.
 */
export function writeDemoConfig(dir: string, network: DemoNetwork): void {
  const configFile = join(dir, CONFIG_PATH);
  mkdirSync(dirname(configFile), { recursive: true, mode: 0o700 });
  const current = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, Record<string, unknown>>) : {};
  const next = {
    ...current,
    resolver: `${network.resolver.host}:${network.resolver.port}`,
    cpanel: { ...current.cpanel, authoritative: `${network.authoritative.host}:${network.authoritative.port}` },
    // The simulated resolver caches nothing: a publish is visible at once, so its re-check runs at once (issue 24).
    // No port 443 here: Check now leaves the MTA-STS results seeded as proven (demo/mtasts-seed.ts) and the pages say so.
    checks: { afterPublishDelaySeconds: 0, ...current.checks, smtpEndpoints: network.smtpEndpoints, mtaStsOnDemand: false },
    dnssec: { ...current.dnssec, servers: { ...(current.dnssec?.servers as Record<string, string[]> | undefined), ...network.dnssecServers } },
    // The demo publishes TLS-RPT policies (_smtp._tls) with its TLSA records unless Settings chose otherwise.
    tlsrpt: { ...current.tlsrpt, publish: current.tlsrpt?.publish ?? 'all' },
    // MTA-STS for the seeded domains (demo/mtasts-seed.ts), with auto-enforce's countdown, unless Settings chose otherwise.
    mtaSts: { ...current.mtaSts, publish: current.mtaSts?.publish ?? MTA_STS_DEMO.map((d) => d.domain), autoEnforce: current.mtaSts?.autoEnforce ?? { enabled: true, afterDays: 14 } },
  };
  writeFileSync(configFile, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
}

/** Written once the demo's TLS reports went through ingest and import (first start only). */
const SEEDED_MARKER = '.tlsa-manager-demo-tlsrpt-seeded';

/** The shipped CLI on the demo root, asynchronously: the demo network in this process must keep answering. */
export function runCli(cli: string, dir: string, args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, TLSA_MANAGER_ROOT: dir, TLSA_MANAGER_DEMO: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * A new root's first start: five days of TLS reports (demo/tlsrpt-seed.ts) through the product's own path, each
 * message piped to `tlsrpt ingest` as Exim would, then `tlsrpt import`. Import first makes the
 * spool (install.sh does on a server; ingest never creates it).
 */
export async function seedTlsReports(cli: string, dir: string, manifest: DemoManifest): Promise<string | null> {
  if (existsSync(join(dir, SEEDED_MARKER))) return null;
  const step = async (args: string[], input?: string): Promise<string> => {
    const r = await runCli(cli, dir, args, input);
    if (r.code !== 0) throw new DemoError('demo-seed-failed', `tlsa-manager ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`, `Delete ${dir} and start again.`);
    return r.stdout.trim();
  };
  await step(['tlsrpt', 'import']);
  await mapLimit(seedMessages(manifest, dir), 4, (msg) => step(['tlsrpt', 'ingest'], msg));
  const summary = await step(['tlsrpt', 'import']);
  writeFileSync(join(dir, SEEDED_MARKER), 'TLS reports of the demo imported.\n');
  return summary;
}

/** Above this many zones (a `--domains` root) start does not wait for every chain to be checked. */
const DNSSEC_AT_START_MAX_ZONES = 200;

/** `dnssec status --all` as an admin would run it: the DNSSEC panels then show every zone's chain. */
export async function checkDnssec(cli: string, dir: string): Promise<string> {
  const zones = readdirSync(join(dir, 'var', 'named')).filter((f) => f.endsWith('.db')).length;
  if (zones > DNSSEC_AT_START_MAX_ZONES) return `not checked at start for ${zones} zones (TLSA_MANAGER_ROOT=${dir} node dist/cli.js dnssec status --all fills the DNSSEC panels)`;
  const r = await runCli(cli, dir, ['dnssec', 'status', '--all', '--json']);
  // Exit 1 means a zone is bogus, which the demo has on purpose.
  let rows: { state: string }[];
  try {
    rows = JSON.parse(r.stdout) as { state: string }[];
  } catch {
    throw new DemoError('demo-dnssec-failed', `tlsa-manager dnssec status --all failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  return `${rows.length} zones: ${[...counts].map(([s, n]) => `${n} ${s}`).join(', ')}`;
}

async function main(): Promise<void> {
  const dir = process.env.TLSA_MANAGER_DEMO_ROOT ?? join(REPO, '.demo', 'root');
  const port = Number(process.env.PORT ?? 8450);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  const cli = join(REPO, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing; run npm run build first (npm start does).`);
  // The reports tell the story of the root as built (bravo's stale records): only a new root gets them.
  const fresh = !existsSync(join(dir, 'demo-manifest.json'));
  const manifest = await prepareDemoRoot(dir);
  // Counted as the product counts them (/etc/userdomains: an addon domain's subdomain is a domain of its own), so this line and the overview agree.
  const domains = readFileSync(join(dir, 'etc', 'userdomains'), 'utf8').split('\n').filter((l) => l.includes(':') && !l.startsWith('*')).length;
  process.stdout.write(`Demo: ${domains} domains on ${manifest.hostname} (root ${dir}).\n`);
  const network = await startDemoNetwork({
    root: dir,
    manifest,
    onZoneLoad: (zone, serial) => process.stdout.write(`demo network: serving ${zone} (serial ${serial ?? '?'})\n`),
  });
  writeDemoConfig(dir, network);
  process.stdout.write(
    `Demo network on loopback: validating resolver ${network.resolver.host}:${network.resolver.port}, authoritative ${network.authoritative.host}:${network.authoritative.port}, parent zone (${network.parent.zones.join(', ')}.) ${network.parent.host}:${network.parent.port}, SMTP 25→${network.smtp[25]} 465→${network.smtp[465]} 587→${network.smtp[587]}.\n`,
  );
  const seeded = fresh ? await seedTlsReports(cli, dir, manifest) : null;
  if (seeded) process.stdout.write(`Demo TLS reports (five days, two senders) through tlsrpt ingest and import: ${seeded}\n`);
  const sts = fresh ? await seedMtaSts(cli, dir, manifest, { maxAgeTesting: 86400, maxAgeEnforce: 1209600, mxWildcard: false }) : null;
  if (sts) process.stdout.write(`Demo MTA-STS (seeded as served and checked; the demo network has no port 443): ${sts}\n`);
  process.stdout.write(`DNSSEC chains (tlsa-manager dnssec status --all): ${await checkDnssec(cli, dir)}\n`);
  // Demo only: each account owner's cPanel page, beside WHM (demo/account-pages.ts).
  const pages = await startAccountPages({ repo: REPO, root: dir, work: join(dirname(dir), 'jupiter'), port: port === 0 ? 0 : port + 1, accounts: manifest.accounts });
  process.stdout.write(typeof pages === 'string' ? `Account owners' pages: not started (${pages}).\n` : `Account owners' cPanel pages (demo only, no login): ${pages.url}\n`);
  const child = spawn(process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: 'inherit', env: { ...process.env, TLSA_MANAGER_ROOT: dir, TLSA_MANAGER_DEMO: '1' } });
  // Ctrl-C reaches the server through the terminal; a SIGTERM sent to this process is passed on.
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGINT', () => undefined);
  child.on('exit', (code, signal) => {
    void Promise.all([network.close(), typeof pages === 'string' ? null : pages.close()]).finally(() => process.exit(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`tlsa-manager demo: ${explain(err)}\n`);
    process.exit(1);
  });
}
