#!/usr/bin/env node
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createContext } from '../context.js';
import { toProblem } from '../problem.js';
import { CONFIG_PATH, defaultConfig, saveConfig } from '../state/config.js';
import { loginUrl, startServer } from './server.js';

/**
 * `npm start`: a demo server on a fake cPanel root. Builds `.demo/root` on first run, writes a
 * demo config (checks use a loopback resolver only), scans once and serves on 127.0.0.1:8450.
 */
const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, '..', '..');

export async function prepareDemoRoot(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'demo-manifest.json'))) {
    process.stdout.write(`Building the demo server tree in ${dir} (first run only)…\n`);
    const { buildDemoRoot } = await import('../demo/build-root.js');
    await buildDemoRoot(dir, existsSync(dir) ? { force: true } : {});
  }
  const configFile = join(dir, CONFIG_PATH);
  if (!existsSync(configFile)) saveConfig(configFile, { ...defaultConfig(), resolver: '127.0.0.1:53' });
}

async function main(): Promise<void> {
  const dir = process.env.TLSA_MANAGER_DEMO_ROOT ?? join(packageRoot, '.demo', 'root');
  const port = Number(process.env.PORT ?? 8450);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, not "${process.env.PORT}"`);
  await prepareDemoRoot(dir);
  const ctx = createContext({ root: dir });
  const token = process.env.TLSA_MANAGER_WEB_TOKEN || undefined;
  const running = await startServer(ctx, { kind: 'tcp', host: '127.0.0.1', port }, token ? { loginToken: token } : {});
  const d = await running.web.snapshot.refresh();
  process.stdout.write(
    `Demo: ${d.rows.length} domains on ${d.plan.scan.hostname ?? 'the demo server'} (root ${dir}).\n` +
      `TLSA Manager is listening on ${running.address}\nOpen this link to sign in:\n  ${loginUrl(running.address, running.web.loginToken)}\n`,
  );
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    const p = toProblem(err);
    process.stderr.write(`tlsa-manager demo: ${p.message}${p.fix ? ` (${p.fix})` : ''}\n`);
    process.exit(1);
  });
}
