// Runs one bench/*.bench-run.ts through vitest (it needs the TypeScript fakes) and prints the
// JSON line it wrote to $BENCH_OUT, so run.mjs reads it like any other child script.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './lib.mjs';

const [file, ...args] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'tlsa-bench-'));
const out = join(dir, 'result.json');
try {
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'bench/vitest.bench.config.ts', file], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, BENCH_OUT: out, BENCH_ARGS: JSON.stringify(args) },
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`vitest ${file} failed (exit ${r.status}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  process.stdout.write(`${readFileSync(out, 'utf8').trim()}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
