// Issue 26: cPanel hook events answered by the running service through the Perl hook client
// (plugin/bin/tlsa-manager-hook) beside today's path (`tlsa-manager hook`, node start included),
// on the same copy of the large root in zone-file mode with records published.
// Usage: node bench/hook-client.mjs ROOT [POST_RUNS] [SERIAL_EVENTS]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, WORK } from './lib.mjs';
import { cli, CLI, freshCopy, median, percentile, zoneFileConfig } from './work-root.mjs';

const source = process.argv[2];
const POST_RUNS = Number(process.argv[3] ?? 100);
const SERIAL = Number(process.argv[4] ?? 300);
const CLIENT = join(REPO, 'plugin/bin/tlsa-manager-hook');

// BENCH_APPLIED_ROOT: an already applied copy of `source` (e.g. the previous run's hookclient-root)
// measured as it is, to skip the first apply of 10,000 domains.
const applied = join(WORK, 'apply-root');
const given = process.env.BENCH_APPLIED_ROOT;
const reuse = Boolean(given) || (existsSync(join(applied, '.bench-applied')) && readFileSync(join(applied, '.bench-applied'), 'utf8').trim() === source);
const root = given ?? freshCopy(reuse ? applied : source, 'hookclient');
zoneFileConfig(root);
if (!reuse) cli(['apply', '--yes', '--root', root]);

const manifest = JSON.parse(readFileSync(join(source, 'demo-manifest.json'), 'utf8'));
const local = manifest.domains.filter((d) => d.mx?.some((m) => m.here) && d.kind === 'main');
if (local.length < 60) throw new Error('too few domains with a local MX host in the manifest');
const postEvent = (domain) => JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' }, data: { domain } });

// The service, as systemd runs it (socket in a 0700 directory).
const sockDir = mkdtempSync(join(tmpdir(), 'tlsa-bench-sock-'));
const sock = join(sockDir, 'web.sock');
const service = spawn(process.execPath, [CLI, 'serve', '--socket', sock, '--root', root], { stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; i < 300 && !existsSync(sock); i++) execFileSync('sleep', ['0.1']);
if (!existsSync(sock)) throw new Error('the service did not start');

function viaClient(input) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/perl', [CLIENT, '--socket', sock, '--node', process.execPath, '--cli', CLI, '--root', root], { input, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, out: r.stdout.trim() };
}
function today(input) {
  const r = cli(['hook', '--root', root], { input });
  return { ms: r.wallMs, out: r.stdout.trim() };
}
const stats = (xs) => ({ p50: Math.round(median(xs)), p95: Math.round(percentile(xs, 95)), n: xs.length });

// Post stage, nothing to change: the same domains through both paths.
const postDomains = local.slice(0, POST_RUNS).map((d) => d.name);
viaClient(postEvent(postDomains[0])); // the service's first event loads what it needs
const todayPost = postDomains.slice(0, 20).map((d) => today(postEvent(d)));
const clientPost = postDomains.map((d) => viaClient(postEvent(d)));
const sameAnswers = postDomains.slice(0, 20).every((d, i) => todayPost[i].out === clientPost[i].out);

// Pre stage with its zone publish: a new certificate for mail.<domain>, one domain per run.
const pkiDir = mkdtempSync(join(tmpdir(), 'tlsa-bench-pki-'));
function newCert(domain) {
  const key = join(pkiDir, `${domain}.key`);
  const crt = join(pkiDir, `${domain}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-subj', `/CN=mail.${domain}`, '-days', '30', '-addext', `subjectAltName=DNS:mail.${domain},DNS:${domain}`], { stdio: 'ignore' });
  return { cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
}
const preEvent = (d) => {
  const c = newCert(d.name);
  return JSON.stringify({ context: { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' }, data: { username: d.user ?? d.owner, domain_set_name: d.name, certificate_pem: c.cert, key_pem: c.key, cab_pem: '' } });
};
const preDomains = local.slice(POST_RUNS, POST_RUNS + 40).filter((d) => d.mx.some((m) => m.here && m.host === `mail.${d.name}`));
const preInputs = preDomains.map(preEvent);
const half = Math.floor(preInputs.length / 2);
const todayPre = preInputs.slice(0, half).map(today);
const clientPre = preInputs.slice(half).map(viaClient);
const preAnswers = [...todayPre, ...clientPre].map((r) => r.out);

// Serially as AutoSSL fires them, then 20 at once.
const serialOut = [];
const t0 = Date.now();
for (let i = 0; i < SERIAL; i++) serialOut.push(viaClient(postEvent(local[i % local.length].name)).out);
const serialSec = (Date.now() - t0) / 1000;
const burst = await Promise.all(local.slice(0, 20).map((d) => new Promise((resolve) => {
  const c = spawn('/usr/bin/perl', [CLIENT, '--socket', sock, '--node', process.execPath, '--cli', CLI, '--root', root], { env: { PATH: '/usr/bin:/bin' } });
  let out = '';
  c.stdout.on('data', (x) => (out += x));
  c.on('close', () => resolve(out.trim()));
  c.stdin.end(postEvent(d.name));
})));
const answers = [...serialOut, ...burst];
const busy = answers.filter((a) => /SQLITE_BUSY|database is locked/i.test(a)).length;
const failed = answers.filter((a) => !/^1 reconciled /.test(a)).length;

const rssKB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.pid}/status`, 'utf8'))?.[1] ?? 0);
service.kill('SIGTERM');
await new Promise((r) => service.on('exit', r));
rmSync(sockDir, { recursive: true, force: true });

// Every zone as one reconcile would leave it: a plan now has nothing to do.
const plan = JSON.parse(cli(['plan', '--json', '--root', root], { okCodes: [0, 1] }).stdout);
const pending = (plan.zones ?? []).reduce((n, z) => n + (z.changes?.length ?? 0), 0);

console.log(JSON.stringify({
  domains: manifest.domains.length,
  reusedApplyCopy: reuse,
  todayPost: stats(todayPost.map((r) => r.ms)),
  clientPost: stats(clientPost.map((r) => r.ms)),
  samePostAnswers: sameAnswers,
  postAnswer: clientPost[0].out,
  todayPre: stats(todayPre.map((r) => r.ms)),
  clientPre: stats(clientPre.map((r) => r.ms)),
  preAnswers: [...new Set(preAnswers.map((a) => a.replace(/mail\.\S+/, 'mail.D')))],
  serialEvents: SERIAL,
  serialSec: Math.round(serialSec * 10) / 10,
  burst: burst.length,
  busy,
  failed,
  serviceRssMB: Math.round(rssKB / 1024),
  pendingChangesAfter: pending,
  loadAverage: loadavg().map((x) => x.toFixed(2)).join(' '),
}));
