// npm run bench [-- SECTION...]: runs the benchmarks and appends the figures to bench/RESULTS.md.
// Each section runs in its own child process so peak memory is its own.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, child, largeRoot, machine } from './lib.mjs';

const N = Number(process.env.BENCH_DOMAINS ?? 10000);
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;

const sections = {
  async tlsa() {
    const r = child('tlsa-throughput.mjs', [largeRoot(N)]);
    return [
      `TLSA \`3 1 1\` over ${r.certificates} certificates in one process: **${r.oursPerSec.toLocaleString('en')} certificates/s** (target ≥ 20,000), peak ${mb(r.maxRssKB)}.`,
      `Same sample of ${r.sample}, one process per certificate: OpenSSL pipeline ${r.opensslPerSec}/s, danetool ${r.danetoolPerSec ?? 'n/a'}/s; ours is ${Math.round(r.oursPerSec / r.opensslPerSec)}× the OpenSSL pipeline${r.danetoolPerSec ? ` and ${Math.round(r.oursPerSec / r.danetoolPerSec)}× danetool` : ''}.`,
    ];
  },
  async scan() {
    const root = largeRoot(N);
    const runs = [0, 1, 2].map(() => child('scan-plan.mjs', [root])).sort((a, b) => a.scanPlanMs - b.scanPlanMs);
    const r = runs[1];
    return [`scan + plan of ${r.domains} domains of ${N} accounts' worth (${r.endpoints} MX endpoints, ${r.zones} zones, ${r.creates} records to create), median of 3: **${r.scanPlanMs} ms** in-process (runs ${runs.map((x) => x.scanPlanMs).join(', ')}), ${Math.round(r.processWallMs)} ms with Node start, peak **${mb(Math.max(...runs.map((x) => x.maxRssKB)))}** (targets < 3 s, < 300 MB).`];
  },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(sections);
const lines = [];
for (const name of wanted) {
  const run = sections[name];
  if (!run) throw new Error(`unknown section ${name}; known: ${Object.keys(sections).join(', ')}`);
  process.stderr.write(`bench: ${name}…\n`);
  for (const l of await run()) {
    lines.push(`- ${l}`);
    process.stdout.write(`${l}\n`);
  }
}
const file = join(BENCH_DIR, 'RESULTS.md');
if (!existsSync(file)) writeFileSync(file, '# Benchmark results\n\nAppended by `npm run bench`; newest last. Targets come from the issues.\n');
appendFileSync(file, `\n## ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — ${machine()}\n\n${lines.join('\n')}\n`);
