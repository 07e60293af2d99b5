import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inRoot, linkInRoot } from './fs-util.js';

/**
 * Copies the stub cPanel executables (plain ESM files in demo/stubs/) into the demo root at
 * /usr/local/cpanel/demo-stubs/ and links them from where cPanel keeps the real ones. The links
 * are relative symlinks: node resolves the symlink before choosing the module format, so the
 * `.mjs` target runs as ESM whatever package.json sits above the demo root.
 */

export const STUB_DIR = '/usr/local/cpanel/demo-stubs';

/** Executable path in the root -> stub file name. */
export const STUB_EXECUTABLES: Record<string, string> = {
  '/usr/local/cpanel/bin/whmapi1': 'whmapi1.mjs',
  '/usr/local/cpanel/bin/register_appconfig': 'register_appconfig.mjs',
  '/usr/local/cpanel/bin/unregister_appconfig': 'unregister_appconfig.mjs',
  '/usr/local/cpanel/bin/is_registered_with_appconfig': 'is_registered_with_appconfig.mjs',
  '/usr/local/cpanel/bin/manage_hooks': 'manage_hooks.mjs',
  '/usr/bin/systemctl': 'systemctl.mjs',
  '/usr/local/cpanel/scripts/buildeximconf': 'buildeximconf.mjs',
  '/usr/local/cpanel/scripts/restartsrv_exim': 'restartsrv_exim.mjs',
  '/usr/local/cpanel/scripts/install_plugin': 'install_plugin.mjs',
  '/usr/local/cpanel/scripts/uninstall_plugin': 'install_plugin.mjs',
};

/** The stub sources: next to this module (demo/ under vitest), else demo/ from .demo/build/. */
export function stubSourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, 'stubs'), join(here, '..', '..', 'demo', 'stubs')]) {
    if (existsSync(join(dir, 'whmapi1.mjs'))) return dir;
  }
  throw new Error(`demo stubs not found next to ${here} (expected stubs/whmapi1.mjs or ../../demo/stubs/whmapi1.mjs)`);
}

export async function installStubs(root: string): Promise<Record<string, string>> {
  const src = stubSourceDir();
  const dest = inRoot(root, STUB_DIR);
  await mkdir(dest, { recursive: true });
  for (const file of await readdir(src)) {
    if (!file.endsWith('.mjs')) continue;
    await copyFile(join(src, file), join(dest, file));
    await chmod(join(dest, file), 0o755);
  }
  // cPanel's notification module (a Perl module, not an executable): where cPanel keeps it.
  const icontact = inRoot(root, '/usr/local/cpanel/Cpanel/iContact.pm');
  await mkdir(dirname(icontact), { recursive: true });
  await copyFile(join(src, 'iContact.pm'), icontact);
  // cPanel's Jupiter theme directory (the account owners' page is installed into it).
  await mkdir(inRoot(root, '/usr/local/cpanel/base/frontend/jupiter'), { recursive: true });
  const installed: Record<string, string> = {};
  for (const [exe, file] of Object.entries(STUB_EXECUTABLES)) {
    await linkInRoot(root, exe, `${STUB_DIR}/${file}`);
    installed[exe.split('/').pop()!] = exe;
  }
  return installed;
}
