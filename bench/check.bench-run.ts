// (4) `check --all` cost: checkDomains over N domains, each with its own MX host, against the
// local lab (BIND + unbound + Exim). One signed zone with DS; every mxN has an A record to the
// lab's Exim and `3 1 1` TLSA records on 25/465/587 for one wildcard certificate that Exim
// presents for every mxN (SNI). Run through bench/vitest-section.mjs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startLab, type Lab } from '../test/lab/lab.js';
import { testContext } from '../test/helpers/context.js';
import { checkDomains } from '../dist/dane/check.js';

const N = Number(process.env.BENCH_HOSTS ?? 1000);
const PORTS = [25, 465, 587];
const LABEL = 'bench';

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

it(`checkDomains over ${N} MX hosts × ${PORTS.length} ports`, async () => {
  const parent = 'lab.test';
  const zone = `${LABEL}.${parent}`;
  const cert = wildcardCert(zone);
  const records: string[] = [];
  // The lab's Exim address is only known after start; its A records are set below.
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
    // Large signed zones are signed in steps: wait until the last names validate.
    await waitSecure(lab, `_587._tcp.mx${N - 1}.${zone}`, 'TLSA');
    await waitSecure(lab, `mx${N - 1}.${zone}`, 'A');
    await waitSecure(lab, `d${N - 1}.${zone}`, 'MX');
    await lab.flushResolver();

    const ctx = testContext({ resolver: lab.resolver, resolverProbeName: lab.parent });
    const domains = Array.from({ length: N }, (_, i) => `d${i}.${zone}`);
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
