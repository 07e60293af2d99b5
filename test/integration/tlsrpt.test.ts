import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';
import { spoolWrite } from '../../src/tlsrpt/spool.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const SPOOL = 'var/spool/tlsa-manager/tlsrpt';
const DAY = 24 * 60 * 60 * 1000;

function cli(root: string, args: string[], input?: Buffer | string) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--root', root], { input, maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function isoDay(offsetDays: number, end = false): string {
  const d = new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);
  return `${d}T${end ? '23:59:59' : '00:00:00'}Z`;
}

function activity(root: string): { kind: string; subject: string | null; detail: string; ok: number }[] {
  const db = new Database(join(root, 'var/lib/tlsa-manager/state.db'), { readonly: true });
  try {
    return db.prepare("SELECT kind, subject, detail, ok FROM activity WHERE kind = 'tlsrpt' ORDER BY id").all() as never;
  } finally {
    db.close();
  }
}

const ALL_TYPES = ['starttls-not-supported', 'certificate-host-mismatch', 'certificate-expired', 'certificate-not-trusted', 'validation-failure', 'tlsa-invalid', 'dnssec-invalid', 'dane-required', 'sts-policy-fetch-error', 'sts-policy-invalid', 'sts-webpki-invalid'];

describe('TLS-RPT: ingest (Exim pipe) → spool → import → state DB', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tlsa-tlsrpt-'));
  });

  it('defers (exit 75, Exim retries) while the spool does not exist, and keeps nothing', () => {
    const r = cli(root, ['tlsrpt', 'ingest'], 'Subject: x\r\n\r\nx\r\n');
    expect(r.code).toBe(75);
    expect(r.stdout).toMatch(/cannot write to .*tlsrpt \(ENOENT\); deferred/);
  });

  it('the importer makes the spool: sticky, writable by its group only, listable by root only', () => {
    const r = cli(root, ['tlsrpt', 'import']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0 report(s) imported');
    expect(statSync(join(root, SPOOL)).mode & 0o7777).toBe(0o1730);
  });

  it('stores a Google-style gzip report and a Microsoft-style one with a failure of every type; lists them', () => {
    const google = tlsrptMail(rfcReport({ org: 'Google Inc.', reportId: '2020-12-01T00:00:00Z_example.test', domain: 'example.test', start: isoDay(-2), end: isoDay(-2, true), ok: 5326, failures: [] }), {
      from: 'noreply-smtp-tls-reporting@google.com',
      domain: 'example.test',
      submitter: 'google.com',
      reportId: '2020-12-01T00:00:00Z_example.test',
      type: 'gzip',
    });
    const failures = ALL_TYPES.map((type, i) => ({ type, count: i + 1, sendingIp: `198.51.100.${i + 1}`, receivingIp: '203.0.113.56', mx: 'mail.other.test', ...(type === 'validation-failure' ? { reason: 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED' } : {}) }));
    const microsoft = tlsrptMail(rfcReport({ org: 'Microsoft Corporation', reportId: '133456789012345678+other.test', domain: 'other.test', start: isoDay(-1), end: isoDay(-1, true), ok: 40, failures }), {
      from: 'tlsrpt-noreply@microsoft.com',
      domain: 'other.test',
      submitter: 'microsoft.com',
      reportId: '133456789012345678+other.test',
      type: 'gzip',
    });
    for (const m of [google, microsoft]) {
      const r = cli(root, ['tlsrpt', 'ingest'], m);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^tlsa-manager tlsrpt: spooled \d+ bytes as \d+\.\d+\.[0-9a-f]{16}\.eml\n$/);
    }
    const files = readdirSync(join(root, SPOOL));
    expect(files).toHaveLength(2);
    for (const f of files) expect(statSync(join(root, SPOOL, f)).mode & 0o777).toBe(0o600);

    const imp = cli(root, ['tlsrpt', 'import']);
    expect(imp.stdout).toContain('2 report(s) imported, 0 duplicate(s), 0 refused');
    expect(readdirSync(join(root, SPOOL))).toEqual([]);

    const rows = JSON.parse(cli(root, ['tlsrpt', 'list', '--json']).stdout) as { organization: string; policyDomain: string; policyType: string; successful: number; failed: number; mxHosts: string[]; failures: { resultType: string; count: number; sendingIp: string; receivingIp: string; receivingMx: string; reasonCode: string | null }[] }[];
    expect(rows.map((r) => [r.organization, r.policyDomain, r.policyType, r.successful, r.failed])).toEqual([
      ['Microsoft Corporation', 'other.test', 'tlsa', 40, 66],
      ['Google Inc.', 'example.test', 'tlsa', 5326, 0],
    ]);
    expect(rows[0]!.mxHosts).toEqual(['mail.other.test']);
    expect(rows[0]!.failures.map((f) => [f.resultType, f.count, f.sendingIp, f.receivingIp, f.receivingMx])).toEqual(ALL_TYPES.map((t, i) => [t, i + 1, `198.51.100.${i + 1}`, '203.0.113.56', 'mail.other.test']));
    expect(rows[0]!.failures.find((f) => f.resultType === 'validation-failure')!.reasonCode).toBe('X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED');

    const one = JSON.parse(cli(root, ['tlsrpt', 'list', '--domain', 'EXAMPLE.test.', '--json']).stdout) as { policyDomain: string }[];
    expect(one.map((r) => r.policyDomain)).toEqual(['example.test']);
    const text = cli(root, ['tlsrpt', 'list', '--domain', 'other.test']).stdout;
    expect(text).toContain('other.test  tlsa  40 ok, 66 failed  from Microsoft Corporation');
    expect(text).toContain('tlsa-invalid ×6 from 198.51.100.6 to mail.other.test [203.0.113.56]');
  });

  it('stores a plain JSON attachment (application/tlsrpt+json); a resent report-id is a logged duplicate, stored once', () => {
    const report = rfcReport({ org: 'Mail Sender <b>&amp;</b>', reportId: 'json-1', domain: 'example.test', start: isoDay(-1), end: isoDay(-1, true), ok: 7, failures: [{ type: 'dnssec-invalid', count: 2 }] });
    const mail = tlsrptMail(report, { from: 'reports@sender.example', domain: 'example.test', submitter: 'sender.example', reportId: 'json-1', type: 'json' });
    expect(cli(root, ['tlsrpt', 'ingest'], mail).code).toBe(0);
    expect(cli(root, ['tlsrpt', 'ingest'], mail).code).toBe(0);
    const imp = cli(root, ['tlsrpt', 'import']);
    expect(imp.stdout).toContain('1 report(s) imported, 1 duplicate(s), 0 refused');
    const rows = JSON.parse(cli(root, ['tlsrpt', 'list', '--domain', 'example.test', '--json']).stdout) as { reportId: string; organization: string; failed: number }[];
    expect(rows.filter((r) => r.reportId === 'json-1')).toEqual([expect.objectContaining({ organization: 'Mail Sender <b>&amp;</b>', failed: 2 })]);
    expect(activity(root).filter((a) => a.subject === 'json-1').map((a) => a.detail)).toEqual([
      'report from Mail Sender <b>&amp;</b> for example.test: 7 successful, 2 failed session(s)',
      "duplicate report from Mail Sender <b>&amp;</b> ignored (this sender's report-id is already stored)",
    ]);
  });

  it('refuses malformed reports, mails without a report and zip bombs: exit 0 (no bounce), logged, nothing stored', () => {
    const base = { from: 'x@sender.example', domain: 'example.test', submitter: 'sender.example', type: 'gzip' as const };
    const noId = rfcReport({ org: 'Bad', reportId: 'x', domain: 'example.test', ok: 1, failures: [] }) as Record<string, unknown>;
    delete noId['report-id'];
    const negative = rfcReport({ org: 'Bad', reportId: 'neg', domain: 'example.test', ok: -5, failures: [] });
    const mails = [
      tlsrptMail(noId, { ...base, reportId: 'no-id' }),
      tlsrptMail(negative, { ...base, reportId: 'neg' }),
      tlsrptMail('{"organization-name": "Truncated', { ...base, reportId: 'trunc', type: 'json' }),
      tlsrptMail('', { ...base, reportId: 'notgz', attachment: Buffer.from('this is not gzip') }),
      tlsrptMail({}, { ...base, reportId: 'pdf', attachment: Buffer.from('%PDF-1.4'), contentType: 'application/pdf' }),
      // 64 MiB of zeros: 64 kB of gzip.
      tlsrptMail('', { ...base, reportId: 'bomb', attachment: gzipSync(Buffer.alloc(64 * 1024 * 1024)) }),
    ];
    for (const m of mails) expect(cli(root, ['tlsrpt', 'ingest'], m).code).toBe(0);
    const before = (JSON.parse(cli(root, ['tlsrpt', 'list', '--json']).stdout) as unknown[]).length;
    const imp = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { code: string; reason: string }[] };
    expect(imp.imported).toEqual([]);
    expect(imp.refused.map((r) => r.code)).toEqual(['tlsrpt-malformed', 'tlsrpt-malformed', 'tlsrpt-malformed', 'tlsrpt-malformed', 'tlsrpt-not-a-report', 'tlsrpt-too-large']);
    expect(imp.refused[0]!.reason).toContain('report-id');
    expect(imp.refused[1]!.reason).toContain('total-successful-session-count');
    expect(imp.refused[2]!.reason).toContain('not JSON');
    expect(imp.refused[3]!.reason).toContain('is not gzip');
    expect(imp.refused[4]!.reason).toContain('attachments: application/pdf');
    expect(imp.refused[5]!.reason).toMatch(/expand beyond 20971520 bytes of JSON/);
    expect((JSON.parse(cli(root, ['tlsrpt', 'list', '--json']).stdout) as unknown[]).length).toBe(before);
    expect(readdirSync(join(root, SPOOL))).toEqual([]);
    const logged = activity(root).filter((a) => a.ok === 0).map((a) => a.detail);
    expect(logged).toEqual(expect.arrayContaining([expect.stringMatching(/^refused \(tlsrpt-too-large\): report attachments expand beyond/), expect.stringMatching(/^refused \(tlsrpt-not-a-report\)/)]));
    // Each refused mail is kept aside, root-only, with its reason (issue 21).
    const rejected = join(root, 'var/spool/tlsa-manager/rejected');
    expect(statSync(rejected).mode & 0o777).toBe(0o700);
    const notes = readdirSync(rejected).filter((f) => f.endsWith('.reason.json'));
    expect(notes).toHaveLength(6);
    for (const n of notes) expect(readdirSync(rejected)).toContain(n.slice(0, -'.reason.json'.length));
  });

  it('imports more than one batch in a run: a resend inside a batch is a duplicate, a mail that is no report is refused, the spool ends empty', () => {
    const r4 = mkdtempSync(join(tmpdir(), 'tlsa-tlsrpt-batches-'));
    cli(r4, ['tlsrpt', 'import']);
    const dir = join(r4, SPOOL);
    const base = { from: 'r@x.example', domain: 'batch.test', submitter: 'x.example', type: 'gzip' as const };
    // 450 mails (the importer writes 200 files per transaction); #11 resends #10, #300 is a PDF.
    for (let i = 0; i < 450; i++) {
      const id = `batch-${i === 11 ? 10 : i}`;
      // 50 senders of 9 reports each: under the 10 per sender, domain and day.
      const org = `Batch Sender ${(i === 11 ? 10 : i) % 50}`;
      const mail = i === 300 ? tlsrptMail({}, { ...base, reportId: id, attachment: Buffer.from('%PDF-1.4'), contentType: 'application/pdf' }) : tlsrptMail(rfcReport({ org, reportId: id, domain: 'batch.test', start: isoDay(-2), end: isoDay(-2, true), ok: 1, failures: [] }), { ...base, reportId: id });
      spoolWrite(dir, '.eml', mail, 1000 + i);
    }
    const imp = JSON.parse(cli(r4, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; duplicates: string[]; refused: { code: string }[] };
    expect([imp.imported.length, imp.duplicates, imp.refused.map((r) => r.code)]).toEqual([448, ['batch-10'], ['tlsrpt-not-a-report']]);
    expect((JSON.parse(cli(r4, ['tlsrpt', 'list', '--domain', 'batch.test', '--json']).stdout) as unknown[]).length).toBe(448);
    expect(readdirSync(dir)).toEqual([]);
    expect(activity(r4)).toHaveLength(450);
  });

  it('refuses an oversized message at the pipe: exit 0, not kept, a note the importer logs', () => {
    const big = Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), Buffer.alloc(11 * 1024 * 1024, 0x41)]);
    const r = cli(root, ['tlsrpt', 'ingest'], big);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`tlsa-manager tlsrpt: refused a message of ${big.length} bytes (larger than 10485760); not kept, not bounced\n`);
    const left = readdirSync(join(root, SPOOL));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/\.refused$/);
    expect(statSync(join(root, SPOOL, left[0]!)).size).toBeLessThan(1024);
    const imp = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { refused: { code: string; reason: string }[] };
    expect(imp.refused).toEqual([expect.objectContaining({ code: 'tlsrpt-too-large', reason: `a message of ${big.length} bytes (at most 10485760)` })]);
  });

  it('reads nothing through a link planted in the spool (the pipe user can write there): refused, logged, the target untouched', () => {
    const secret = join(root, 'secret.eml');
    writeFileSync(secret, tlsrptMail(rfcReport({ org: 'Planted', reportId: 'planted', domain: 'example.test', ok: 1, failures: [] }), { from: 'x@y.example', domain: 'example.test', submitter: 'y', reportId: 'planted', type: 'json' }));
    symlinkSync(secret, join(root, SPOOL, '1.1.0000000000000001.eml'));
    linkSync(secret, join(root, SPOOL, '1.1.0000000000000002.eml'));
    const imp = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { reason: string }[] };
    expect(imp.imported).toEqual([]);
    expect(imp.refused.map((r) => r.reason)).toEqual([expect.stringContaining('is a symbolic link'), expect.stringContaining('has other hard links')]);
    expect(statSync(secret).isFile()).toBe(true);
  });

  it('prunes reports older than tlsrpt.retentionDays; refuses one already older, and one ending more than a day ahead', () => {
    const r2 = mkdtempSync(join(tmpdir(), 'tlsa-tlsrpt-ret-'));
    const config = join(r2, 'config.json');
    writeFileSync(config, JSON.stringify({ tlsrpt: { retentionDays: 30 } }), { mode: 0o600 });
    cli(r2, ['tlsrpt', 'import', '--config', config]);
    const mail = (id: string, days: number) => tlsrptMail(rfcReport({ org: 'O', reportId: id, domain: 'example.test', start: isoDay(days), end: isoDay(days, true), ok: 1, failures: [] }), { from: 'x@o.example', domain: 'example.test', submitter: 'o.example', reportId: id, type: 'gzip' });
    for (const [id, days] of [['older', -31], ['old', -25], ['new', -10], ['future', 2]] as const) expect(cli(r2, ['tlsrpt', 'ingest'], mail(id, days)).code).toBe(0);
    const imp = JSON.parse(cli(r2, ['tlsrpt', 'import', '--json', '--config', config]).stdout) as { imported: { reportId: string }[]; refused: { code: string }[]; pruned: number };
    expect(imp.imported.map((r) => r.reportId)).toEqual(['old', 'new']);
    expect(imp.refused.map((r) => r.code)).toEqual(['tlsrpt-too-old', 'tlsrpt-future']);
    writeFileSync(config, JSON.stringify({ tlsrpt: { retentionDays: 20 } }), { mode: 0o600 });
    const again = JSON.parse(cli(r2, ['tlsrpt', 'import', '--json', '--config', config]).stdout) as { pruned: number };
    expect(again.pruned).toBe(1);
    expect((JSON.parse(cli(r2, ['tlsrpt', 'list', '--json', '--config', config]).stdout) as { reportId: string }[]).map((r) => r.reportId)).toEqual(['new']);
  });

  it('ingest works as an unprivileged pipe user of the spool\'s group, who cannot list or read the spool; a user outside the group cannot write', () => {
    const r3 = mkdtempSync(join(tmpdir(), 'tlsa-tlsrpt-user-'));
    chmodSync(r3, 0o755);
    cli(r3, ['tlsrpt', 'import']);
    for (const d of ['var', 'var/spool', 'var/spool/tlsa-manager']) chmodSync(join(r3, d), 0o755);
    // As install.sh leaves it: the pipe's group (here 65534) may create files.
    chownSync(join(r3, SPOOL), 0, 65534);
    cli(r3, ['tlsrpt', 'import']);
    expect(statSync(join(r3, SPOOL)).gid).toBe(65534);
    const as = (gid: number, cmd: string[], input?: string) => spawnSync('setpriv', ['--reuid=65534', `--regid=${gid}`, '--clear-groups', ...cmd], { input });
    const message = 'Subject: hi\r\n\r\nhello\r\n';
    const r = as(65534, [process.execPath, CLI, 'tlsrpt', 'ingest', '--root', r3], message);
    expect(r.stdout.toString()).toMatch(/spooled/);
    expect(r.status).toBe(0);
    const [name] = readdirSync(join(r3, SPOOL));
    expect(statSync(join(r3, SPOOL, name!)).uid).toBe(65534);
    expect(as(65534, ['ls', join(r3, SPOOL)]).status).not.toBe(0);
    // Same user in another group (a cPanel customer's process, say): refused, Exim would retry.
    const other = as(1, [process.execPath, CLI, 'tlsrpt', 'ingest', '--root', r3], message);
    expect(other.status).toBe(75);
    expect(other.stdout.toString()).toMatch(/cannot write to .*\(EACCES\); deferred/);
    expect(readdirSync(join(r3, SPOOL))).toEqual([name]);
  });
});
