import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireComponents } from '../helpers/components.js';

/**
 * A state directory that is full, read-only or not a directory: the admin reads which path and
 * what to check, not SQLite's "disk I/O error". Tests run as root, so permissions do not stop
 * writes: a regular file stands where the directory should be, and a size-limited or read-only
 * tmpfs is mounted over the state directory inside a private mount namespace (unshare -m: the
 * mounts vanish with the shell, the host never sees them).
 */
const CLI = join(process.cwd(), 'dist/cli.js');
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function fakeRoot(): { root: string; dir: string; db: string } {
  const root = mkdtempSync(join(tmpdir(), 'state-storage-'));
  roots.push(root);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/userdomains'), '');
  mkdirSync(join(root, 'var/lib/tlsa-manager'), { recursive: true });
  const dir = join(root, 'var/lib/tlsa-manager');
  return { root, dir, db: join(dir, 'state.db') };
}

/** A shell script in a private mount namespace; its stdout. */
function inNamespace(script: string): string {
  const r = spawnSync('unshare', ['-m', 'sh', '-euc', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unshare -m failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** `reconcile` with its stderr on stdout, then its exit code. */
const reconcile = (root: string) => `rc=0; node ${CLI} reconcile --root ${root} 2>&1 || rc=$?; echo "exit=$rc"`;

describe('state.db that cannot be written', () => {
  requireComponents('state storage', ['unshare', 'mount']);

  it('a file where the state directory should be: state-cannot-open naming the path and what to check (exit 2)', () => {
    const { root, dir, db } = fakeRoot();
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'not a directory');
    const r = spawnSync(process.execPath, [CLI, 'reconcile', '--root', root], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`tlsa-manager: The state database ${db} cannot be opened or created (EEXIST). (Check that ${dir} is a directory root may write (not a file or a dangling link, and every directory above it too) and that state.db in it is a regular file (ls -la ${dir}).)\n`);
    // A file one level higher: the same problem, another errno.
    const deeper = fakeRoot();
    rmSync(join(deeper.root, 'var/lib'), { recursive: true });
    writeFileSync(join(deeper.root, 'var/lib'), '');
    const r2 = spawnSync(process.execPath, [CLI, 'reconcile', '--root', deeper.root], { encoding: 'utf8' });
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/^tlsa-manager: The state database \S+ cannot be opened or created \(ENOTDIR\)\./);
  });

  it('a full file system when opening: state-disk-full with the path and df (exit 2)', () => {
    const { root, dir, db } = fakeRoot();
    const out = inNamespace(`mount -t tmpfs -o size=16k tmpfs ${dir}; ${reconcile(root)}`);
    expect(out).toBe(`tlsa-manager: The file system holding ${dir} is full (SQLITE_IOERR_SHMSIZE), so the state database ${db} cannot be written. (Free space there (see: df -h ${dir}), then run it again; the database needs no repair.)\nexit=2\n`);
  });

  it('a disk that fills up while the database is open: the write fails as state-disk-full', () => {
    const { dir, db } = fakeRoot();
    // Opens state.db, fills the file system, then writes: SQLite answers SQLITE_FULL mid-run.
    const child = `
      import { writeFileSync } from 'node:fs';
      import { StateDb } from '${process.cwd()}/dist/state/db.js';
      import { toProblem, exitCodeOf } from '${process.cwd()}/dist/problem.js';
      const s = new StateDb(${JSON.stringify(db)});
      s.logActivity({ actor: 'cli', kind: 'check', zone: null, subject: null, detail: 'before', ok: true });
      try { writeFileSync(${JSON.stringify(`${dir}/fill`)}, Buffer.alloc(4 << 20)); } catch {}
      try {
        for (let i = 0; i < 200; i++) s.logActivity({ actor: 'cli', kind: 'check', zone: null, subject: null, detail: 'x'.repeat(20000), ok: true });
        console.log('no error');
      } catch (err) {
        const p = toProblem(err);
        console.log(JSON.stringify({ sqlite: err.code, code: p.code, message: p.message, fix: p.fix, exit: exitCodeOf(p) }));
      }`;
    const script = join(dir, '..', 'fill-child.mjs');
    writeFileSync(script, child);
    const out = JSON.parse(inNamespace(`mount -t tmpfs -o size=1m tmpfs ${dir}; node ${script}`));
    expect(out).toEqual({
      sqlite: 'SQLITE_FULL',
      code: 'state-disk-full',
      message: 'The file system holding /var/lib/tlsa-manager is full (SQLITE_FULL), so the state database /var/lib/tlsa-manager/state.db (below --root when one is given) cannot be written.',
      fix: 'Free space there (see: df -h /var/lib/tlsa-manager), then run it again; the database needs no repair.',
      exit: 2,
    });
  });

  it('a read-only file system: state-read-only naming the path, findmnt and the files to check (exit 2)', () => {
    const { root, dir, db } = fakeRoot();
    const out = inNamespace(`mount -t tmpfs -o size=1m tmpfs ${dir}; node ${CLI} reconcile --root ${root} >/dev/null; mount -o remount,ro ${dir}; ${reconcile(root)}`);
    expect(out).toBe(`tlsa-manager: The state database ${db} cannot be written (EROFS). (Check that ${dir} is on a file system mounted read-write (findmnt -T ${dir}) and that root may write ${dir} and its state.db, state.db-wal and state.db-shm (ls -la ${dir}; lsattr for the immutable flag).)\nexit=2\n`);
  });
});
