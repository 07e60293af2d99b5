// `dnssec status` of N zones (default 10,000) against a fake resolver + parent authoritative
// (bench/dnssec-fake-dns.mjs, its own process) with the product's bounded concurrency. Prints
// one JSON line: wall time, zones per state, peak RSS.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, REPO } from './lib.mjs';

const N = Number(process.env.BENCH_DNSSEC_ZONES ?? 10000);
const fake = spawn(process.execPath, [join(BENCH_DIR, 'dnssec-fake-dns.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  fake.stdout.on('data', (d) => {
    const m = /PORT (\d+)/.exec(String(d));
    if (m) resolve(Number(m[1]));
  });
  fake.on('exit', (c) => reject(new Error(`fake DNS exited ${c}`)));
});
const root = mkdtempSync(join(tmpdir(), 'tlsa-bench-dnssec-'));
try {
  mkdirSync(join(root, 'etc/tlsa-manager'), { recursive: true });
  const concurrency = Number(process.env.BENCH_DNSSEC_CONCURRENCY ?? 64);
  writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ resolver: `127.0.0.1:${port}`, dnssec: { servers: { 'bench.test': [`127.0.0.1:${port}`] }, concurrency } }), { mode: 0o600 });
  const { createContext, createLogger } = await import(join(REPO, 'dist/context.js'));
  const { dnssecStatus } = await import(join(REPO, 'dist/dnssec/status.js'));
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  const zones = Array.from({ length: N }, (_, i) => `z${i}.bench.test`);
  const t0 = performance.now();
  const rows = await dnssecStatus(ctx, zones, { signers: false });
  const wallMs = Math.round(performance.now() - t0);
  const byState = {};
  for (const r of rows) byState[r.state] = (byState[r.state] ?? 0) + 1;
  process.stdout.write(`${JSON.stringify({ zones: N, concurrency, wallMs, byState, maxRssKB: process.resourceUsage().maxRSS })}\n`);
} finally {
  fake.kill();
  rmSync(root, { recursive: true, force: true });
}
