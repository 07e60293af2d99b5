// Issue 14 targets: importing 10,000 spooled TLS reports in one process (< 30 s), and the domain
// page with a year of reports (365 days × several senders) rendering in < 150 ms.
// Reports are shaped like RFC 8460 §4.4 and like Google's and Microsoft's mails (multipart/report,
// application/tlsrpt+gzip; some application/tlsrpt+json), written into the spool with the same
// function `tlsrpt ingest` uses, then imported with the importer the timer runs.
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import { createContext, createLogger } from '../dist/context.js';
import { importSpool } from '../dist/tlsrpt/import.js';
import { ensureSpool, spoolWrite } from '../dist/tlsrpt/spool.js';
import { createWebApp } from '../dist/web/app.js';
import { maxRssKB } from './lib.mjs';
import { freshCopy, percentile } from './work-root.mjs';

const source = process.argv[2];
const N_IMPORT = Number(process.env.BENCH_TLSRPT_REPORTS ?? 10000);
const YEAR_DAYS = 365;
const SENDERS = [
  { org: 'Google Inc.', submitter: 'google.com', from: 'noreply-smtp-tls-reporting@google.com', type: 'gzip' },
  { org: 'Microsoft Corporation', submitter: 'microsoft.com', from: 'tlsrpt-noreply@microsoft.com', type: 'gzip' },
  { org: 'Yahoo', submitter: 'yahoo.com', from: 'tlsrpt@yahoo.com', type: 'gzip' },
  { org: 'Comcast', submitter: 'comcast.net', from: 'tls-reports@comcast.net', type: 'json' },
  { org: 'Mail.ru', submitter: 'mail.ru', from: 'tlsrpt@corp.mail.ru', type: 'gzip' },
  { org: 'Proton AG', submitter: 'proton.me', from: 'tlsrpt@proton.me', type: 'json' },
];
const FAILURE_TYPES = ['tlsa-invalid', 'dnssec-invalid', 'dane-required', 'certificate-host-mismatch', 'validation-failure', 'starttls-not-supported', 'certificate-expired'];
const DAY = 24 * 60 * 60 * 1000;
const PASSWORD = 'bench-login-token-0123456789';
const round = (x) => Math.round(x * 10) / 10;

// Deterministic pseudo-random numbers: the same reports on every run.
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

function report(sender, domain, dayStart, i) {
  const failing = rand() < 0.12;
  const failures = failing
    ? [...new Set([FAILURE_TYPES[Math.floor(rand() * FAILURE_TYPES.length)], FAILURE_TYPES[Math.floor(rand() * FAILURE_TYPES.length)]])].map((type, k) => ({
        'result-type': type,
        'sending-mta-ip': `2001:db8:${(i % 65536).toString(16)}::${k + 1}`,
        'receiving-mx-hostname': `mail.${domain}`,
        'receiving-ip': `192.0.2.${(i % 250) + 1}`,
        'failed-session-count': 1 + Math.floor(rand() * 20),
        ...(type === 'validation-failure' ? { 'failure-reason-code': 'X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY' } : {}),
      }))
    : [];
  const start = new Date(dayStart).toISOString().replace('.000Z', 'Z');
  const end = new Date(dayStart + DAY - 1000).toISOString().replace('.000Z', 'Z');
  return {
    'organization-name': sender.org,
    'date-range': { 'start-datetime': start, 'end-datetime': end },
    'contact-info': `smtp-tls-reporting@${sender.submitter}`,
    'report-id': `${start}_${domain}_${sender.submitter}_${i}`,
    policies: [
      {
        policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 7f1e3b5c9d2a4f6e8b0c1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a', '2 1 1 0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3'], 'policy-domain': domain, 'mx-host': [`mail.${domain}`] },
        summary: { 'total-successful-session-count': Math.floor(rand() * 2000), 'total-failure-session-count': failures.reduce((n, f) => n + f['failed-session-count'], 0) },
        ...(failures.length ? { 'failure-details': failures } : {}),
      },
    ],
  };
}

function b64(buf) {
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

function mail(sender, r) {
  const domain = r.policies[0].policy['policy-domain'];
  const json = Buffer.from(JSON.stringify(r));
  const gz = sender.type === 'gzip';
  const body = gz ? gzipSync(json) : json;
  const t0 = Math.floor(Date.parse(r['date-range']['start-datetime']) / 1000);
  const file = `${sender.submitter}!${domain}!${t0}!${t0 + 86399}!${r['report-id'].slice(0, 40)}.json${gz ? '.gz' : ''}`;
  const boundary = `----=_Part_${Math.floor(rand() * 1e12)}`;
  return [
    `From: ${sender.from}`,
    'To: tlsrpt@server.host.test',
    `Subject: Report Domain: ${domain} Submitter: ${sender.submitter} Report-ID: <${r['report-id']}>`,
    `Date: ${new Date(t0 * 1000 + 2 * DAY).toUTCString()}`,
    `Message-ID: <${Math.floor(rand() * 1e12)}@${sender.submitter}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${sender.submitter}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; boundary="${boundary}"; report-type="tlsrpt"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=UTF-8',
    '',
    `This is an aggregate TLS report from ${sender.submitter}`,
    '',
    `--${boundary}`,
    `Content-Type: application/tlsrpt+${gz ? 'gzip' : 'json'}; name="${file}"`,
    `Content-Disposition: attachment; filename="${file}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64(body),
    '',
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

const root = freshCopy(source, 'tlsrpt');
const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
const spool = ensureSpool(ctx.root);
const today = Math.floor(Date.now() / DAY) * DAY;

// ---- 1. 10,000 spooled reports, one import ----------------------------------------------------
const DOMAINS = 200;
let spooledBytes = 0;
for (let i = 0; i < N_IMPORT; i++) {
  const sender = SENDERS[i % SENDERS.length];
  const domain = `customer${Math.floor(i / SENDERS.length) % DOMAINS}.example`;
  const day = today - (1 + Math.floor(i / (SENDERS.length * DOMAINS))) * DAY;
  const m = mail(sender, report(sender, domain, day, i));
  spooledBytes += m.length;
  spoolWrite(spool, '.eml', m, Date.now());
}
let t0 = performance.now();
let cpu0 = process.cpuUsage();
const imp = await importSpool(ctx, 'timer');
const importMs = performance.now() - t0;
const importCpu = process.cpuUsage(cpu0);
if (imp.imported.length !== N_IMPORT || imp.refused.length) throw new Error(`import: ${imp.imported.length} imported, ${imp.refused.length} refused (${JSON.stringify(imp.refused.slice(0, 2))})`);

// ---- 2. a year of reports for one domain of the root, then its page ----------------------------
process.stderr.write(`import ${Math.round(importMs)} ms wall, ${Math.round((importCpu.user + importCpu.system) / 1000)} ms CPU\n`);
let web = createWebApp(ctx, { mode: 'standalone', loginToken: PASSWORD });
const data = await web.snapshot.refresh();
const pageDomain = data.rows.find((r) => r.mxHosts?.length)?.domain ?? data.rows[0].domain;
for (let d = 0; d < YEAR_DAYS; d++) {
  for (const sender of SENDERS) spoolWrite(spool, '.eml', mail(sender, report(sender, pageDomain, today - (d + 1) * DAY, d * 100 + SENDERS.indexOf(sender))), Date.now());
}
t0 = performance.now();
const year = await importSpool(ctx, 'timer');
const yearImportMs = performance.now() - t0;
if (year.imported.length !== YEAR_DAYS * SENDERS.length) throw new Error(`year import: ${year.imported.length} imported, ${year.refused.length} refused`);

process.stderr.write(`import ${Math.round(importMs)} ms, year import ${Math.round(yearImportMs)} ms\n`);
// A fresh app (its one-time login token is short-lived), snapshot built before timing.
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
if (!cookie) throw new Error(`login failed: ${login.status} ${(await login.text()).slice(0, 400)}`);
const path = `/domains/${pageDomain}`;
let body = '';
const get = async () => {
  const r = await fetch(`${base}${path}`, { headers: { cookie, accept: 'text/html' } });
  body = await r.text();
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${body.slice(0, 300)}`);
};
for (let i = 0; i < 3; i++) await get();
serverTimes.length = 0;
const REQUESTS = 50;
for (let i = 0; i < REQUESTS; i++) await get();
await new Promise((r) => server.close(r));
const lanes = (body.match(/<g class="lane">/g) ?? []).length;
if (lanes !== SENDERS.length) throw new Error(`the page shows ${lanes} sender lanes, expected ${SENDERS.length}`);

process.stdout.write(
  `${JSON.stringify({
    reports: N_IMPORT,
    domains: DOMAINS,
    spooledMB: round(spooledBytes / 2 ** 20),
    importMs: Math.round(importMs),
    importCpuMs: Math.round((importCpu.user + importCpu.system) / 1000),
    loadAverage: loadavg()[0].toFixed(1),
    yearReports: year.imported.length,
    yearImportMs: Math.round(yearImportMs),
    senders: SENDERS.length,
    pageDomain,
    path,
    requests: REQUESTS,
    pageP50: round(percentile(serverTimes, 50)),
    pageP95: round(percentile(serverTimes, 95)),
    pageKB: Math.round(body.length / 1024),
    maxRssKB: maxRssKB(),
  })}\n`,
);
process.exit(0);
