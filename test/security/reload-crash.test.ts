import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

/**
 * Issue 11, finding 3: `kill -9` while the zone reloads used to leave the new records in the file,
 * the zone never reloaded and the ledger rows not ours (so never retired). The intent is journalled
 * before acting; the next writing command reloads what was written and marks it ours; `plan`
 * (read-only) recovers nothing.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const ZONE = 'crashreload.test';
const HOST = `mail.${ZONE}`;

function cli(root: string, args: string[]): { status: number; out: string } {
  try {
    return { status: 0, out: execFileSync(process.execPath, [CLI, ...args, '--root', root], { encoding: 'utf8' }) };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { status: e.status, out: e.stdout + e.stderr };
  }
}

describe('kill -9 between the rename and the reload', () => {
  it('the next apply reloads the zone and owns the records; plan does not touch the journal', async () => {
    const pki = makePki();
    const leaf = pki.leaf(HOST);
    const root = makeFakeRoot({
      domains: { [ZONE]: 'cr' },
      local: [ZONE],
      zones: { [ZONE]: cpanelZone(ZONE, [`${ZONE}. IN MX 10 ${HOST}.`, `${HOST}. IN A 192.0.2.10`]) },
      domainTls: { [HOST]: readFileSync(leaf.combined, 'utf8') },
      files: {
        '/reload.sh': `echo "$1" >> "${'$'}(dirname "$0")/reloads.log"\nif [ -f "${'$'}(dirname "$0")/hang" ]; then echo $$ > "${'$'}(dirname "$0")/reload.pid"; exec sleep 30; fi\n`,
        '/hang': '',
        '/etc/tlsa-manager/config.json': '{}',
      },
    });
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['/bin/sh', join(root, 'reload.sh'), '{zone}'], authoritative: false } }), { mode: 0o600 });
    const reloads = () => (existsSync(join(root, 'reloads.log')) ? readFileSync(join(root, 'reloads.log'), 'utf8').trim().split('\n') : []);

    const child = spawn(process.execPath, [CLI, 'apply', '--yes', '--root', root], { stdio: 'ignore' });
    const pidFile = join(root, 'reload.pid');
    for (let i = 0; i < 400 && !existsSync(pidFile); i++) await sleep(25);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    rmSync(join(root, 'hang'));

    // The file was renamed in place before the kill: it holds the new records.
    const want = opensslTlsaData(leaf.cert, 1, 1);
    const zoneText = readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8');
    expect(zoneText.split('\n').filter((l) => l.includes(want))).toHaveLength(3);
    expect(reloads()).toEqual([ZONE]);

    // plan is read-only: no reload, journal kept.
    expect(cli(root, ['plan']).status).toBe(0);
    expect(reloads()).toEqual([ZONE]);
    const db = () => new Database(join(root, 'var/lib/tlsa-manager/state.db'), { readonly: true });
    let d = db();
    expect((d.prepare('SELECT zone, step FROM journal').all() as { zone: string; step: string }[])).toEqual([{ zone: ZONE, step: 'written' }]);
    d.close();

    const again = cli(root, ['apply', '--yes']);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain(`recovered ${ZONE}`);
    expect(reloads()).toEqual([ZONE, ZONE]);
    d = db();
    const rows = d.prepare('SELECT owner, created_by_us FROM ledger WHERE zone = ? ORDER BY owner, key').all(ZONE) as { owner: string; created_by_us: number }[];
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.created_by_us === 1)).toBe(true);
    expect(d.prepare('SELECT COUNT(*) n FROM journal').get()).toEqual({ n: 0 });
    d.close();
    // Converged: nothing left to do.
    expect(cli(root, ['apply', '--yes']).out).toContain('Everything is in sync');
  });
});
