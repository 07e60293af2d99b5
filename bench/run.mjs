// npm run bench [-- SECTION...]: runs the benchmarks and appends the figures to bench/RESULTS.md.
// Each section runs in its own child process so peak memory is its own.
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';
import { BENCH_DIR, child, largeRoot, machine } from './lib.mjs';

const N = Number(process.env.BENCH_DOMAINS ?? 10000);
const CF_N = Number(process.env.BENCH_CF_DOMAINS ?? 1000);
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`;
const n = (x) => x.toLocaleString('en');
const ok = (cond) => (cond ? 'met' : '**missed**');
// hook and reconcile share one child run (one copy of the root, one first apply).
let hookRun = null;
const hookFigures = () => (hookRun ??= child('hook-reconcile.mjs', [largeRoot(N)]));

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
  async x10() {
    const r = child('plan-x10.mjs', [largeRoot(N, 'account-cert')]);
    return [
      `\`plan --json\` on ${n(r.certificates)} accounts, each with its own certificate (private CA), zone and \`MX mail.<domain>\` (${n(r.zones)} zones, ${n(r.records)} records to create, ${r.jsonMB} MB of JSON), as a process with node start, median of 3: **${sec(r.planMedianMs)}** (runs ${r.planRunsMs.map(sec).join(', ')}), peak **${mb(r.planPeakRssKB)}** (target < 300 MB: ${ok(r.planPeakRssKB < 300 * 1024)}); a \`danetool --tlsa-rr\` loop over the same ${n(r.certificates)} certificates in the same run: ${sec(r.danetoolMs)}, **×${r.ratio}** (target ≥ ×10: ${ok(r.ratio >= 10)}). Floor: reading the ${n(r.certificates)} certificate and zone files and hashing each leaf's key in one process ${sec(r.floorMs)}, peak ${mb(r.floorPeakRssKB)}; node start ${r.nodeStartMs} ms, peak ${mb(r.nodeStartRssKB)}. Load average during the run: ${r.loadAverages.join(' → ')} on ${availableParallelism()} cores.`,
    ];
  },
  async apply() {
    const r = child('apply.mjs', [largeRoot(N)]);
    return [
      `apply --yes in zone-file mode (named-checkzone, backup, reload per zone), ${n(N)} domains, ${n(r.zones)} zone files (${n(r.zonesInPlan)} with MX hosts here): first run **${sec(r.firstMs)}** wall as a process, **${n(r.zoneFilesWritten)} zone files written** (${n(r.backups)} backups), ${n(r.recordsCreated)} records created, ${r.zonesFailed} zones failed; no-change re-run **${sec(r.secondMs)}**, ${r.secondFilesWritten} files written, ${r.secondChanges} changes (must be 0: ${ok(r.secondFilesWritten === 0 && r.secondChanges === 0 && r.secondBackups === 0)}).`,
    ];
  },
  async cloudflare() {
    const r = child('vitest-section.mjs', ['bench/cloudflare.bench-run.ts'], { BENCH_CF_DOMAINS: String(CF_N) });
    const routes = (x) => Object.entries(x.byRoute).map(([k, v]) => `${k} ×${n(v)}`).join(', ');
    const run = (x) => `**${n(x.calls)} API calls** (${(x.calls / Math.max(1, x.zonesPlanned)).toFixed(1)} per zone; ${routes(x)}), ${n(x.writes)} writes, ${sec(x.measuredMs)} of work${x.budgetWaitMs > 0 ? ` + **${sec(x.budgetWaitMs)} held back by the 1,200 requests/5 min budget** = ${sec(x.projectedMs)} projected wall time` : ', the budget never held a request back'}`;
    return [
      `Cloudflare (fake API, real SDK), ${n(CF_N)}-domain root with all ${n(r.zones)} zones on Cloudflare, ${n(r.first.zonesPlanned)} with MX hosts here: first run ${run(r.first)}, ${n(r.first.created)} records created; no-change re-run ${run(r.second)} (writes must be 0: ${ok(r.second.writes === 0)}). The budget runs on a simulated clock (its waits are added, not slept). API calls are the figure to minimise.`,
    ];
  },
  async check() {
    const r = child('vitest-section.mjs', ['bench/check.bench-run.ts']);
    return [
      `check over ${n(r.hosts)} MX hosts × ${r.ports} ports (${n(r.connections)} TLS handshakes) against the lab (BIND + unbound + Exim, one wildcard certificate), concurrency ${r.concurrency} domains: **${sec(r.wallMs)}** (target < 20 s: ${ok(r.wallMs < 20000)}), ${n(r.valid)}/${n(r.hosts)} valid${r.firstNonValid ? ` (first other: ${r.firstNonValid})` : ''}, peak ${mb(r.maxRssKB)} (vitest worker incl. the lab driver).`,
    ];
  },
  async scheduled() {
    // Signing the 1,000-host zone can outlast the lab's default 15 s waits on a loaded machine.
    const r = child('vitest-section.mjs', ['bench/scheduled-check.bench-run.ts'], { TLSA_LAB_WAIT_MS: process.env.TLSA_LAB_WAIT_MS ?? '180000' });
    const within = r.peakConcurrent <= r.limitConcurrent && r.maxPerSecond <= r.limitPerSecond;
    return [
      `Scheduled full check (the timer's run with every domain due) over ${n(r.hosts)} MX hosts × ${r.ports} ports, all on the lab's one Exim address (${n(r.connections)} TLS connections), concurrency ${r.concurrency} domains, per-address limits ${r.limitConcurrent} at a time / ${r.limitPerSecond} per second: **${sec(r.wallMs)}** (target < 60 s: ${ok(r.wallMs < 60000)}), peak **${r.peakConcurrent} connections at once**, busiest second **${r.maxPerSecond} new connections** (within the limits: ${ok(within)}), ${n(r.valid)}/${n(r.hosts)} valid${r.firstNonValid ? ` (first other: ${r.firstNonValid})` : ''}, peak ${mb(r.maxRssKB)}. The same run without per-address limits: ${sec(r.unlimitedMs)} (${n(r.unlimitedValid)} valid). Load average at the end: ${r.loadAverage} on ${availableParallelism()} cores.`,
    ];
  },
  async web() {
    const r = child('web.mjs', [largeRoot(N)]);
    const page = (name, label) => {
      const p = r.pages[name];
      return `${label} \`${p.path}\` p50 ${p.p50} ms / **p95 ${p.p95} ms** (${p.kB} kB)`;
    };
    const worst = Math.max(...Object.values(r.pages).map((p) => p.p95));
    return [
      `Web list with ${n(r.domains)} domains (snapshot built once in ${sec(r.snapshotMs)}), server time from request arrival to response finish, ${r.requests} requests each after warm-up: ${page('first', 'first page')}; ${page('search', 'search')}; ${page('filtered', 'filtered')}; ${page('sorted', 'sorted')} (target p95 < 150 ms: ${ok(worst < 150)}).`,
      `WHM CGI shim (Perl, one process per request) vs a direct request over the same unix socket, \`${r.shim.route}\`: direct p50 ${r.shim.directP50} / p95 ${r.shim.directP95} ms, via shim p50 ${r.shim.shimP50} / p95 ${r.shim.shimP95} ms; **added ${r.shim.overheadP50} ms median, ${r.shim.overheadP95} ms at p95** (target < 50 ms: ${ok(r.shim.overheadP50 < 50)}).`,
    ];
  },
  async dnssec() {
    const r = child('dnssec-status.mjs', [], { BENCH_DNSSEC_ZONES: String(N) });
    const states = Object.entries(r.byState).map(([k, v]) => `${k} ${n(v)}`).join(', ');
    return [
      `\`dnssec status\` of ${n(r.zones)} zones (4 lookups each: DS at the parent's server, DS and DNSKEY through the resolver, the zone's SOA validated; the parent's SOA once) against a fake validating resolver + parent authoritative in its own process, concurrency ${r.concurrency} zones: **${sec(r.wallMs)}** (target < 60 s: ${ok(r.wallMs < 60000)}), ${states}, peak ${mb(r.maxRssKB)}. Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} cores.`,
    ];
  },
  async tlsrpt() {
    const r = child('tlsrpt.mjs', [largeRoot(Number(process.env.BENCH_TLSRPT_ROOT_DOMAINS ?? 50))]);
    return [
      `TLS-RPT import (issue 14): ${n(r.reports)} reports for ${n(r.domains)} domains from ${r.senders} senders (RFC 8460 §4.4 JSON in multipart/report mails, gzip and plain JSON, ~12 % with failures; ${r.spooledMB} MB spooled), one \`importSpool\` in one process: **${sec(r.importMs)}** wall, ${sec(r.importCpuMs)} CPU (target < 30 s: ${ok(r.importMs < 30000)}), peak ${mb(r.maxRssKB)}; load average ${r.loadAverage} on ${availableParallelism()} cores.`,
      `Domain page with a year of TLS reports (${n(r.yearReports)} reports: ${365} days × ${r.senders} senders for \`${r.pageDomain}\`, imported in ${sec(r.yearImportMs)}, on top of the ${n(r.reports)} above), server time of \`GET ${r.path}\` over ${r.requests} requests after warm-up: p50 ${r.pageP50} ms / **p95 ${r.pageP95} ms** (${r.pageKB} kB; target < 150 ms: ${ok(r.pageP95 < 150)}).`,
    ];
  },
  async 'tlsrpt-pages'() {
    const r = child('tlsrpt-pages.mjs', [largeRoot(Number(process.env.BENCH_TLSRPT_ROOT_DOMAINS ?? 250))]);
    return [
      `TLS-RPT pages under hostile mail (issue 21): a year of reports for ${n(r.domains)} domains (${n(r.yearReports)} reports, 3 senders a day each, written into the store in ${sec(r.yearStoreMs)}), then ${r.hostileMails} hostile mails (${r.hostileMB} MB: 22 bombs of 8 × 19 MB JSON, 3 single 19 MB reports of 344,000 failure details, one report naming 80,000 policies, 30 reports of one sender for one domain and day) through one \`importSpool\`: ${sec(r.hostileImportMs)}, ${r.hostileImported} imported, ${r.hostileRefused} refused. Server time of \`GET ${r.path}\` over ${r.requests} requests after warm-up: p50 ${r.pageP50} ms / **p95 ${r.pageP95} ms** (target < 150 ms: ${ok(r.pageP95 < 150)}); longest event-loop delay while serving them **${r.loopMaxMs} ms** (target < 100 ms: ${ok(r.loopMaxMs < 100)}); ${r.pageKB} kB; peak ${mb(r.maxRssKB)}; load average ${r.loadAverage} on ${availableParallelism()} cores.`,
    ];
  },
  async hook() {
    const r = hookFigures();
    return [
      `Post-stage hook (SSL::installssl post for ${r.hookDomain}) on a ${n(N)}-domain root in zone-file mode with records published, as cPanel runs it (\`tlsa-manager hook\`, node start included), median of ${r.hookRunsMs.length}: **${r.hookMedianMs} ms** (runs ${r.hookRunsMs.join(', ')}; target < 1 s: ${ok(r.hookMedianMs < 1000)}); answered \`${r.hookAnswer}\`, ${r.hookFilesWritten} zone files written.`,
    ];
  },
  async hookservice() {
    // Issue 26: one command, standalone: npm run bench -- hookservice (builds, makes the root if needed).
    // BENCH_HOOK_PHASES picks phases (latency,serial,memory,replay); only the lines of those run are written.
    const r = child('hook-client.mjs', [largeRoot(N)]);
    const l = r.loads;
    const lines = [];
    if (r.todayPost) lines.push(`Hook events on the ${n(r.domains)}-domain root (zone-file mode, records published), today's path (\`tlsa-manager hook\`, node start) beside the hook client → running service, same run, same root (load ${l.latency} → ${l.serial ?? l.end} on ${availableParallelism()} cores): post hook (SSL::installssl post, nothing to change) today p50 ${r.todayPost.p50} / p95 ${r.todayPost.p95} ms (${r.todayPost.n}), service **p50 ${r.clientPost.p50} / p95 ${r.clientPost.p95} ms** (${r.clientPost.n}; targets < 50 / < 150 ms: ${ok(r.clientPost.p50 < 50 && r.clientPost.p95 < 150)}), same answers ${r.samePostAnswers} (\`${r.postAnswer}\`); pre hook with its zone publish (AutoSSL pre, new certificate, zone file + named-checkzone + reload) today p50 ${r.todayPre.p50} / p95 ${r.todayPre.p95} ms (${r.todayPre.n}), service **p50 ${r.clientPre.p50} / p95 ${r.clientPre.p95} ms** (${r.clientPre.n}; target p50 < 300 ms: ${ok(r.clientPre.p50 < 300)}); answers ${r.preAnswers.map((a) => `\`${a}\``).join(', ')}.`);
    if (r.serialEvents !== undefined) lines.push(`${n(r.serialEvents)} events through the client one after the other (every 10th a pre event with a new certificate) in ${sec(r.serialSec * 1000)}, then 20 at once (load ${l.serial} → ${l.burst}): **${r.busy} SQLITE_BUSY, ${r.failed} failed** (must be 0: ${ok(r.busy === 0 && r.failed === 0)}); a plan afterwards has **${r.pendingChangesAfter} changes** (every zone as one reconcile leaves it: ${ok(r.pendingChangesAfter === 0)}).`);
    if (r.serviceRssMB !== undefined) lines.push(`The service's resident memory: **${r.warmRssMB} MB** when the memory phase starts, **${r.serviceRssMB} MB after ${n(r.rssEvents)} events** (target < 250 MB: ${ok(r.serviceRssMB < 250)}; load ${l.memory} → ${l.replay ?? l.end}).`);
    if (r.replayEvents !== undefined) lines.push(`Replay of ${n(r.replayEvents)} events (every 5th a pre event with a new certificate) through both paths on two copies of the same root, each path in order, the two side by side: **${r.replayAnswersDiffer} answers and ${r.replayZonesDiffer} zone files differ** (byte for byte; must be 0: ${ok(r.replayAnswersDiffer === 0 && r.replayZonesDiffer === 0)}), ${n(r.replayZonesChanged)} zone files changed by the events (load ${l.replay} → ${l.end}).`);
    return lines;
  },
  async reconcile() {
    const r = hookFigures();
    return [
      `Idle periodic reconcile on the same root (after one full run of ${sec(r.fullReconcileMs)}), median of ${r.idleRunsMs.length}: **${r.idleMedianMs} ms** with node start (runs ${r.idleRunsMs.join(', ')}; target < 2 s: ${ok(r.idleMedianMs < 2000)}), idle=${r.idleSkipped}, **${r.idleFilesWritten} zone files written**, ${r.idleApplied} DNS changes, ${r.idleBackups} backups (zero writes: ${ok(r.idleFilesWritten === 0 && r.idleApplied === 0 && r.idleBackups === 0)}).`,
    ];
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
