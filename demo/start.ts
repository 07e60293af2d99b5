#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoManifest } from './build-root.js';
import { explain } from './util.js';

/**
 * `npm start`: the product's own `serve` command on a fake cPanel root. Builds `.demo/root` on
 * first run, writes a demo config (checks use a loopback resolver only), then runs
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
  const configFile = join(dir, CONFIG_PATH);
  if (!existsSync(configFile)) {
    mkdirSync(dirname(configFile), { recursive: true, mode: 0o700 });
    writeFileSync(configFile, `${JSON.stringify({ resolver: '127.0.0.1:53' }, null, 2)}\n`, { mode: 0o600 });
  }
  return JSON.parse(readFileSync(manifestFile, 'utf8')) as DemoManifest;
}

async function main(): Promise<void> {
  const dir = process.env.TLSA_MANAGER_DEMO_ROOT ?? join(REPO, '.demo', 'root');
  const port = Number(process.env.PORT ?? 8450);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  const cli = join(REPO, 'dist', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing; run npm run build first (npm start does).`);
  const manifest = await prepareDemoRoot(dir);
  process.stdout.write(`Demo: ${manifest.domains.length} domains on ${manifest.hostname} (root ${dir}).\n`);
  const child = spawn(process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: 'inherit', env: { ...process.env, TLSA_MANAGER_ROOT: dir } });
  // Ctrl-C reaches the server through the terminal; a SIGTERM sent to this process is passed on.
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGINT', () => undefined);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`tlsa-manager demo: ${explain(err)}\n`);
    process.exit(1);
  });
}
