// Issue 13: a full scheduled check (the timer's runScheduledChecks, every domain due) of N
// domains with their own MX host each, all on the lab's one Exim address, under the per-host
// limits of the default config (at most checks.connectionsPerHost TLS connections at a time and
// checks.connectionsPerSecondPerHost per second to one address). The lab zone of bench/mx-lab.ts, as
// the check benchmark. Run through bench/vitest-section.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startMxLab } from './mx-lab.js';
import { createContext, createLogger } from '../dist/context.js';
import { runScheduledChecks } from '../dist/checks/scheduled.js';
import { defaultConfig } from '../dist/state/config.js';

const N = Number(process.env.BENCH_HOSTS ?? 1000);
const PORTS = [25, 465, 587];
const LABEL = 'sched';

it(`scheduled full check over ${N} MX hosts × ${PORTS.length} ports within the per-host limits`, async () => {
  const { lab, domains } = await startMxLab(LABEL, N, PORTS);
  try {
    const root = lab.cpanelRoot;
    writeFileSync(join(root, 'etc/userdomains'), domains.map((d) => `${d}: benchuser`).join('\n') + '\n');
    mkdirSync(join(root, 'etc/tlsa-manager'), { recursive: true });
    // Alerts off (no channel): the figure is the checking, not delivery.
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ resolver: lab.resolver, resolverProbeName: lab.parent, alerts: { cpanelNotifications: false } }), { mode: 0o600 });
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    const limits = defaultConfig().checks;
    const t0 = performance.now();
    const run = await runScheduledChecks(ctx, { all: true });
    const wallMs = performance.now() - t0;
    const byVerdict: Record<string, number> = {};
    for (const r of run.checked) byVerdict[r.verdict] = (byVerdict[r.verdict] ?? 0) + 1;
    const grants = run.gate.grants.get(lab.exim) ?? [];
    // The busiest one-second window of new connections to the Exim address.
    let maxPerSecond = 0;
    for (let i = 0, j = 0; i < grants.length; i++) {
      while (grants[i]! - grants[j]! >= 1000) j++;
      maxPerSecond = Math.max(maxPerSecond, i - j + 1);
    }
    const sample = run.checked.find((r) => r.verdict !== 'valid');
    // The same run without the per-address limits (16 at a time = the domain concurrency, no rate
    // cap): what the limits cost, as against what the (shared) machine costs.
    await lab.flushResolver();
    const free = createContext({ root, logger: createLogger({ level: 'silent' }) });
    free.config = { ...free.config, checks: { ...free.config.checks, connectionsPerHost: 16, connectionsPerSecondPerHost: 1000 } };
    const t1 = performance.now();
    const unlimited = await runScheduledChecks(free, { all: true });
    const unlimitedMs = performance.now() - t1;
    const out = {
      hosts: N,
      ports: PORTS.length,
      connections: grants.length,
      concurrency: limits.concurrency,
      limitConcurrent: limits.connectionsPerHost,
      limitPerSecond: limits.connectionsPerSecondPerHost,
      peakConcurrent: run.gate.peak.get(lab.exim) ?? 0,
      maxPerSecond,
      wallMs: Math.round(wallMs),
      unlimitedMs: Math.round(unlimitedMs),
      unlimitedValid: unlimited.checked.filter((r) => r.verdict === 'valid').length,
      loadAverage: loadavg().map((x) => x.toFixed(1)).join(' '),
      valid: byVerdict.valid ?? 0,
      byVerdict,
      firstNonValid: sample ? `${sample.domain}: ${sample.verdict}: ${sample.message}` : null,
      maxRssKB: process.resourceUsage().maxRSS,
    };
    writeFileSync(process.env.BENCH_OUT ?? '/dev/stdout', `${JSON.stringify(out)}\n`);
    expect(out.hosts).toBe(N);
  } finally {
    await lab.stop();
  }
});
