// Issue 13: a full scheduled check (the timer's runScheduledChecks, every domain due) of N
// domains with their own MX host each, all on the lab's one Exim address, under the per-host
// limits of the default config (at most checks.connectionsPerHost TLS connections at a time and
// checks.connectionsPerSecondPerHost per second to one address). Same lab zone as the check
// benchmark. Run through bench/vitest-section.mjs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startLab, type Lab } from '../test/lab/lab.js';
import { mkdirSync } from 'node:fs';
import { createContext, createLogger } from '../dist/context.js';
import { runScheduledChecks } from '../dist/checks/scheduled.js';
import { defaultConfig } from '../dist/state/config.js';

const N = Number(process.env.BENCH_HOSTS ?? 1000);
const PORTS = [25, 465, 587];
const LABEL = 'sched';

/** A self-signed wildcard certificate made with openssl: `3 1 1` ignores the issuer. */
function wildcardCert(zone: string): { combined: string; spki: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cert-'));
  try {
    const key = join(dir, 'key.pem');
    const crt = join(dir, 'crt.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '30', '-subj', `/CN=*.${zone}`, '-addext', `subjectAltName=DNS:*.${zone}`], { stdio: 'ignore' });
    const der = execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']);
    const spki = execFileSync('openssl', ['sha256', '-r'], { input: der, encoding: 'utf8' }).split(' ')[0]!;
    return { combined: readFileSync(key, 'utf8') + readFileSync(crt, 'utf8'), spki };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitSecure(lab: Lab, name: string, type: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const a = await lab.dig(name, type);
    if (a.status === 'NOERROR' && a.flags.includes('ad') && a.answers.length > 0) return;
    await lab.flushResolver();
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} ${type} never validated`);
}

it(`scheduled full check over ${N} MX hosts × ${PORTS.length} ports within the per-host limits`, async () => {
  const parent = 'lab.test';
  const zone = `${LABEL}.${parent}`;
  const cert = wildcardCert(zone);
  const records: string[] = [];
  for (let i = 0; i < N; i++) {
    for (const p of PORTS) records.push(`_${p}._tcp.mx${i} 3600 IN TLSA 3 1 1 ${cert.spki}`);
    records.push(`d${i} 3600 IN MX 10 mx${i}.${zone}.`);
  }
  const lab = await startLab({ parent, defaultZones: false, zones: [{ name: LABEL, signed: true, ds: true, records }] });
  try {
    lab.installCert(`*.${zone}`, cert.combined);
    const withA = [...records];
    for (let i = 0; i < N; i++) withA.push(`mx${i} 3600 IN A ${lab.exim}`);
    await lab.setRecords(zone, withA);
    await waitSecure(lab, `_587._tcp.mx${N - 1}.${zone}`, 'TLSA');
    await waitSecure(lab, `mx${N - 1}.${zone}`, 'A');
    await waitSecure(lab, `d${N - 1}.${zone}`, 'MX');
    await lab.flushResolver();

    const root = lab.cpanelRoot;
    const domains = Array.from({ length: N }, (_, i) => `d${i}.${zone}`);
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
