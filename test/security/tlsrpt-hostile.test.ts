// Issue 21: hostile TLS-RPT mail, generated here in every shape the security review used. Each
// case asserts its bound (time, peak resident memory, database growth, what is stored) and fails
// on the importer before issue 21 (see the report of the change for which failed how).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';
import { spoolWrite } from '../../src/tlsrpt/spool.js';

// TLSA_CLI: run the suite against another build (e.g. the code before issue 21, to see it fail).
const CLI = process.env.TLSA_CLI ?? join(process.cwd(), 'dist/cli.js');
const SPOOL = 'var/spool/tlsa-manager/tlsrpt';
const DAY = 86_400_000;

beforeAll(() => {
  if (!statSync(CLI, { throwIfNoEntry: false })) spawnSync('npm', ['run', 'build'], { stdio: 'ignore' });
});

function isoDay(offsetDays: number, end = false): string {
  return `${new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10)}T${end ? '23:59:59' : '00:00:00'}Z`;
}

/** Runs the CLI under GNU time: exit code, output, wall seconds and peak resident set (kB). */
function cli(root: string, args: string[]) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, CLI, ...args, '--root', root], { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
  const stderr = r.stderr.toString();
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  return { code: r.status, stdout: r.stdout.toString(), stderr, seconds: Number(m?.[1] ?? NaN), peakKb: Number(m?.[2] ?? NaN) };
}

function freshRoot(): { root: string; spool: string } {
  const root = mkdtempSync(join(tmpdir(), 'tlsa-hostile-'));
  mkdirSync(join(root, SPOOL), { recursive: true });
  return { root, spool: join(root, SPOOL) };
}

function dbBytes(root: string): number {
  const dir = join(root, 'var/lib/tlsa-manager');
  return readdirSync(dir).filter((f) => f.startsWith('state.db')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

function query<T>(root: string, sql: string): T[] {
  const db = new Database(join(root, 'var/lib/tlsa-manager/state.db'), { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

/** Just under 20 MB of RFC 8460 JSON: 43 policies × 8,000 short failure details (the review's bomb report). */
function bombReport(reportId: string, domain = 'victim.test'): string {
  const details = Array.from({ length: 8_000 }, () => ({ 'result-type': 'tlsa-invalid', 'failed-session-count': 1 }));
  const policy = { policy: { 'policy-type': 'tlsa', 'policy-domain': domain }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 8_000 }, 'failure-details': details };
  return JSON.stringify({ 'organization-name': 'Bomb Org', 'date-range': { 'start-datetime': isoDay(-1), 'end-datetime': isoDay(-1, true) }, 'report-id': reportId, policies: Array.from({ length: 43 }, () => policy) });
}

/** A multipart/report mail with several gzip report attachments. */
function multiMail(gz: Buffer[], from = 'bomb@bomb.example'): Buffer {
  const parts = gz.map((g, i) => [`--b`, `Content-Type: application/tlsrpt+gzip; name="r${i}.json.gz"`, `Content-Disposition: attachment; filename="r${i}.json.gz"`, 'Content-Transfer-Encoding: base64', '', g.toString('base64').replace(/.{76}/g, '$&\r\n'), ''].join('\r\n'));
  return Buffer.from([`From: ${from}`, 'To: tlsrpt@server.host.test', 'Subject: Report', 'MIME-Version: 1.0', 'Content-Type: multipart/report; boundary="b"; report-type="tlsrpt"', '', ...parts, '--b--', ''].join('\r\n'));
}

describe('TLS-RPT import against hostile mail', () => {
  it('22 bomb mails (8 × 19 MB of JSON each): one reconcile in under a minute, peak RSS under 500 MB, each refused with its reason, the database grows by less than the mail', () => {
    const { root, spool } = freshRoot();
    expect(cli(root, ['tlsrpt', 'import']).code).toBe(0);
    const json = bombReport('bomb');
    expect(json.length).toBeGreaterThan(18 * 1024 * 1024);
    expect(json.length).toBeLessThan(20 * 1024 * 1024);
    const gz = gzipSync(json, { level: 9 });
    let mailBytes = 0;
    for (let i = 0; i < 22; i++) {
      const m = multiMail(Array.from({ length: 8 }, () => gz));
      mailBytes += m.length;
      spoolWrite(spool, '.eml', m, 1000 + i);
    }
    const before = dbBytes(root);
    // The timer's run, as systemd starts it.
    const r = cli(root, ['reconcile']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.seconds).toBeLessThan(60);
    expect(r.peakKb).toBeLessThan(500 * 1024);
    console.log(`22 bomb mails (${mailBytes} bytes): reconcile ${r.seconds} s, peak RSS ${Math.round(r.peakKb / 1024)} MB`);
    const refused = query<{ detail: string }>(root, "SELECT detail FROM activity WHERE kind = 'tlsrpt' AND ok = 0");
    expect(refused).toHaveLength(22);
    for (const x of refused) expect(x.detail).toMatch(/^refused \(tlsrpt-too-large\): report attachments expand beyond 20971520 bytes of JSON/);
    expect(query(root, 'SELECT * FROM tlsrpt_report')).toEqual([]);
    expect(readdirSync(spool)).toEqual([]);
    expect(dbBytes(root) - before).toBeLessThan(mailBytes);
    const rejected = readdirSync(join(root, 'var/spool/tlsa-manager/rejected'));
    expect(rejected.filter((f) => f.endsWith('.reason.json'))).toHaveLength(22);
  });

  it('one report of 344,000 failure details (just under the mail limit) is stored aggregated: counts kept, 20 samples, the database grows by less than the mail', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    const mail = multiMail([gzipSync(bombReport('big-1', 'big.test'))]);
    spoolWrite(spool, '.eml', mail, 1000);
    const before = dbBytes(root);
    const r = cli(root, ['tlsrpt', 'import', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.peakKb).toBeLessThan(500 * 1024);
    const out = JSON.parse(r.stdout) as { imported: unknown[]; cut: { code: string }[] };
    expect(out.imported).toHaveLength(1);
    expect(out.cut.map((c) => c.code)).toEqual(['tlsrpt-details-cut']);
    expect(dbBytes(root) - before).toBeLessThan(mail.length);
    expect(query<{ n: number }>(root, 'SELECT SUM(count) AS n FROM tlsrpt_result')[0]!.n).toBe(344_000);
    expect(query<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM tlsrpt_sample')[0]!.n).toBe(20);
  });

  it('a report naming 80,000 policies keeps 1,000 and counts the rest', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    const policies = Array.from({ length: 80_000 }, (_, i) => ({ policy: { 'policy-type': 'tlsa', 'policy-domain': `victim${i}.example` }, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 }, 'failure-details': [{ 'result-type': 'tlsa-invalid', 'failed-session-count': 1 }] }));
    const report = { 'organization-name': 'Many', 'date-range': { 'start-datetime': isoDay(-1), 'end-datetime': isoDay(-1, true) }, 'report-id': 'many', policies };
    spoolWrite(spool, '.eml', tlsrptMail(report, { from: 'x@many.example', domain: 'victim0.example', submitter: 'many.example', reportId: 'many', type: 'gzip' }), 1000);
    const r = cli(root, ['tlsrpt', 'import', '--json']);
    const out = JSON.parse(r.stdout) as { imported: unknown[]; cut: { code: string; reason: string }[] };
    expect(out.imported).toHaveLength(1);
    expect(out.cut).toEqual([expect.objectContaining({ code: 'tlsrpt-policies-cut', reason: expect.stringContaining('79000 policies') }), expect.objectContaining({ code: 'tlsrpt-details-cut' })]);
    expect(query<{ n: number }>(root, 'SELECT COUNT(*) AS n FROM tlsrpt_policy')[0]!.n).toBe(1000);
  });

  it('a flood: more than 10 reports from one sender about one domain for one day are refused', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    for (let i = 0; i < 30; i++) {
      const id = `flood-${i}`;
      spoolWrite(spool, '.eml', tlsrptMail(rfcReport({ org: 'Flooder', reportId: id, domain: 'flood.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [{ type: 'tlsa-invalid', count: 1 }] }), { from: 'x@flood.example', domain: 'flood.test', submitter: 'flood.example', reportId: id, type: 'gzip' }), 1000 + i);
    }
    const out = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { code: string }[] };
    expect(out.imported).toHaveLength(10);
    expect(out.refused.map((x) => x.code)).toEqual(Array(20).fill('tlsrpt-flood'));
  });

  it('a report ending in 2999 is refused (it would never be pruned)', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    spoolWrite(spool, '.eml', tlsrptMail(rfcReport({ org: 'Future', reportId: 'f', domain: 'x.test', start: isoDay(-1), end: '2999-01-01T00:00:00Z', ok: 1, failures: [] }), { from: 'x@f.example', domain: 'x.test', submitter: 'f.example', reportId: 'f', type: 'json' }), 1000);
    const out = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { code: string }[] };
    expect(out.imported).toEqual([]);
    expect(out.refused.map((x) => x.code)).toEqual(['tlsrpt-future']);
    expect(query(root, 'SELECT * FROM tlsrpt_report')).toEqual([]);
  });

  it('a directory, a FIFO and a link in the spool fail alone: the mails beside them are imported, the import exits 0', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    mkdirSync(join(spool, 'zzz.eml'));
    expect(spawnSync('mkfifo', [join(spool, '5.fifo.eml')]).status).toBe(0);
    spoolWrite(spool, '.eml', tlsrptMail(rfcReport({ org: 'Good', reportId: 'g1', domain: 'x.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [] }), { from: 'x@g.example', domain: 'x.test', submitter: 'g.example', reportId: 'g1', type: 'json' }), 1000);
    spoolWrite(spool, '.eml', tlsrptMail(rfcReport({ org: 'Good', reportId: 'g2', domain: 'x.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [] }), { from: 'x@g.example', domain: 'x.test', submitter: 'g.example', reportId: 'g2', type: 'json' }), 9_999_999_999_999);
    const r = cli(root, ['tlsrpt', 'import', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { imported: { reportId: string }[]; refused: { file: string; code: string }[] };
    expect(out.imported.map((x) => x.reportId).sort()).toEqual(['g1', 'g2']);
    expect(out.refused.map((x) => [x.file, x.code]).sort()).toEqual([['5.fifo.eml', 'tlsrpt-not-a-file'], ['zzz.eml', 'tlsrpt-not-a-file']]);
    expect(readdirSync(spool)).toEqual([]);
  });

  it('a mail an earlier import died on is rejected, never parsed again', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    const importDir = join(root, 'var/spool/tlsa-manager/import');
    expect(statSync(importDir).mode & 0o777).toBe(0o700);
    writeFileSync(join(importDir, '1.1.dead.eml'), tlsrptMail(rfcReport({ org: 'X', reportId: 'dead', domain: 'x.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [] }), { from: 'x@x.example', domain: 'x.test', submitter: 'x.example', reportId: 'dead', type: 'json' }));
    void spool;
    const out = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { file: string; code: string }[] };
    expect(out.imported).toEqual([]);
    expect(out.refused).toEqual([expect.objectContaining({ file: '1.1.dead.eml', code: 'tlsrpt-import-interrupted' })]);
    expect(readdirSync(importDir)).toEqual([]);
    expect(JSON.parse(readFileSync(join(root, 'var/spool/tlsa-manager/rejected/1.1.dead.eml.reason.json'), 'utf8'))).toMatchObject({ code: 'tlsrpt-import-interrupted' });
  });

  it('a second import while one runs leaves the spool and the first run\'s claimed file alone', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    const importDir = join(root, 'var/spool/tlsa-manager/import');
    // The first run (a live process: this one) holds the lock and has claimed a file.
    writeFileSync(join(root, 'var/spool/tlsa-manager/import.lock'), String(process.pid));
    writeFileSync(join(importDir, '1.1.busy.eml'), 'being read');
    spoolWrite(spool, '.eml', tlsrptMail(rfcReport({ org: 'W', reportId: 'w', domain: 'x.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [] }), { from: 'x@w.example', domain: 'x.test', submitter: 'w.example', reportId: 'w', type: 'json' }), 1000);
    const out = JSON.parse(cli(root, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: unknown[]; deferred: number };
    expect(out).toMatchObject({ imported: [], refused: [], deferred: 1 });
    expect(readdirSync(importDir)).toEqual(['1.1.busy.eml']);
    expect(readdirSync(spool)).toHaveLength(1);
  });

  it('control characters in report text never reach the terminal: tlsrpt list and import print them as "?"', () => {
    const { root, spool } = freshRoot();
    cli(root, ['tlsrpt', 'import']);
    const evil = 'Evil\u001b]2;owned\u0007\u001b[2J\r\nrm -rf /';
    const report = rfcReport({ org: evil, reportId: `id${evil}`, domain: 'x.test', start: isoDay(-1), end: isoDay(-1, true), ok: 1, failures: [{ type: `tlsa-invalid\u001b[31m`, count: 1 }] });
    (report.policies[0]!.policy as Record<string, unknown>)['policy-type'] = 'tlsa\u001b[2J';
    spoolWrite(spool, '.eml', tlsrptMail(report, { from: 'x@e.example', domain: 'x.test', submitter: 'e.example', reportId: 'evil', type: 'json' }), 1000);
    spoolWrite(spool, '.eml', tlsrptMail('{', { from: 'x@e.example', domain: 'x.test', submitter: 'e.example\u001b[2J', reportId: 'bad\u001b]2;x\u0007', type: 'json' }), 1001);
    const imp = cli(root, ['tlsrpt', 'import']);
    const list = cli(root, ['tlsrpt', 'list']);
    for (const text of [imp.stdout, list.stdout]) {
      // eslint-disable-next-line no-control-regex
      expect(text.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
    expect(list.stdout).toContain('Evil?]2;owned??[2J??rm -rf /');
    // JSON keeps the text as sent, escaped by JSON itself.
    const rows = JSON.parse(cli(root, ['tlsrpt', 'list', '--json']).stdout) as { organization: string }[];
    expect(rows[0]!.organization).toBe(evil);
  });

  it('a database of the old layout (every failure detail a row) moves into the aggregated tables once', () => {
    const { root } = freshRoot();
    const dir = join(root, 'var/lib/tlsa-manager');
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, 'state.db'));
    db.exec(`CREATE TABLE tlsrpt_reports (id INTEGER PRIMARY KEY AUTOINCREMENT, report_id TEXT NOT NULL UNIQUE, organization TEXT NOT NULL, contact TEXT, start_time INTEGER NOT NULL, end_time INTEGER NOT NULL, received_at INTEGER NOT NULL);
      CREATE TABLE tlsrpt_policies (id INTEGER PRIMARY KEY AUTOINCREMENT, report INTEGER NOT NULL, policy_type TEXT NOT NULL, policy_domain TEXT NOT NULL, mx_hosts TEXT NOT NULL, successful INTEGER NOT NULL, failed INTEGER NOT NULL);
      CREATE TABLE tlsrpt_failures (policy INTEGER NOT NULL, result_type TEXT NOT NULL, sending_ip TEXT, receiving_mx TEXT, receiving_ip TEXT, count INTEGER NOT NULL, reason_code TEXT);`);
    const end = Date.now() - DAY;
    db.prepare('INSERT INTO tlsrpt_reports VALUES (1, ?, ?, NULL, ?, ?, ?)').run('old-1', 'Old Org', end - DAY + 1000, end, end);
    db.prepare("INSERT INTO tlsrpt_policies VALUES (1, 1, 'tlsa', 'old.test', '[]', 5, 50)").run();
    const ins = db.prepare("INSERT INTO tlsrpt_failures VALUES (1, ?, '192.0.2.1', NULL, NULL, 1, NULL)");
    for (let i = 0; i < 50; i++) ins.run(i % 2 ? 'tlsa-invalid' : 'dnssec-invalid');
    db.close();
    const rows = JSON.parse(cli(root, ['tlsrpt', 'list', '--json']).stdout) as { reportId: string; results: { resultType: string; count: number }[]; failures: unknown[] }[];
    expect(rows.map((r) => r.reportId)).toEqual(['old-1']);
    expect(rows[0]!.results.sort((a, b) => a.resultType.localeCompare(b.resultType))).toEqual([{ resultType: 'dnssec-invalid', count: 25 }, { resultType: 'tlsa-invalid', count: 25 }]);
    expect(rows[0]!.failures).toHaveLength(40);
    expect(query(root, "SELECT name FROM sqlite_master WHERE name IN ('tlsrpt_reports', 'tlsrpt_policies', 'tlsrpt_failures')")).toEqual([]);
  });
});
