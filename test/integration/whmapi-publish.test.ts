import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoRoot } from '../../demo/build-root.js';

/**
 * Issue 3, cPanel mode: with /usr/local/cpanel/bin/whmapi1 present, zones are written with
 * parse_dns_zone + mass_edit_dns_zone (so DNS clusters sync), and a stale serial (someone else
 * edited the zone between our read and our write) is re-read and retried.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
let dir: string;
let root: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tlsa-whmapi-'));
  root = join(dir, 'root');
  await buildDemoRoot(root);
  // Another writer: the first mass_edit_dns_zone finds the zone's serial moved on.
  const stub = join(root, 'usr/local/cpanel/bin/whmapi1');
  rmSync(stub);
  writeFileSync(
    stub,
    `#!/bin/sh
root="${root}"
for a in "$@"; do case "$a" in zone=*) zone="\${a#zone=}";; esac; done
# mkdir is atomic: exactly one of the concurrent edits interferes.
if [ "$2" = mass_edit_dns_zone ] && mkdir "$root/.interfered" 2>/dev/null; then
  perl -pi -e 's/(\\d+)(\\s*;\\s*Serial)/($1+1).$2/e' "$root/var/named/$zone.db"
fi
exec node "$root/usr/local/cpanel/demo-stubs/whmapi1.mjs" "$@"
`,
    { mode: 0o755 },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function calls(): { argv: string[] }[] {
  return readFileSync(join(root, 'var/log/stub-calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { argv: string[] }).filter((c) => c.argv.includes('mass_edit_dns_zone') || c.argv.includes('parse_dns_zone'));
}

describe('publishing through WHM API 1', () => {
  it('writes every zone through mass_edit_dns_zone, survives a stale serial, and converges', () => {
    const out = execFileSync(process.execPath, [CLI, 'apply', '--yes', '--root', root], { encoding: 'utf8' });
    expect(out).toMatch(/change\(s\) applied/);
    expect(out).not.toMatch(/FAILED/);
    const log = calls();
    const edits = log.filter((c) => c.argv.includes('mass_edit_dns_zone'));
    const zonesEdited = new Set(edits.map((c) => c.argv.find((a) => a.startsWith('zone='))));
    // One zone needed a second attempt after re-reading: one more edit call than zones.
    expect(edits.length).toBe(zonesEdited.size + 1);
    expect(edits.every((c) => c.argv.some((a) => a.startsWith('serial=')))).toBe(true);
    expect(edits.some((c) => c.argv.some((a) => a.startsWith('add=') && a.includes('"record_type":"TLSA"')))).toBe(true);
    for (const f of readdirSync(join(root, 'var/named')).filter((n) => n.endsWith('.db'))) {
      execFileSync('named-checkzone', ['-q', '-i', 'local', f.slice(0, -3), join(root, 'var/named', f)]);
    }
    const again = execFileSync(process.execPath, [CLI, 'apply', '--yes', '--root', root], { encoding: 'utf8' });
    expect(again).toContain('Everything is in sync');
  });
});
