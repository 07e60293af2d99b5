// (issue 10 §7) `plan --json` as cPanel's admin runs it, against a `danetool` loop over the same
// certificates, in one run so that machine load weighs on both sides alike. Also the floor: what
// reading and hashing the same certificates and zone files costs in one Node process.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { CLI } from './work-root.mjs';
import { WORK, ms } from './lib.mjs';

const root = process.argv[2];
const tlsDir = join(root, 'var/cpanel/ssl/domain_tls');
const mailHosts = readdirSync(tlsDir).filter((n) => n.startsWith('mail.'));
const out = join(WORK, 'plan-x10.json');

/** One `plan --json` process, stdout to a file; wall time and peak RSS from GNU time. */
function planRun() {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', `${out}.rss`, 'sh', '-c', `exec "$0" "$@" > '${out}'`, process.execPath, CLI, 'plan', '--json', '--root', root], { encoding: 'utf8' });
  const wallMs = ms(t0);
  if (r.status !== 0) throw new Error(`plan --json failed: ${r.stderr}`);
  return { wallMs, rssKB: Number(readFileSync(`${out}.rss`, 'utf8').trim().split('\n').pop()) };
}

/** danetool, one process per certificate (how an admin scripts it without TLSA Manager). */
function danetoolLoop() {
  const t0 = process.hrtime.bigint();
  for (const h of mailHosts) {
    execFileSync('danetool', ['--tlsa-rr', '--host', h, '--port', '25', '--load-certificate', join(tlsDir, h, 'combined')], { stdio: ['ignore', 'pipe', 'ignore'] });
  }
  return ms(t0);
}

/** Read every MX host's certificate file and zone file, parse the leaf, hash its public key. */
function floor() {
  const t0 = process.hrtime.bigint();
  let sink = 0;
  for (const h of mailHosts) {
    const leaf = new X509Certificate(readFileSync(join(tlsDir, h, 'combined')));
    sink += createHash('sha256').update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest()[0];
    sink += readFileSync(join(root, 'var/named', `${h.slice(5)}.db`)).length;
  }
  return { floorMs: ms(t0), sink };
}

/** The floor in a process of its own, so its peak memory is its own too. */
function floorRun() {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), root, '--floor'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`floor failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Peak memory of a Node process that only starts (the part of every figure no code of ours can remove). */
function nodeStartRssKB() {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, '-e', ''], { encoding: 'utf8' });
  return Number(r.stderr.trim().split('\n').pop());
}

if (process.argv[3] === '--floor') {
  const f = floor();
  console.log(JSON.stringify({ ...f, maxRssKB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

function nodeStart() {
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, ['-e', '']);
  return ms(t0);
}

const load = [loadavg()[0]];
const plans = [planRun()];
const danetoolMs = danetoolLoop();
load.push(loadavg()[0]);
plans.push(planRun(), planRun());
const f = floorRun();
const starts = [nodeStart(), nodeStart(), nodeStart()].sort((a, b) => a - b);
load.push(loadavg()[0]);
const walls = plans.map((p) => Math.round(p.wallMs)).sort((a, b) => a - b);
const plan = JSON.parse(readFileSync(out, 'utf8'));
console.log(JSON.stringify({
  certificates: mailHosts.length,
  zones: plan.zones.length,
  records: plan.zones.reduce((n, z) => n + z.changes.length, 0),
  jsonMB: +(statSync(out).size / 2 ** 20).toFixed(1),
  planRunsMs: plans.map((p) => Math.round(p.wallMs)),
  planMedianMs: walls[1],
  planPeakRssKB: Math.max(...plans.map((p) => p.rssKB)),
  danetoolMs: Math.round(danetoolMs),
  ratio: +(danetoolMs / walls[1]).toFixed(1),
  floorMs: Math.round(f.floorMs),
  floorPeakRssKB: f.maxRssKB,
  nodeStartRssKB: nodeStartRssKB(),
  nodeStartMs: Math.round(starts[1]),
  loadAverages: load.map((x) => +x.toFixed(1)),
}));
