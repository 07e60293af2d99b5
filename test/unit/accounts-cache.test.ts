import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAccounts } from '../../src/cpanel/accounts.js';
import { ServerRoot } from '../../src/util/server-root.js';
import { RACY_MS } from '../../src/util/change-stamp.js';

/**
 * Issue 26: the running service answers hook events without re-parsing /etc/userdomains each
 * time; the parse is kept while the file's change stamp stays, and any change is seen at once.
 */
describe('/etc/userdomains is re-read when it changes, not per call', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-accounts-'));
  mkdirSync(join(dir, 'etc'));
  const file = join(dir, 'etc/userdomains');
  const root = new ServerRoot(dir);
  const names = () => readAccounts(root).domains.map((d) => `${d.domain}:${d.owner}`);

  it('the same parse while unchanged; cPanel replacing the file (rename) or rewriting it in place (same size) is seen', () => {
    writeFileSync(file, 'aa.test: one\n*: nobody\n');
    expect(names()).toEqual(['aa.test:one']);
    // A file changed within RACY_MS is read again at every call (its stamp cannot be trusted yet).
    expect(readAccounts(root)).not.toBe(readAccounts(root));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RACY_MS + 100);
    expect(readAccounts(root)).toBe(readAccounts(root));
    writeFileSync(`${file}.new`, 'bb.test: two\n*: nobody\n');
    renameSync(`${file}.new`, file);
    expect(names()).toEqual(['bb.test:two']);
    writeFileSync(file, 'cc.test: two\n*: nobody\n'); // same size, same inode
    expect(names()).toEqual(['cc.test:two']);
  });

  it('what callers get cannot change the kept parse', () => {
    writeFileSync(file, 'dd.test: four\n');
    const a = readAccounts(root);
    expect(() => (a.domains as { owner: string }[])[0]!.owner = 'evil').toThrow();
    expect(() => a.domains.push({ domain: 'x.test', owner: 'x' })).toThrow();
    expect(names()).toEqual(['dd.test:four']);
  });
});
