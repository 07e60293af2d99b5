// Issue 21 target: the domain page with a year of TLS reports for 200 domains plus the hostile
// mails of the security review, p95 < 150 ms, and no event-loop stall over 100 ms while it is
// served. The year (200 domains × 365 days × 3 senders = 219,000 reports) goes straight into the
// store the importer writes (TlsrptStore.add, one transaction per day), since parsing 219,000
// mails would take the bench ten minutes and measures nothing the page reads; the hostile mails
// go through the spool and importSpool as the timer runs it.
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { createContext, createLogger } from '../dist/context.js';
import { importSpool, tlsrptStore } from '../dist/tlsrpt/import.js';
import { ensureSpool, spoolWrite } from '../dist/tlsrpt/spool.js';
import { createWebApp } from '../dist/web/app.js';
import { maxRssKB } from './lib.mjs';
import { freshCopy, percentile } from './work-root.mjs';

const source = process.argv[2];
const DOMAINS = Number(process.env.BENCH_TLSRPT_PAGE_DOMAINS ?? 200);
const DAYS = 365;
const SENDERS = ['Google Inc.', 'Microsoft Corporation', 'Yahoo'];
const DAY = 86_400_000;
const PASSWORD = 'bench-login-token-0123456789';
const round = (x) => Math.round(x * 10) / 10;

const root = freshCopy(source, 'tlsrpt-pages');
const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
let web = createWebApp(ctx, { mode: 'standalone', loginToken: PASSWORD });
const data = await web.snapshot.refresh();
const domains = data.rows.slice(0, DOMAINS).map((r) => r.domain);
const pageDomain = data.rows.find((r) => r.mxHosts?.length)?.domain ?? domains[0];
if (!domains.includes(pageDomain)) domains[0] = pageDomain;

// ---- 1. a year of reports for 200 domains ------------------------------------------------------
const store = tlsrptStore(ctx);
const today = Math.floor(Date.now() / DAY) * DAY;
let t0 = performance.now();
let stored = 0;
for (let d = 1; d <= DAYS; d++) {
  const start = today - d * DAY;
  ctx.state().db.transaction(() => {
    for (const domain of domains) {
      for (const org of SENDERS) {
        const failing = (d + domain.length + org.length) % 9 === 0;
        const results = failing ? [{ resultType: 'tlsa-invalid', count: 3 }, { resultType: 'starttls-not-supported', count: 1 }] : [];
        store.add({ reportId: `${start}_${domain}_${org}`, organization: org, signer: org.split(' ')[0].toLowerCase() + '.example', authenticated: true, contact: null, start, end: start + DAY - 1000, policiesCut: 0, policies: [{ policyType: 'tlsa', policyDomain: domain, mxHosts: [`mail.${domain}`], successful: 100 + (d % 50), failed: failing ? 4 : 0, results, samples: results.map((x) => ({ resultType: x.resultType, sendingIp: '192.0.2.1', receivingMx: `mail.${domain}`, receivingIp: '203.0.113.5', count: x.count, reasonCode: null })) }] }, Date.now());
        stored++;
      }
    }
  }).immediate();
}
const yearMs = performance.now() - t0;

// ---- 2. the hostile mails, through the spool -----------------------------------------------------
const spool = ensureSpool(ctx.root);
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
function mail(reports, from = 'x@hostile.example') {
  const parts = reports.map((json, i) => ['--b', `Content-Type: application/tlsrpt+gzip; name="r${i}.json.gz"`, 'Content-Transfer-Encoding: base64', '', gzipSync(json).toString('base64').replace(/.{76}/g, '$&\r\n'), ''].join('\r\n'));
  return Buffer.from([`From: ${from}`, 'To: tlsrpt@host.example', 'Subject: Report', 'MIME-Version: 1.0', 'Content-Type: multipart/report; boundary="b"; report-type="tlsrpt"', '', ...parts, '--b--', ''].join('\r\n'));
}
const head = (id, org) => ({ 'organization-name': org, 'date-range': { 'start-datetime': iso(today - DAY), 'end-datetime': iso(today - 1000) }, 'report-id': id });
const details = Array.from({ length: 8000 }, () => ({ 'result-type': 'tlsa-invalid', 'failed-session-count': 1 }));
const bomb = (id) => JSON.stringify({ ...head(id, 'Bomb Org'), policies: Array.from({ length: 43 }, () => ({ policy: { 'policy-type': 'tlsa', 'policy-domain': pageDomain }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 8000 }, 'failure-details': details })) });
const bombJson = bomb('bomb');
let hostileBytes = 0;
const put = (m) => {
  hostileBytes += m.length;
  spoolWrite(spool, '.eml', m, Date.now());
};
for (let i = 0; i < 22; i++) put(mail(Array(8).fill(bombJson)));
for (let i = 0; i < 3; i++) put(mail([bomb(`big-${i}`)], `x@big${i}.example`));
put(mail([JSON.stringify({ ...head('many', 'Many'), policies: Array.from({ length: 80_000 }, (_, i) => ({ policy: { 'policy-type': 'tlsa', 'policy-domain': i === 0 ? pageDomain : `victim${i}.example` }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 }, 'failure-details': [{ 'result-type': 'tlsa-invalid', 'failed-session-count': 1 }] })) })]));
for (let i = 0; i < 30; i++) put(mail([JSON.stringify({ ...head(`flood-${i}`, 'Flooder'), policies: [{ policy: { 'policy-type': 'tlsa', 'policy-domain': pageDomain }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 }, 'failure-details': [{ 'result-type': 'tlsa-invalid', 'failed-session-count': 1 }] }] })]));
t0 = performance.now();
const imp = await importSpool(ctx, 'timer');
const hostileMs = performance.now() - t0;

// ---- 3. the domain page ---------------------------------------------------------------------------
web = createWebApp(ctx, { mode: 'standalone', loginToken: PASSWORD });
await web.snapshot.refresh();
const serverTimes = [];
const server = createServer((req, res) => {
  const start = process.hrtime.bigint();
  res.on('finish', () => serverTimes.push(Number(process.hrtime.bigint() - start) / 1e6));
  web.app(req, res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;
const login = await fetch(`${base}/login?token=${PASSWORD}`, { redirect: 'manual' });
const cookie = login.headers.get('set-cookie')?.split(';')[0];
if (!cookie) throw new Error(`login failed: ${login.status}`);
const path = `/domains/${pageDomain}`;
let body = '';
const get = async () => {
  const r = await fetch(`${base}${path}`, { headers: { cookie, accept: 'text/html' } });
  body = await r.text();
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${body.slice(0, 300)}`);
};
for (let i = 0; i < 3; i++) await get();
serverTimes.length = 0;
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const REQUESTS = 50;
for (let i = 0; i < REQUESTS; i++) await get();
loop.disable();
await new Promise((r) => server.close(r));

process.stdout.write(
  `${JSON.stringify({
    domains: domains.length,
    yearReports: stored,
    yearStoreMs: Math.round(yearMs),
    hostileMails: 22 + 3 + 1 + 30,
    hostileMB: round(hostileBytes / 2 ** 20),
    hostileImportMs: Math.round(hostileMs),
    hostileImported: imp.imported.length,
    hostileRefused: imp.refused.length,
    pageDomain,
    path,
    requests: REQUESTS,
    pageP50: round(percentile(serverTimes, 50)),
    pageP95: round(percentile(serverTimes, 95)),
    loopMaxMs: round(loop.max / 1e6),
    pageKB: Math.round(body.length / 1024),
    loadAverage: loadavg()[0].toFixed(1),
    maxRssKB: maxRssKB(),
  })}\n`,
);
process.exit(0);
