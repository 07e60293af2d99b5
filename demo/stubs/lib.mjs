// Shared helpers for the demo's stub cPanel executables. Plain ESM JavaScript with no
// dependencies: these files are copied into a demo root and run there by `node`.
import { appendFileSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The stubs live in <root>/usr/local/cpanel/demo-stubs/; the executables in
// <root>/usr/local/cpanel/bin/ (and <root>/usr/bin/systemctl) are relative symlinks to them.
export const ROOT = resolve(dirname(realpathSync(fileURLToPath(import.meta.url))), '../../../..');

/** An absolute cPanel path ("/var/named/x.db") inside the demo root. */
export function under(cpanelPath) {
  if (!cpanelPath.startsWith('/') || cpanelPath.split('/').includes('..')) {
    throw new Error(`refusing path outside the demo root: ${cpanelPath}`);
  }
  return join(ROOT, cpanelPath);
}

/** One JSON line per call so tests can assert exactly what the product ran. */
export function logCall(stub, argv) {
  const file = under('/var/log/stub-calls.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, JSON.stringify({ stub, argv, time: new Date().toISOString(), pid: process.pid }) + '\n');
}

export function fail(message, code = 1) {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** cPanel's AppConfig / hook names: no path tricks, no odd characters. */
export const SAFE_NAME = /^[A-Za-z0-9_-]+$/;
