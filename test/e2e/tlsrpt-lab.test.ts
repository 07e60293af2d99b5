// Issue 14 in the lab: a TLS report mailed to tlsrpt@<hostname> goes through the lab's Exim, its
// router and pipe transport (as Debian-exim) to `tlsrpt ingest`, and shows up with the right
// counts once the import runs (triggered here, no timing). A zip bomb through the same path is
// delivered without a bounce and refused by the importer.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { useLab } from '../lab/setup.js';
import { rfcReport, tlsrptMail } from '../helpers/tlsrpt-mail.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const lab = useLab({ zones: [{ name: 'rpt1', signed: true, ds: true }] });
const DAY = 24 * 60 * 60 * 1000;

function cli(root: string, args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function send(mail: Buffer, to: string) {
  const l = lab();
  const [cmd, ...args] = l.sendmailArgv;
  return spawnSync(cmd!, [...args, '-f', 'noreply-smtp-tls-reporting@google.com', '--', to], { input: mail });
}

describe('TLS-RPT through the lab Exim', () => {
  it('a report mailed to tlsrpt@<hostname> is piped to ingest, spooled by the Exim user and imported with its counts', () => {
    const l = lab();
    const domain = l.zones[0]!.name;
    const day = new Date(Date.now() - DAY).toISOString().slice(0, 10);
    const report = rfcReport({ org: 'Google Inc.', reportId: `lab-${day}`, domain, start: `${day}T00:00:00Z`, end: `${day}T23:59:59Z`, ok: 812, failures: [{ type: 'tlsa-invalid', count: 3, receivingIp: '192.0.2.1' }] });
    const r = send(tlsrptMail(report, { from: 'noreply-smtp-tls-reporting@google.com', domain, submitter: 'google.com', reportId: `lab-${day}`, type: 'gzip' }), `tlsrpt@${l.hostname}`);
    expect(r.status, r.stderr.toString()).toBe(0);
    const spool = join(l.cpanelRoot, 'var/spool/tlsa-manager/tlsrpt');
    const files = readdirSync(spool);
    expect(files).toHaveLength(1);
    // Written by the pipe's user, not root.
    expect(statSync(join(spool, files[0]!)).uid).not.toBe(0);
    // Exim's main log has the pipe's one line (log_output) and a completed delivery, no bounce.
    const mainlog = readFileSync(join(l.dir, 'exim', 'log', 'mainlog'), 'utf8');
    expect(mainlog).toMatch(/tlsa-manager tlsrpt: spooled \d+ bytes/);

    const imp = cli(l.cpanelRoot, ['tlsrpt', 'import']);
    expect(imp.stdout).toContain('1 report(s) imported, 0 duplicate(s), 0 refused');
    const rows = JSON.parse(cli(l.cpanelRoot, ['tlsrpt', 'list', '--domain', domain, '--json']).stdout) as { organization: string; successful: number; failed: number; failures: { resultType: string; count: number }[] }[];
    expect(rows.map((x) => [x.organization, x.successful, x.failed, x.failures.map((f) => `${f.resultType}:${f.count}`).join(' ')])).toEqual([['Google Inc.', 812, 3, 'tlsa-invalid:3']]);
  });

  it('a zip bomb through the same path is delivered without a bounce and refused at import', () => {
    const l = lab();
    const domain = l.zones[0]!.name;
    const bomb = tlsrptMail('', { from: 'x@bomb.example', domain, submitter: 'bomb.example', reportId: 'bomb', type: 'gzip', attachment: gzipSync(Buffer.alloc(64 * 1024 * 1024)) });
    const r = send(bomb, `tlsrpt@${l.hostname}`);
    expect(r.status, r.stderr.toString()).toBe(0);
    const imp = JSON.parse(cli(l.cpanelRoot, ['tlsrpt', 'import', '--json']).stdout) as { imported: unknown[]; refused: { code: string }[] };
    expect(imp.imported).toEqual([]);
    expect(imp.refused.map((x) => x.code)).toEqual(['tlsrpt-too-large']);
  });
});
