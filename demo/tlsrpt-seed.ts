import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DemoManifest } from './build-root.js';

/**
 * TLS reports (RFC 8460) for the demo, as senders would have mailed them over the last five days: shaped
 * like §4.4's example, one report per sender, domain and day, gzipped in a multipart/report message
 * (§5.3). `npm start` feeds each message to the product's own `tlsrpt ingest` (what Exim's pipe
 * runs) and then runs `tlsrpt import`, so the reports take the real path into the database.
 *
 * The story they tell is the demo world's: the domain with the existing, matching record
 * (tlsa-demo.test) gets successful DANE sessions; the domain whose pinned key was replaced
 * (bravo-demo.test) gets only `tlsa-invalid` failures, with the stale records as the policy; a
 * domain without TLSA yet (alpha-demo.test) is delivered to with `no-policy-found`. Senders and
 * addresses are documentation names (example, RFC 5737 ranges): the banner says it is simulated.
 */

export const SEED_DAYS = 5;
const DAY_MS = 86_400_000;

interface Sender {
  organization: string;
  domain: string;
  contact: string;
  /** The sending MTA address failures name (RFC 5737 TEST-NET-3). */
  ip: string;
  /** Sends on every day when 1, every other day when 2. */
  every: number;
  /** Which of the demo's stories it reports on (a few messages: each one is a CLI run at first start). */
  reports: ('valid' | 'stale' | 'plain')[];
}

const SENDERS: Sender[] = [
  { organization: 'Example Mail Sender Inc.', domain: 'sender.example', contact: 'tlsrpt-noreply@sender.example', ip: '203.0.113.25', every: 1, reports: ['valid', 'stale'] },
  { organization: 'Newsletter Relay Example', domain: 'relay.example', contact: 'mailto:smtp-tls@relay.example', ip: '203.0.113.77', every: 2, reports: ['stale', 'plain'] },
];

type Policy = Record<string, unknown>;

/** The TLSA records at `_25._tcp.<host>` in the zone file as the demo built it (before any publish). */
function tlsaAt(root: string, zone: string, host: string): string[] {
  const text = readFileSync(join(root, 'var', 'named', `${zone}.db`), 'utf8');
  const rel = host === zone ? '' : `.${host.slice(0, -(zone.length + 1))}`;
  const owners = new Set([`_25._tcp${rel}`, `_25._tcp.${host}.`]);
  return text
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => owners.has(f[0] ?? '') && f[3] === 'TLSA')
    .map((f) => f.slice(4).join(' ').trim());
}

function mxOf(m: DemoManifest, domain: string): { host: string; ip: string; zone: string } | null {
  const d = m.domains.find((x) => x.name === domain);
  const mx = d?.mx[0];
  return d && mx ? { host: mx.host, ip: d.ip, zone: d.zone } : null;
}

/** The policies one sender reports for one day (counts vary by day, nothing random). */
function policies(m: DemoManifest, root: string, sender: Sender, day: number): { domain: string; policy: Policy }[] {
  const out: { domain: string; policy: Policy }[] = [];
  const n = (base: number) => base + ((day * 7 + sender.ip.length * 3) % 11);
  const valid = m.cases['existing-tlsa']?.[0];
  const v = valid ? mxOf(m, valid) : null;
  if (valid && v && sender.reports.includes('valid')) {
    out.push({ domain: valid, policy: { policy: { 'policy-type': 'tlsa', 'policy-string': tlsaAt(root, v.zone, v.host), 'policy-domain': valid, 'mx-host': v.host }, summary: { 'total-successful-session-count': n(40), 'total-failure-session-count': 0 } } });
  }
  const stale = m.cases['stale-tlsa']?.[0];
  const s = stale ? mxOf(m, stale) : null;
  if (stale && s && sender.reports.includes('stale')) {
    const failed = n(12);
    out.push({
      domain: stale,
      policy: {
        policy: { 'policy-type': 'tlsa', 'policy-string': tlsaAt(root, s.zone, s.host), 'policy-domain': stale, 'mx-host': s.host },
        summary: { 'total-successful-session-count': 0, 'total-failure-session-count': failed },
        'failure-details': [{ 'result-type': 'tlsa-invalid', 'sending-mta-ip': sender.ip, 'receiving-mx-hostname': s.host, 'receiving-ip': s.ip, 'failed-session-count': failed }],
      },
    });
  }
  const plain = m.cases['mx-apex']?.[0];
  const p = plain ? mxOf(m, plain) : null;
  if (plain && p && sender.reports.includes('plain')) {
    out.push({ domain: plain, policy: { policy: { 'policy-type': 'no-policy-found', 'policy-domain': plain, 'mx-host': p.host }, summary: { 'total-successful-session-count': n(90), 'total-failure-session-count': 0 } } });
  }
  return out;
}

/** RFC 8460 §5.3: multipart/report; report-type="tlsrpt", the report gzipped as application/tlsrpt+gzip. */
function message(sender: Sender, domain: string, report: Record<string, unknown>, date: Date): string {
  const id = String(report['report-id']);
  const boundary = `----=_demo_${id.replace(/[^a-z0-9]/gi, '')}`;
  const name = `${sender.domain}!${domain}!${Math.floor(Date.parse(String((report['date-range'] as Record<string, string>)['start-datetime'])) / 1000)}!${Math.floor(Date.parse(String((report['date-range'] as Record<string, string>)['end-datetime'])) / 1000)}!${id.slice(0, 8)}.json.gz`;
  const b64 = gzipSync(JSON.stringify(report)).toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: ${sender.organization} <${sender.contact.replace(/^mailto:/, '')}>`,
    `To: tlsrpt@${domain}`,
    `Subject: Report Domain: ${domain} Submitter: ${sender.domain} Report-ID: <${id}>`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: <${id}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${sender.domain}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="us-ascii"',
    '',
    `This is an aggregate TLS report from ${sender.domain} (TLSA Manager demo data).`,
    '',
    `--${boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${name}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${name}"`,
    '',
    b64,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** The last days' report messages, oldest first: one per sender, domain and day, each day before `now`. */
export function seedMessages(m: DemoManifest, root: string, now = Date.now()): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const out: string[] = [];
  for (let back = SEED_DAYS; back >= 1; back--) {
    const start = today - back * DAY_MS;
    for (const sender of SENDERS) {
      if (back % sender.every !== 0) continue;
      for (const { domain, policy } of policies(m, root, sender, back)) {
        const day = new Date(start).toISOString().slice(0, 10);
        const report = {
          'organization-name': sender.organization,
          'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
          'contact-info': sender.contact,
          'report-id': `${day}T00:00:00Z_${domain}@${sender.domain}`,
          policies: [policy],
        };
        out.push(message(sender, domain, report, new Date(start + DAY_MS + 3_600_000)));
      }
    }
  }
  return out;
}
