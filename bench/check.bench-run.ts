// (4) `check --all` cost: checkDomains over N domains, each with its own MX host, against the
// local lab (BIND + unbound + Exim), on the zone of bench/mx-lab.ts. Run through
// bench/vitest-section.mjs.
import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startMxLab } from './mx-lab.js';
import { testContext } from '../test/helpers/context.js';
import { checkDomains } from '../dist/dane/check.js';

const N = Number(process.env.BENCH_HOSTS ?? 1000);
const PORTS = [25, 465, 587];
const LABEL = 'bench';

it(`checkDomains over ${N} MX hosts × ${PORTS.length} ports`, async () => {
  const { lab, domains } = await startMxLab(LABEL, N, PORTS);
  try {
    const ctx = testContext({ resolver: lab.resolver, resolverProbeName: lab.parent });
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const results = await checkDomains(ctx, domains, { ports: PORTS });
    const wallMs = performance.now() - t0;
    const byVerdict: Record<string, number> = {};
    for (const r of results) byVerdict[r.verdict] = (byVerdict[r.verdict] ?? 0) + 1;
    const sample = results.find((r) => r.verdict !== 'valid');
    const out = {
      hosts: N,
      ports: PORTS.length,
      connections: results.reduce((n, r) => n + r.mx.reduce((m, x) => m + x.ports.length, 0), 0),
      concurrency: 16,
      wallMs: Math.round(wallMs),
      valid: byVerdict.valid ?? 0,
      byVerdict,
      firstNonValid: sample ? `${sample.domain}: ${sample.verdict}: ${sample.message}` : null,
      rssBeforeMB: Math.round(rssBefore / 2 ** 20),
      maxRssKB: process.resourceUsage().maxRSS,
    };
    writeFileSync(process.env.BENCH_OUT ?? '/dev/stdout', `${JSON.stringify(out)}\n`);
    expect(out.hosts).toBe(N);
  } finally {
    await lab.stop();
  }
});
