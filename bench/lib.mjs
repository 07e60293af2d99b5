// Shared helpers for the benchmarks: they import the built code (dist/), never the sources.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO = dirname(BENCH_DIR);
export const WORK = join(BENCH_DIR, '.work');

/** A demo root with N generated domains of a shape (demo/scenario.ts scaledScenario), built once and reused (delete bench/.work to rebuild). */
export function largeRoot(n, shape = 'mixed') {
  const dir = join(WORK, shape === 'mixed' ? `root-${n}` : `root-${n}-${shape}`);
  if (!existsSync(join(dir, 'demo-manifest.json'))) {
    execFileSync(process.execPath, [join(REPO, '.demo/build/build-root-cli.js'), dir, '--domains', String(n), '--shape', shape, '--force'], { stdio: 'inherit' });
  }
  return dir;
}

/** Run a bench child script; it prints one JSON line with its figures (and maxRssKB). */
export function child(script, args = [], env = {}) {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [join(BENCH_DIR, script), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop();
  return { ...JSON.parse(last), processWallMs: wallMs };
}

export function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const os = existsSync('/etc/os-release') ? /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : 'unknown OS';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${os}, Node ${process.version}`;
}

export function maxRssKB() {
  return process.resourceUsage().maxRSS;
}

export function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
