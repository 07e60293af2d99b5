import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildDemoRoot } from '../../demo/build-root.js';

/** Shared by the install tests: a release-like source tree, demo roots with a cPanel Node.js, running the scripts. */

export const REPO = resolve(__dirname, '../..');
export const APP = '/usr/local/cpanel/3rdparty/tlsa-manager';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a shell script with bash (optionally under another umask), as install.sh is run. */
export function sh(script: string, args: string[], env: Record<string, string> = {}, umask?: string): Run {
  const argv = umask ? ['-c', `umask ${umask}; exec bash "$0" "$@"`, script, ...args] : [script, ...args];
  const r = spawnSync('bash', argv, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A built source tree like a release tarball: the repo's files plus dist/ compiled here. */
export function makeSource(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json', 'README.md', 'install.sh', 'uninstall.sh', 'plugin', 'views', 'public']) {
    if (existsSync(join(REPO, f))) cpSync(join(REPO, f), join(dir, f), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  // Other people's files may be mid-edit: type errors do not stop tsc from emitting.
  spawnSync(join(REPO, 'node_modules/.bin/tsc'), ['-p', join(REPO, 'tsconfig.json'), '--outDir', join(dir, 'dist')], { encoding: 'utf8' });
  if (!existsSync(join(dir, 'dist/cli.js'))) throw new Error('tsc did not produce dist/cli.js');
}

/** A demo root under `scratch` whose active ea-nodejs (passenger.nodejs) is this test's node. */
export async function newRoot(scratch: string, name: string): Promise<string> {
  const root = join(scratch, name);
  await buildDemoRoot(root);
  mkdirSync(join(root, 'opt/cpanel/ea-nodejs20/bin'), { recursive: true });
  symlinkSync(process.execPath, join(root, 'opt/cpanel/ea-nodejs20/bin/node'));
  mkdirSync(join(root, 'etc/cpanel/ea4'), { recursive: true });
  writeFileSync(join(root, 'etc/cpanel/ea4/passenger.nodejs'), '/opt/cpanel/ea-nodejs20/bin/node\n');
  return root;
}
