import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

const CLI = join(process.cwd(), 'dist/cli.js');

function cli(args: string[]): { status: number; stdout: string } {
  try {
    return { status: 0, stdout: execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status: number; stdout: string };
    return { status: e.status, stdout: e.stdout };
  }
}

/** Every entry under `root`: path, type, mode, size, modification and change times (ns), content hash. */
function treeState(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p, { bigint: true });
      const body = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : st.isSymbolicLink() ? readlinkSync(p) : '';
      out.set(p.slice(root.length), `${st.mode.toString(8)} ${st.size} m${st.mtimeNs} c${st.ctimeNs} ${body}`);
      if (st.isDirectory()) walk(p);
    }
  };
  const st = lstatSync(root, { bigint: true });
  out.set('/', `${st.mode.toString(8)} m${st.mtimeNs} c${st.ctimeNs}`);
  walk(root);
  return out;
}

const READ_ONLY = [['plan', '--json'], ['scan', '--json'], ['audit', '--format', 'json']];

describe('plan, scan and audit change nothing', () => {
  it('on a fresh root (no state database is created) and after apply (the ledger is read, not written)', () => {
    const pki = makePki();
    const host = 'mail.ro.test';
    const first = pki.leaf(host);
    const root = makeFakeRoot({
      domains: { 'ro.test': 'ro' },
      local: ['ro.test'],
      zones: { 'ro.test': cpanelZone('ro.test', ['ro.test. IN MX 10 mail.ro.test.', 'mail IN A 192.0.2.10']) },
      domainTls: { [host]: readFileSync(first.combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    /** Runs each read-only command; returns the plan it printed. */
    const runAll = () => {
      const out = READ_ONLY.map((args) => cli([...args, '--root', root]));
      out.forEach((r, i) => expect(r.status, READ_ONLY[i]!.join(' ')).toBe(0));
      return JSON.parse(out[0]!.stdout) as { zones: { changes: { kind: string; record: { data: string } }[]; waiting: { record: { data: string } }[] }[] };
    };

    const fresh = treeState(root);
    expect(runAll().zones[0]!.changes).toHaveLength(6);
    expect(treeState(root)).toEqual(fresh);
    expect(existsSync(join(root, 'var/lib/tlsa-manager'))).toBe(false);

    expect(cli(['apply', '--yes', '--root', root]).status).toBe(0);
    // A new key: the plan now has a rollover that only the ledger explains (the old records are
    // ours and held for 2×TTL), so the plan must have read the state database.
    const second = pki.leaf(host);
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', host, 'combined'), readFileSync(second.combined, 'utf8'));
    const before = treeState(root);
    expect([...before.keys()]).toContain('/var/lib/tlsa-manager/state.db');
    const plan = runAll();
    expect(treeState(root)).toEqual(before);
    const z = plan.zones[0]!;
    expect(z.changes.map((c) => `${c.kind} ${c.record.data}`)).toEqual(Array(3).fill(`create ${opensslTlsaData(second.cert, 1, 1)}`));
    expect(z.waiting.map((w) => w.record.data)).toEqual(Array(3).fill(opensslTlsaData(first.cert, 1, 1)));
  });
});
