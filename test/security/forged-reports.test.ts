// Issue 21, findings 5 and 6: TLS reports are claims anyone can mail. Forged reports must not
// open alerts for domains not hosted here, close or hide a real alert, or make a real report a
// "duplicate"; report text must not reach a mail body with control characters; the outbox caps
// what one channel sends. DKIM: signatures made with openssl (test/helpers/dkim-sign.ts), keys
// served by a fake DNS server on loopback that the test starts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertOnTlsReports } from '../../src/alerts/evaluate.js';
import { alertMessage, bodyOf, type AlertMessage } from '../../src/alerts/message.js';
import { alertStore, deliverDue, OUTBOX_PER_DAY, OUTBOX_PER_RUN, recordEvents } from '../../src/alerts/notify.js';
import { createContext, createLogger, type AppContext } from '../../src/context.js';
import { importSpool, tlsrptStore } from '../../src/tlsrpt/import.js';
import { ensureSpool, spoolWrite } from '../../src/tlsrpt/spool.js';
import { startFakeDns, zoneHandler, type FakeDnsServer } from '../fakes/dns-server.js';
import { dkimKey, dkimSign, type DkimKey } from '../helpers/dkim-sign.js';
import { makeFakeRoot } from '../helpers/fake-root.js';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';

const DAY = 86_400_000;
let dns: FakeDnsServer;
let key: DkimKey;
let hook: Server;
let hookUrl = '';
const received: AlertMessage[] = [];

beforeAll(async () => {
  key = dkimKey();
  dns = await startFakeDns(zoneHandler([{ name: 'sel._domainkey.google.test', type: 'TXT', data: `v=DKIM1; k=rsa; p=${key.publicKey}`.match(/.{1,250}/g)! }]));
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AlertMessage);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  await dns.close();
  await new Promise<void>((r) => hook.close(() => r()));
});

function context(extra: Record<string, unknown> = {}): AppContext {
  const root = makeFakeRoot({ domains: { 'hosted.test': 'u', 'other.test': 'u' }, files: { '/etc/tlsa-manager/config.json': JSON.stringify({ resolver: `${dns.host}:${dns.port}`, alerts: { cpanelNotifications: false }, ...extra }) } });
  return createContext({ root, logger: createLogger({ level: 'silent' }) });
}

function day(offset: number, end = false): string {
  return `${new Date(Date.now() + offset * DAY).toISOString().slice(0, 10)}T${end ? '23:59:59' : '00:00:00'}Z`;
}

/** A report mail; `signed` signs it for google.test with the key in DNS. */
function report(o: { org?: string; id: string; domain: string; failures: number; from?: string; offset?: number; signed?: boolean }): Buffer {
  const r = rfcReport({ org: o.org ?? 'Google Inc.', reportId: o.id, domain: o.domain, start: day(o.offset ?? -1), end: day(o.offset ?? -1, true), ok: 10, failures: o.failures ? [{ type: 'tlsa-invalid', count: o.failures }] : [] });
  const mail = tlsrptMail(r, { from: o.from ?? 'noreply-smtp-tls-reporting@google.test', domain: o.domain, submitter: 'google.test', reportId: o.id, type: 'gzip' });
  return o.signed ? dkimSign(mail, key, 'google.test', 'sel') : mail;
}

async function mailIn(ctx: AppContext, ...mails: Buffer[]) {
  const dir = ensureSpool(ctx.root);
  for (const m of mails) spoolWrite(dir, '.eml', m, Date.now());
  return importSpool(ctx, 'cli');
}

const reportAlerts = (ctx: AppContext) => alertStore(ctx).open().filter((a) => a.kind === 'tlsrpt-dane-failure');

describe('forged TLS reports', () => {
  it('DKIM: a signed report is authenticated with its signer; an unsigned one, or one whose signature does not verify, is not', async () => {
    const ctx = context();
    const tampered = Buffer.from(report({ id: 't', domain: 'hosted.test', failures: 0, signed: true }).toString('latin1').replace('Report Domain', 'Report Domian'), 'latin1');
    await mailIn(ctx, report({ id: 's', domain: 'hosted.test', failures: 0, signed: true }), report({ id: 'u', domain: 'hosted.test', failures: 0 }), tampered);
    const rows = tlsrptStore(ctx).list({});
    expect(rows.map((r) => [r.reportId, r.authenticated, r.signer]).sort()).toEqual([['s', true, 'google.test'], ['t', false, 'google.test'], ['u', false, 'google.test']]);
  });

  it('the 300-policy forged report opens no alert for domains not hosted here (and one, marked, for the hosted one it names)', async () => {
    const ctx = context();
    const policies = Array.from({ length: 300 }, (_, i) => ({ policy: { 'policy-type': 'tlsa', 'policy-domain': i === 299 ? 'hosted.test' : `victim${i}.example` }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 5 }, 'failure-details': [{ 'result-type': 'tlsa-invalid', 'failed-session-count': 5 }] }));
    const r = { 'organization-name': 'Forger\n; rm -rf /', 'date-range': { 'start-datetime': day(-1), 'end-datetime': day(-1, true) }, 'report-id': 'forged-300', policies };
    await mailIn(ctx, tlsrptMail(r, { from: 'x@forger.example', domain: 'victim0.example', submitter: 'forger.example', reportId: 'forged-300', type: 'gzip' }));
    const open = reportAlerts(ctx);
    expect(open.map((a) => a.subject)).toEqual(['hosted.test']);
    expect(open[0]!.title).toBe('Senders report 5 DANE failure(s) for hosted.test (unauthenticated reports)');
    // The sender's name, newline and all, reaches neither the title nor a mail body raw.
    const body = bodyOf(alertMessage(open[0]!, 'raised', 'server.test', Date.now()));
    expect(open[0]!.detail).toContain('"Forger?; rm -rf /"');
    expect(body).not.toContain('Forger\n');
  });

  it('a forged clean report cannot close a real alert; only a validating check with no later signed failure does', async () => {
    const ctx = context();
    await mailIn(ctx, report({ id: 'real-1', domain: 'hosted.test', failures: 7, signed: true, offset: -2 }));
    expect(reportAlerts(ctx).map((a) => a.key)).toEqual(['tlsrpt:hosted.test:google.test']);
    // Forged clean reports: unsigned From google.test, later period (even tomorrow), same organisation.
    await mailIn(ctx, report({ id: 'forged-clean', domain: 'hosted.test', failures: 0, offset: 0 }), report({ id: 'forged-clean-2', domain: 'hosted.test', failures: 0, offset: 1, org: 'Google Inc.' }));
    expect(reportAlerts(ctx).map((a) => a.key)).toEqual(['tlsrpt:hosted.test:google.test']);
    // A validating check older than the signed failure does not close it either.
    ctx.state().saveCheck('hosted.test', 'valid', { domain: 'hosted.test' }, new Date(Date.now() - 3 * DAY).toISOString());
    alertOnTlsReports(ctx);
    expect(reportAlerts(ctx)).toHaveLength(1);
    // A validating check after it: closed.
    ctx.state().saveCheck('hosted.test', 'valid', { domain: 'hosted.test' }, new Date().toISOString());
    alertOnTlsReports(ctx);
    expect(reportAlerts(ctx)).toEqual([]);
    // An unsigned report of failures cannot reopen it against the validating check.
    await mailIn(ctx, report({ id: 'forged-fail', domain: 'hosted.test', failures: 99, offset: 0, from: 'x@google.test' }));
    expect(reportAlerts(ctx)).toEqual([]);
    // A signed one can (and with the domain no longer known to validate, the unsigned claim shows too, marked).
    await mailIn(ctx, report({ id: 'real-2', domain: 'hosted.test', failures: 3, signed: true, offset: 0 }));
    expect(reportAlerts(ctx).map((a) => a.key).sort()).toEqual(['tlsrpt:hosted.test:(unauthenticated)', 'tlsrpt:hosted.test:google.test']);
  });

  it('a forged report-id cannot hide the real report: the signed one is stored, not a duplicate', async () => {
    const ctx = context();
    const first = await mailIn(ctx, report({ id: '2026-12-05T00:00:00Z_hosted.test', domain: 'hosted.test', failures: 0 }));
    expect(first.imported).toHaveLength(1);
    const real = await mailIn(ctx, report({ id: '2026-12-05T00:00:00Z_hosted.test', domain: 'hosted.test', failures: 4, signed: true }));
    expect(real.duplicates).toEqual([]);
    expect(real.imported).toEqual([expect.objectContaining({ authenticated: true })]);
    expect(reportAlerts(ctx).map((a) => a.key)).toEqual(['tlsrpt:hosted.test:google.test']);
    // A resend of the signed report is a duplicate.
    expect((await mailIn(ctx, report({ id: '2026-12-05T00:00:00Z_hosted.test', domain: 'hosted.test', failures: 4, signed: true }))).duplicates).toHaveLength(1);
  });

  it(`the outbox sends at most ${OUTBOX_PER_RUN} messages per run and ${OUTBOX_PER_DAY} per day on a channel, then one summary`, async () => {
    const ctx = context({ alerts: { cpanelNotifications: false, webhook: { url: hookUrl, secret: 'outbox-cap-secret-0123456789' } } });
    received.length = 0;
    recordEvents(ctx, Array.from({ length: 600 }, (_, i) => ({ type: 'raise' as const, incident: { key: `domain:d${i}.test`, kind: 'domain-degraded' as const, severity: 'critical' as const, subject: `d${i}.test`, domain: `d${i}.test`, title: `t${i}`, detail: 'd' } })));
    const first = await deliverDue(ctx);
    expect(first.delivered).toBe(OUTBOX_PER_RUN);
    for (let i = 0; i < 12; i++) await deliverDue(ctx);
    expect(received.filter((m) => m.event === 'raised')).toHaveLength(OUTBOX_PER_DAY);
    const summaries = received.filter((m) => m.event === 'summary');
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.title).toBe('100 alert message(s) held back');
    // Later holds the same day: counted, no second summary.
    recordEvents(ctx, [{ type: 'raise', incident: { key: 'domain:late.test', kind: 'domain-degraded', severity: 'critical', subject: 'late.test', domain: 'late.test', title: 'late', detail: 'd' } }]);
    expect((await deliverDue(ctx)).held).toBe(1);
    expect(received.filter((m) => m.event === 'summary')).toHaveLength(1);
  });
});
