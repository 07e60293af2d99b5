// Helpers for sections that change a root: they work on their own copy of the shared demo root,
// never on bench/.work/root-N itself (other sections and later runs reuse that one).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, WORK } from './lib.mjs';

export const CLI = join(REPO, 'dist/cli.js');


/** A fresh `cp -a` copy of `source` at bench/.work/<name>-root (replacing an old copy). */
export function freshCopy(source, name) {
  const dir = join(WORK, `${name}-root`);
  if (dir === source) throw new Error('refusing to copy a root onto itself');
  rmSync(dir, { recursive: true, force: true });
  execFileSync('cp', ['-a', source, dir]);
  return dir;
}

/**
 * Zone-file mode: the demo root ships a whmapi1 stub, so `useWhmApi: false` forces direct zone
 * edits; `true` as reload command and no authoritative check keep BIND out of it.
 */
export function zoneFileConfig(root, extra = {}) {
  const dir = join(root, 'etc/tlsa-manager');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = { cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false }, ...extra };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config), { mode: 0o600 });
}

/** Zone file name → "mtimeMs:size", to tell which files a run wrote. */
export function zoneStamps(root) {
  const dir = join(root, 'var/named');
  const out = new Map();
  for (const n of readdirSync(dir)) {
    if (!n.endsWith('.db')) continue;
    const st = statSync(join(dir, n));
    out.set(n, `${st.mtimeMs}:${st.size}`);
  }
  return out;
}

export function changedFiles(before, after) {
  let n = 0;
  for (const [k, v] of after) if (before.get(k) !== v) n++;
  return n;
}

export function countBackups(root) {
  try {
    return readdirSync(join(root, 'var/lib/tlsa-manager/backups')).length;
  } catch {
    return 0;
  }
}

/** Run the CLI as its own process (node start included); throws with stderr when it fails. */
export function cli(args, { input, okCodes = [0] } = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, maxBuffer: 256 << 20 });
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  if (!okCodes.includes(r.status)) throw new Error(`tlsa-manager ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return { wallMs, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}
