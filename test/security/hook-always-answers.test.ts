import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';

/**
 * Issue 11, finding 5: `printf null | tlsa-manager hook` exited 1 with nothing on stdout. Every
 * input gets `1 …` (never `0`: it can fail a cPanel action) and exit 0 within the hook's time budget; the user-level UAPI hook
 * reconciles only the calling user's domains.
 */
const CLI = join(process.cwd(), 'dist/cli.js');
let root: string;
let pki: ReturnType<typeof makePki>;

beforeAll(() => {
  pki = makePki();
  const serve = (h: string) => readFileSync(pki.leaf(h).combined, 'utf8');
  root = makeFakeRoot({
    domains: { 'alice.test': 'alice', 'bob.test': 'bob' },
    local: ['alice.test', 'bob.test'],
    zones: {
      'alice.test': cpanelZone('alice.test', ['alice.test. IN MX 10 mail.alice.test.', 'mail.alice.test. IN A 192.0.2.10']),
      'bob.test': cpanelZone('bob.test', ['bob.test. IN MX 10 mail.bob.test.', 'mail.bob.test. IN A 192.0.2.10']),
    },
    domainTls: { 'mail.alice.test': serve('mail.alice.test'), 'mail.bob.test': serve('mail.bob.test') },
    files: {
      '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }),
      '/slow.sh': 'sleep 20\n',
    },
  });
});

function hook(input: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'hook', '--root', root, ...extra], { input, encoding: 'utf8', env, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, ms: Date.now() - started };
}

describe('the hook always answers', () => {
  const inputs = ['null', '', '   ', '[]', '"text"', '42', 'true', '{', '{"context":null}', '{"context":5,"data":"x"}', '{"context":{"category":"Whostmgr","event":"SSL::installssl","stage":"pre"},"data":null}',
    '{"context":{"category":"Whostmgr","event":"SSL::installssl","stage":"pre"},"data":{"domain":["a"],"crt":{"x":1}}}',
    '{"context":{"category":"Whostmgr","event":"SSL::installssl","stage":"pre"},"data":{"domain":"alice.test","crt":"-----BEGIN CERTIFICATE-----\\nnot base64\\n-----END CERTIFICATE-----"}}',
    '{"context":{"category":"Cpanel","event":"UAPI::SSL::install_ssl","stage":"post"},"data":{"args":null,"user":7}}',
    '{"context":{"category":"Whostmgr","event":"SSL::delssl","stage":"post"},"data":{"host":"../../etc/passwd"}}',
    '\u0000\u0001\u0002', JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::delssl', stage: 'post' }, data: { host: 'x'.repeat(100_000) } })];
  for (const input of inputs) {
    it(`answers ${JSON.stringify(input.slice(0, 60))}`, () => {
      const r = hook(input);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^1 \S[^\n]*\n?$/);
    });
  }

  it('answers within its time budget even when the work takes longer (and the next run finishes it)', () => {
    const slowRoot = JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['/bin/sh', join(root, 'slow.sh')], authoritative: false } });
    const cfg = join(root, 'etc/tlsa-manager/slow.json');
    writeText(cfg, slowRoot);
    const r = hook(JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::installssl', stage: 'post' }, data: { domain: 'alice.test' } }), ['--config', cfg, '--budget', '2']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^1 deferred/);
    expect(r.ms).toBeLessThan(8000);
  });

  it('the user-level UAPI post hook reconciles only domains the calling user owns', () => {
    const before = readFileSync(join(root, 'var/named/bob.test.db'), 'utf8');
    const next = pki.leaf('mail.bob.test', { sans: ['mail.bob.test', 'mail.alice.test'] });
    // alice installs a certificate naming bob's host; bob's certificate changed on disk meanwhile.
    writeText(join(root, 'var/cpanel/ssl/domain_tls/mail.bob.test/combined'), readFileSync(next.combined, 'utf8'));
    const r = hook(JSON.stringify({ context: { category: 'Cpanel', event: 'UAPI::SSL::install_ssl', stage: 'post' }, data: { user: 'alice', args: { domain: 'bob.test', cert: readFileSync(next.cert, 'utf8') } } }));
    expect(r.stdout).toMatch(/^1 /);
    expect(readFileSync(join(root, 'var/named/bob.test.db'), 'utf8')).toBe(before);
    expect(readFileSync(join(root, 'var/named/bob.test.db'), 'utf8')).not.toContain(opensslTlsaData(next.cert, 1, 1));
    // bob's own event does reconcile bob.test.
    const own = hook(JSON.stringify({ context: { category: 'Cpanel', event: 'UAPI::SSL::install_ssl', stage: 'post' }, data: { user: 'bob', args: { domain: 'bob.test', cert: readFileSync(next.cert, 'utf8') } } }));
    expect(own.stdout).toMatch(/^1 reconciled bob\.test/);
    expect(readFileSync(join(root, 'var/named/bob.test.db'), 'utf8')).toContain(opensslTlsaData(next.cert, 1, 1));
  });
});

function writeText(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}
