import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP, makeSource, newRoot, sh, type Run } from '../helpers/install-fixture.js';

// Issue 28: install.sh puts the account owners' page where cPanel serves custom pages, UAPI
// modules and AdminBins, and registers it with cPanel's installer (scripts/install_plugin, a stub
// after Cpanel/Plugin/Install.pm); uninstall.sh takes exactly that out again. Real scripts, as root,
// on a demo root whose cPanel tools are stubs that log their calls.

let scratch: string;
let source: string;
let root: string;
let installed: Run;
const at = (p: string) => join(root, p);
const mode = (p: string) => statSync(at(p)).mode & 0o7777;
const calls = (stub: string) =>
  readFileSync(at('/var/log/stub-calls.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { stub: string; argv: string[] })
    .filter((c) => c.stub === stub);

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tlsa-install-page-'));
  source = join(scratch, 'src');
  makeSource(source);
  root = await newRoot(scratch, 'root');
  installed = sh(join(source, 'install.sh'), ['--root', root, '--skip-npm']);
}, 240_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the account owners page is installed the cPanel way (issue 28)', () => {
  it('page files in the Jupiter theme, the UAPI module, the root-only AdminBin with its .conf', () => {
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toContain("installed the account owners' page");
    for (const f of ['index.html.tt', 'index.css', 'index.js']) {
      expect(readFileSync(at(`/usr/local/cpanel/base/frontend/jupiter/tlsa_manager/${f}`), 'utf8')).toBe(readFileSync(join(source, 'plugin/cpanel/tlsa_manager', f), 'utf8'));
      expect(mode(`/usr/local/cpanel/base/frontend/jupiter/tlsa_manager/${f}`)).toBe(0o644);
    }
    expect(mode('/usr/local/cpanel/Cpanel/API/TLSAManager.pm')).toBe(0o644);
    expect(mode('/usr/local/cpanel/bin/admin/TLSAManager')).toBe(0o700);
    expect(mode('/usr/local/cpanel/bin/admin/TLSAManager/Account')).toBe(0o700);
    expect(readFileSync(at('/usr/local/cpanel/bin/admin/TLSAManager/Account.conf'), 'utf8')).toBe('mode=full\nallowed_parents=/usr/local/cpanel/cpanel,/usr/local/cpanel/uapi\n');
  });

  it('install_plugin registered the link in the Email group and the Feature Manager feature tlsa_manager', () => {
    const c = calls('install_plugin');
    expect(c).toHaveLength(1);
    expect(c[0]!.argv).toEqual([`${APP}/plugin/cpanel`.replace(/^/, root), '--theme', 'jupiter']);
    expect(readFileSync(at('/usr/local/cpanel/whostmgr/addonfeatures/tlsa_manager'), 'utf8')).toBe('tlsa_manager:Email Security (DANE)\n');
    const link = JSON.parse(readFileSync(at('/usr/local/cpanel/base/frontend/jupiter/dynamicui/dynamicui_tlsa_manager.conf'), 'utf8')) as { group_id: string; uri: string };
    expect(link).toMatchObject({ group_id: 'email', uri: 'tlsa_manager/index.html.tt' });
  });

  it('uninstall.sh removes exactly what was added', () => {
    const out = sh(join(at(APP), 'uninstall.sh'), ['--root', root]);
    expect(out.code, out.stderr).toBe(0);
    expect(calls('uninstall_plugin')).toHaveLength(1);
    for (const p of ['/usr/local/cpanel/base/frontend/jupiter/tlsa_manager', '/usr/local/cpanel/Cpanel/API/TLSAManager.pm', '/usr/local/cpanel/bin/admin/TLSAManager', '/usr/local/cpanel/whostmgr/addonfeatures/tlsa_manager', '/usr/local/cpanel/base/frontend/jupiter/dynamicui/dynamicui_tlsa_manager.conf']) {
      expect(existsSync(at(p)), p).toBe(false);
    }
    // The theme itself (cPanel's) stays.
    expect(existsSync(at('/usr/local/cpanel/base/frontend/jupiter'))).toBe(true);
  });
});
