// Issue 26: cPanel hook events answered by the running service through the Perl hook client
// (plugin/bin/tlsa-manager-hook) beside today's path (`tlsa-manager hook`, node start included),
// in the same run, on copies of the same large root in zone-file mode with records published.
// Prints one JSON line; `npm run bench -- hookservice` runs it and appends the figures to RESULTS.md.
// Usage: node bench/hook-client.mjs ROOT
// Env: BENCH_HOOK_POST (100 post events via the client; today's path gets a fifth of them),
//      BENCH_HOOK_PRE (20 pre events per path), BENCH_HOOK_SERIAL (1000), BENCH_HOOK_REPLAY (1000),
//      BENCH_HOOK_RSS_EVENTS (10000: events sent before the service's resident memory is read),
//      BENCH_APPLIED_ROOT (an already applied copy of ROOT, measured as it is),
//      BENCH_HOOK_PHASES (latency,serial,memory,replay: the phases to run, all by default; the
//      replay of 1,000 events alone takes ~15-25 min on 2 shared cores, today's path starting
//      Node.js for every event, so it can be run by itself: BENCH_HOOK_PHASES=replay).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, WORK } from './lib.mjs';
import { cli, CLI, freshCopy, median, percentile, zoneFileConfig } from './work-root.mjs';

const source = process.argv[2];
const env = (k, d) => Number(process.env[k] ?? d);
const POST = env('BENCH_HOOK_POST', 100);
const PRE = env('BENCH_HOOK_PRE', 20);
const SERIAL = env('BENCH_HOOK_SERIAL', 1000);
const REPLAY = env('BENCH_HOOK_REPLAY', 1000);
const RSS_EVENTS = env('BENCH_HOOK_RSS_EVENTS', 10000);
const PHASES = new Set((process.env.BENCH_HOOK_PHASES ?? 'latency,serial,memory,replay').split(','));
const out = {};
const CLIENT = join(REPO, 'plugin/bin/tlsa-manager-hook');
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const loads = {};
const note = (phase) => {
  loads[phase] = load();
  process.stderr.write(`hook bench: ${phase} (load ${loads[phase]})\n`);
};

// An applied copy of `source`: apply.mjs's (bench/.work/apply-root) when it was made from it.
const applied = join(WORK, 'apply-root');
let base = process.env.BENCH_APPLIED_ROOT;
if (!base) {
  const reuse = existsSync(join(applied, '.bench-applied')) && readFileSync(join(applied, '.bench-applied'), 'utf8').trim() === source;
  base = reuse ? applied : freshCopy(source, 'hookbase');
  zoneFileConfig(base);
  if (!reuse) cli(['apply', '--yes', '--root', base]);
}
note('start');
const copy = (name) => {
  const dir = freshCopy(base, name);
  zoneFileConfig(dir);
  return dir;
};

const manifest = JSON.parse(readFileSync(join(source, 'demo-manifest.json'), 'utf8'));
const local = manifest.domains.filter((d) => d.mx?.some((m) => m.here) && d.kind === 'main');
const withMail = local.filter((d) => d.mx.some((m) => m.here && m.host === `mail.${d.name}`));
if (withMail.length < PRE * 2 + 50) throw new Error('too few domains with mail.<domain> served here in the manifest');
const postEvent = (domain) => JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' }, data: { domain } });

const pkiDir = mkdtempSync(join(tmpdir(), 'tlsa-bench-pki-'));
let certN = 0;
function preEvent(d) {
  const key = join(pkiDir, `${++certN}.key`);
  const crt = join(pkiDir, `${certN}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-subj', `/CN=mail.${d.name}`, '-days', '30', '-addext', `subjectAltName=DNS:mail.${d.name},DNS:${d.name}`], { stdio: 'ignore' });
  return JSON.stringify({ context: { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' }, data: { username: d.user ?? d.owner, domain_set_name: d.name, certificate_pem: readFileSync(crt, 'utf8'), key_pem: readFileSync(key, 'utf8'), cab_pem: '' } });
}

/** The service as systemd runs it (socket in a 0700 directory). */
function startService(root) {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-bench-sock-'));
  const sock = join(dir, 'web.sock');
  const proc = spawn(process.execPath, [CLI, 'serve', '--socket', sock, '--root', root], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 600 && !existsSync(sock); i++) execFileSync('sleep', ['0.1']);
  if (!existsSync(sock)) throw new Error('the service did not start');
  // Warm, as cPanel finds it: the service builds the web app's snapshot (a scan + plan of every
  // domain) when it starts; wait until it has gone quiet (under 5 % of a core for a second).
  const cpu = () => readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(11, 13).reduce((a, b) => a + Number(b), 0);
  for (let i = 0, last = cpu(); i < 300; i++) {
    execFileSync('sleep', ['1']);
    const now = cpu();
    if (now - last <= 5) break; // clock ticks (100 a second)
    last = now;
  }
  return {
    sock,
    rssMB: () => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024),
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** As cPanel runs the installed wrapper: the client with an empty environment. */
function viaClient(svc, root, input) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/perl', [CLIENT, '--socket', svc.sock, '--node', process.execPath, '--cli', CLI, '--root', root], { input, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out: r.stdout };
}
function clientAsync(svc, root, input) {
  return new Promise((resolve) => {
    const c = spawn('/usr/bin/perl', [CLIENT, '--socket', svc.sock, '--node', process.execPath, '--cli', CLI, '--root', root], { env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    c.stdout.on('data', (x) => (out += x));
    c.on('close', () => resolve(out));
    c.stdin.end(input);
  });
}
/** Straight to the socket (no client process): only for the memory run's many events. */
function direct(svc, body) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: svc.sock, agent: false, path: '/hook', method: 'POST', headers: { 'X-TLSA-Hook-Client': '1', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let out = '';
      res.on('data', (c) => (out += c));
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
    req.end(body);
  });
}
function today(root, input) {
  const r = cli(['hook', '--root', root], { input });
  return { ms: r.wallMs, out: r.stdout };
}
function todayAsync(root, input) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'hook', '--root', root]);
    let out = '';
    c.stdout.on('data', (x) => (out += x));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`tlsa-manager hook exited ${code}`))));
    c.stdin.end(input);
  });
}
const stats = (xs) => ({ p50: Math.round(median(xs)), p95: Math.round(percentile(xs, 95)), n: xs.length });
const pendingChanges = (root) => {
  const plan = JSON.parse(cli(['plan', '--json', '--root', root], { okCodes: [0, 1] }).stdout);
  return (plan.zones ?? []).reduce((n, z) => n + (z.changes?.length ?? 0), 0);
};
const zoneFiles = (root) => {
  const dir = join(root, 'var/named');
  return new Map(readdirSync(dir).filter((n) => n.endsWith('.db')).map((n) => [n, readFileSync(join(dir, n))]));
};

// 1. Latency: post (nothing to change) and pre (new certificate: zone file, named-checkzone, reload).
// The service (and its root) is shared by phases 1-3.
const needService = PHASES.has('latency') || PHASES.has('serial') || PHASES.has('memory');
const root = needService ? copy('hookclient') : null;
const svc = needService ? startService(root) : null;
let sentSoFar = 0;
if (svc) {
  viaClient(svc, root, postEvent(local[0].name)); // the service's first event loads what it needs
  sentSoFar = 1;
}
if (PHASES.has('latency')) {
note('latency');
const postDomains = local.slice(1, POST + 1).map((d) => d.name);
const todayPost = postDomains.slice(0, Math.max(5, Math.round(POST / 5))).map((d) => today(root, postEvent(d)));
const clientPost = postDomains.map((d) => viaClient(svc, root, postEvent(d)));
const samePostAnswers = todayPost.every((r, i) => r.out === clientPost[i].out);
const preTodayIn = withMail.slice(0, PRE).map(preEvent);
const preClientIn = withMail.slice(PRE, 2 * PRE).map(preEvent);
const todayPre = preTodayIn.map((e) => today(root, e));
const clientPre = preClientIn.map((e) => viaClient(svc, root, e));
const preAnswers = [...new Set([...todayPre, ...clientPre].map((r) => r.out.replace(/mail\.\S+/, 'mail.D').trim()))];
sentSoFar += postDomains.length + PRE;
Object.assign(out, {
  todayPost: stats(todayPost.map((r) => r.ms)),
  clientPost: stats(clientPost.map((r) => r.ms)),
  samePostAnswers,
  postAnswer: clientPost[0].out.trim(),
  todayPre: stats(todayPre.map((r) => r.ms)),
  clientPre: stats(clientPre.map((r) => r.ms)),
  preAnswers,
});
}
if (PHASES.has('serial')) {
note('serial');

// 2. SERIAL events as AutoSSL fires them (one after the other), then 20 at once.
const serialIn = Array.from({ length: SERIAL }, (_, i) => (i % 10 === 9 ? preEvent(withMail[2 * PRE + (i % (withMail.length - 2 * PRE))]) : postEvent(local[i % local.length].name)));
const t0 = Date.now();
const serialOut = serialIn.map((e) => viaClient(svc, root, e).out);
const serialSec = (Date.now() - t0) / 1000;
note('burst');
const burst = await Promise.all(local.slice(0, 20).map((d, i) => clientAsync(svc, root, i % 4 === 3 ? preEvent(withMail[i]) : postEvent(d.name))));
const answers = [...serialOut, ...burst];
const busy = answers.filter((a) => /SQLITE_BUSY|database is locked/i.test(a)).length;
const failed = answers.filter((a) => !/^1 (reconciled|pre-published) /.test(a)).length;
sentSoFar += SERIAL + 20;
Object.assign(out, { serialEvents: SERIAL, serialSec: Math.round(serialSec * 10) / 10, burst: burst.length, busy, failed });
}

// 3. Resident memory after RSS_EVENTS events in all (the rest sent straight to the socket).
if (PHASES.has('memory')) {
note('memory');
Object.assign(out, { warmRssMB: svc.rssMB() }); // before the rest of the events (after phases 1-2 when they ran)
for (let i = sentSoFar; i < RSS_EVENTS; i++) await direct(svc, postEvent(local[i % local.length].name));
Object.assign(out, { rssEvents: Math.max(RSS_EVENTS, sentSoFar), serviceRssMB: svc.rssMB() });
}
if (svc) {
  await svc.stop();
  out.pendingChangesAfter = pendingChanges(root);
}

if (PHASES.has('replay')) {
note('replay');

// 4. Replay: the same events through both paths on two copies of the same root; the answers and
// every zone file must be byte-identical.
const replayIn = Array.from({ length: REPLAY }, (_, i) => (i % 5 === 4 ? preEvent(withMail[i % withMail.length]) : postEvent(local[(i * 7) % local.length].name)));
const rootToday = copy('replay-today');
const rootService = copy('replay-service');
// Each path takes its events one after the other, as AutoSSL fires them; the two paths (each on
// its own copy) run side by side, which halves the wall time when a core is free.
const svc2 = startService(rootService);
const inOrder = async (send) => {
  const outs = [];
  for (const e of replayIn) outs.push(await send(e));
  return outs;
};
const [replayToday, replayService] = await Promise.all([inOrder((e) => todayAsync(rootToday, e)), inOrder((e) => clientAsync(svc2, rootService, e))]);
await svc2.stop();
const answersDiffer = replayToday.filter((a, i) => a !== replayService[i]).length;
const zA = zoneFiles(rootToday);
const zB = zoneFiles(rootService);
const zonesDiffer = [...new Set([...zA.keys(), ...zB.keys()])].filter((n) => !zA.get(n) || !zB.get(n) || !zA.get(n).equals(zB.get(n))).length;
const zonesChanged = [...zA.keys()].filter((n) => !readFileSync(join(base, 'var/named', n)).equals(zA.get(n))).length;
Object.assign(out, { replayEvents: REPLAY, replayAnswersDiffer: answersDiffer, replayZonesDiffer: zonesDiffer, replayZonesChanged: zonesChanged });
}
rmSync(pkiDir, { recursive: true, force: true });
note('end');

console.log(JSON.stringify({ domains: manifest.domains.length, phases: [...PHASES], ...out, loads }));
