#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoManifest } from './build-root.js';
import { startDemoNetwork, type DemoNetwork } from './network.js';
import { explain } from './util.js';

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
 * are new on every start): the resolver, the authoritative server asked after a zone edit, and
 * checks.smtpEndpoints for the mail listeners. Everything else someone saved in Settings stays.
 */
export function writeDemoConfig(dir: string, network: DemoNetwork): void {
  const configFile = join(dir, CONFIG_PATH);
  mkdirSync(dirname(configFile), { recursive: true, mode: 0o700 });
  const current = existsSync(configFile) ? (JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, Record<string, unknown>>) : {};
  const next = {
    ...current,
    resolver: `${network.resolver.host}:${network.resolver.port}`,
    cpanel: { ...current.cpanel, authoritative: `${network.authoritative.host}:${network.authoritative.port}` },
    checks: { ...current.checks, smtpEndpoints: network.smtpEndpoints },
  };
  writeFileSync(configFile, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
}

async function main(): Promise<void> {
  const dir = process.env.TLSA_MANAGER_DEMO_ROOT ?? join(REPO, '.demo', 'root');
  const port = Number(process.env.PORT ?? 8450);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  const cli = join(REPO, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing; run npm run build first (npm start does).`);
  const manifest = await prepareDemoRoot(dir);
  process.stdout.write(`Demo: ${manifest.domains.length} domains on ${manifest.hostname} (root ${dir}).\n`);
  const network = await startDemoNetwork({
    root: dir,
    manifest,
    onZoneLoad: (zone, serial) => process.stdout.write(`demo network: serving ${zone} (serial ${serial ?? '?'})\n`),
  });
  writeDemoConfig(dir, network);
  process.stdout.write(
    `Demo network on loopback: validating resolver ${network.resolver.host}:${network.resolver.port}, authoritative ${network.authoritative.host}:${network.authoritative.port}, SMTP 25→${network.smtp[25]} 465→${network.smtp[465]} 587→${network.smtp[587]}.\n`,
  );
  const child = spawn(process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: 'inherit', env: { ...process.env, TLSA_MANAGER_ROOT: dir, TLSA_MANAGER_DEMO: '1' } });
  // Ctrl-C reaches the server through the terminal; a SIGTERM sent to this process is passed on.
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGINT', () => undefined);
  child.on('exit', (code, signal) => {
    void network.close().finally(() => process.exit(code ?? (signal ? 1 : 0)));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`tlsa-manager demo: ${explain(err)}\n`);
    process.exit(1);
  });
}
