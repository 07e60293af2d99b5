import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot } from '../../demo/build-root.js';

/**
 * Issue 14 §1: the TLSRPT policy (`_smtp._tls.<domain> TXT "v=TLSRPTv1; rua=mailto:…"`) is
 * published, replaced and retired through the cPanel providers (WHM API 1 stub, and the zone
 * file itself) under the TLSA ownership rules. What the zones hold is read by BIND's
 * named-compilezone, and the expected strings are written out here by hand.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const HOSTNAME = 'server.demo-host.test';
const FOREIGN = '"v=TLSRPTv1; rua=mailto:them@elsewhere.example"';
const UNRELATED = '"unrelated text; keep me"';
const policy = (address: string) => `"v=TLSRPTv1; rua=mailto:${address}"`;

/** TXT RDATA at `owner` as named-compilezone prints the zone, sorted. */
function txtAt(root: string, zone: string, owner: string): string[] {
  const text = execFileSync('named-compilezone', ['-i', 'local', '-q', '-f', 'text', '-F', 'text', '-s', 'full', '-o', '-', zone, join(root, `var/named/${zone}.db`)], { encoding: 'utf8' });
  return text
    .split('\n')
    .map((l) => /^(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === `${owner}.`)
    .map((m) => m[2]!.trim())
    .sort();
}

function setup(name: string, cpanel: Record<string, unknown>) {
  const ctx = { dir: '', root: '' };
  const config = (tlsrpt: Record<string, unknown>) => writeFileSync(join(ctx.root, 'etc/tlsa-manager/config.json'), JSON.stringify({ cpanel, tlsrpt }), { mode: 0o600 });
  const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args, '--root', ctx.root], { encoding: 'utf8' });
  beforeAll(async () => {
    ctx.dir = mkdtempSync(join(tmpdir(), `tlsa-tlsrpt-${name}-`));
    ctx.root = join(ctx.dir, 'root');
    await buildDemoRoot(ctx.root);
    mkdirSync(join(ctx.root, 'etc/tlsa-manager'), { recursive: true });
    // Someone else's policy at one domain, an unrelated TXT record at another's _smtp._tls name.
    appendFileSync(join(ctx.root, 'var/named/bravo-demo.test.db'), `_smtp._tls\t300\tIN\tTXT\t${FOREIGN}\n`);
    appendFileSync(join(ctx.root, 'var/named/charlie-demo.test.db'), `_smtp._tls\t300\tIN\tTXT\t${UNRELATED}\n`);
  });
  afterAll(() => rmSync(ctx.dir, { recursive: true, force: true }));
  return { ctx, config, cli };
}

function allZonesLoad(root: string): void {
  for (const f of readdirSync(join(root, 'var/named')).filter((n) => n.endsWith('.db'))) {
    execFileSync('named-checkzone', ['-q', '-i', 'local', f.slice(0, -3), join(root, 'var/named', f)]);
  }
}

for (const mode of ['whmapi1', 'zonefile'] as const) {
  describe(`TLSRPT policies through the cPanel provider (${mode})`, () => {
    const { ctx, config, cli } = setup(mode, mode === 'whmapi1' ? {} : { useWhmApi: false, reloadCommand: ['true'], authoritative: false });
    const edits = () =>
      readFileSync(join(ctx.root, 'var/log/stub-calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[] }).filter((c) => c.argv.includes('mass_edit_dns_zone'));

    it('publishes one policy per opted-in domain at the domain, leaving foreign and unrelated TXT records alone', () => {
      config({ publish: 'all' });
      const plan = JSON.parse(cli('plan', '--json')) as { zones: { zone: string; changes: { kind: string; record: { owner: string } }[]; warnings: { code: string; subject?: string }[] }[] };
      const bravo = plan.zones.find((z) => z.zone === 'bravo-demo.test')!;
      expect(bravo.changes.some((c) => c.record.owner.startsWith('_smtp._tls.'))).toBe(false);
      expect(bravo.warnings.filter((w) => w.code === 'tlsrpt-foreign').map((w) => w.subject)).toEqual(['bravo-demo.test']);
      const out = cli('apply', '--yes');
      expect(out).not.toMatch(/FAILED/);
      expect(txtAt(ctx.root, 'charlie-demo.test', '_smtp._tls.charlie-demo.test')).toEqual([UNRELATED, policy(`tlsrpt@${HOSTNAME}`)].sort());
      expect(txtAt(ctx.root, 'bravo-demo.test', '_smtp._tls.bravo-demo.test')).toEqual([FOREIGN]);
      // At the mail domain, not at the MX host.
      expect(txtAt(ctx.root, 'charlie-demo.test', '_smtp._tls.mail.charlie-demo.test')).toEqual([]);
      expect(txtAt(ctx.root, 'delta-demo.test', '_smtp._tls.delta-demo.test')).toEqual([policy(`tlsrpt@${HOSTNAME}`)]);
      // The policy joined the TXT record set at charlie's name with its TTL: BIND has nothing to warn about.
      expect(execFileSync('named-checkzone', ['-i', 'local', 'charlie-demo.test', join(ctx.root, 'var/named/charlie-demo.test.db')], { encoding: 'utf8' })).not.toMatch(/TTL set to prior TTL/);
      if (mode === 'whmapi1') expect(edits().some((c) => c.argv.some((a) => a.startsWith('add=') && a.includes('"record_type":"TXT"') && a.includes('"dname":"_smtp._tls"')))).toBe(true);
      allZonesLoad(ctx.root);
      expect(cli('apply', '--yes')).toContain('Everything is in sync');
    });

    it('replaces its own policy when the address changes (add and remove in one zone edit)', () => {
      config({ publish: 'all', address: 'reports@tls.demo-host.test' });
      const before = mode === 'whmapi1' ? edits().length : 0;
      cli('apply', '--yes');
      expect(txtAt(ctx.root, 'charlie-demo.test', '_smtp._tls.charlie-demo.test')).toEqual([UNRELATED, policy('reports@tls.demo-host.test')].sort());
      expect(txtAt(ctx.root, 'delta-demo.test', '_smtp._tls.delta-demo.test')).toEqual([policy('reports@tls.demo-host.test')]);
      expect(txtAt(ctx.root, 'bravo-demo.test', '_smtp._tls.bravo-demo.test')).toEqual([FOREIGN]);
      if (mode === 'whmapi1') {
        const charlie = edits().slice(before).filter((c) => c.argv.includes('zone=charlie-demo.test'));
        expect(charlie).toHaveLength(1);
        expect(charlie[0]!.argv.filter((a) => a.startsWith('add=')).length).toBe(1);
        expect(charlie[0]!.argv.filter((a) => a.startsWith('remove=')).length).toBe(1);
      }
      allZonesLoad(ctx.root);
    });

    it('retires its policy when a domain leaves the opt-in, and all of them when publishing is off', () => {
      config({ publish: ['charlie-demo.test', 'bravo-demo.test'], address: 'reports@tls.demo-host.test' });
      cli('apply', '--yes');
      expect(txtAt(ctx.root, 'delta-demo.test', '_smtp._tls.delta-demo.test')).toEqual([]);
      expect(txtAt(ctx.root, 'charlie-demo.test', '_smtp._tls.charlie-demo.test')).toEqual([UNRELATED, policy('reports@tls.demo-host.test')].sort());
      config({ publish: 'off' });
      const out = cli('apply', '--yes');
      // Written with the TTL of the TXT record already at the name (one TTL per record set).
      expect(out).toContain(`- _smtp._tls.charlie-demo.test. 300 IN TXT ${policy('reports@tls.demo-host.test')}`);
      expect(txtAt(ctx.root, 'charlie-demo.test', '_smtp._tls.charlie-demo.test')).toEqual([UNRELATED]);
      expect(txtAt(ctx.root, 'bravo-demo.test', '_smtp._tls.bravo-demo.test')).toEqual([FOREIGN]);
      for (const z of ['alpha-demo.test', 'delta-demo.test', 'addon-demo.test']) expect(readFileSync(join(ctx.root, `var/named/${z}.db`), 'utf8')).not.toContain('TLSRPTv1');
      allZonesLoad(ctx.root);
      expect(cli('apply', '--yes')).toContain('Everything is in sync');
    });
  });
}
