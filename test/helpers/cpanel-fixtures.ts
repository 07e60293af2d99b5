import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * The cPanel stand-ins of test/fixtures/cpanel (each names the cPanel source it follows): hook
 * payloads with their placeholders filled, WHM API 1 answers, and a whmapi1 that answers from them.
 */
export const CPANEL_FIXTURES = resolve(import.meta.dirname, '../fixtures/cpanel');

export type HookFixture =
  | 'AutoSSL-installssl-pre'
  | 'AutoSSL-installssl-post'
  | 'SSL-installssl-pre'
  | 'SSL-installssl-post'
  | 'SSL-delssl-post'
  | 'SSL-install_service_ssl_certificate-post'
  | 'UAPI-SSL-install_ssl-post'
  | 'UAPI-SSL-delete_ssl-post';

export const HOOK_FIXTURES: HookFixture[] = ['AutoSSL-installssl-pre', 'AutoSSL-installssl-post', 'SSL-installssl-pre', 'SSL-installssl-post', 'SSL-delssl-post', 'SSL-install_service_ssl_certificate-post', 'UAPI-SSL-install_ssl-post', 'UAPI-SSL-delete_ssl-post'];

export interface HookValues {
  user?: string;
  domain?: string;
  ip?: string;
  certificatePem?: string;
  keyPem?: string;
  cabPem?: string;
}

interface Fixture<T> {
  source: { file: string; sub: string; note?: string };
  [k: string]: unknown;
  input: T;
}

/** A hook event's stdin object, as cPanel sends it, with the given values in place. */
export function hookInput(name: HookFixture, v: HookValues = {}): { hook: Record<string, unknown>; context: Record<string, unknown>; data: Record<string, unknown> } {
  const fx = JSON.parse(readFileSync(join(CPANEL_FIXTURES, 'hooks', `${name}.json`), 'utf8')) as Fixture<{ hook: Record<string, unknown>; context: Record<string, unknown>; data: Record<string, unknown> }>;
  const domain = v.domain ?? 'example.com';
  const fill: Record<string, string> = {
    '@USER@': v.user ?? 'example',
    '@DOMAIN@': domain,
    '@DOMAIN_UNDERSCORED@': domain.replace(/\./g, '_'),
    '@IP@': v.ip ?? '192.0.2.10',
    '@CERTIFICATE_PEM@': v.certificatePem ?? '',
    '@KEY_PEM@': v.keyPem ?? '',
    '@CAB_PEM@': v.cabPem ?? '',
  };
  const walk = (x: unknown): unknown => {
    if (typeof x === 'string') return Object.hasOwn(fill, x) ? fill[x] : x.replace(/@[A-Z_]+@/g, (m) => fill[m] ?? m);
    if (Array.isArray(x)) return x.map(walk);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, val]) => [k, walk(val)]));
    return x;
  };
  return walk(fx.input) as ReturnType<typeof hookInput>;
}

/** The same as JSON text, for the hook's stdin. */
export function hookEvent(name: HookFixture, v: HookValues = {}): string {
  return JSON.stringify(hookInput(name, v));
}

/** A WHM API 1 fixture file: its `answer` (and other named answers, e.g. `stale`). */
export function whmapiFixture(name: string): { source: { file: string; sub: string; note?: string }; answer: unknown; [k: string]: unknown } {
  return JSON.parse(readFileSync(join(CPANEL_FIXTURES, 'whmapi1', `${name}.json`), 'utf8'));
}

/**
 * Puts a whmapi1 into `root` that prints the fixture answer for each function named in `answers`
 * (function → fixture file, and which answer in it), and fails for any other.
 */
export function installFixtureWhmapi1(root: string, answers: Record<string, { file: string; key?: string }>): void {
  const table: Record<string, unknown> = {};
  for (const [fn, { file, key }] of Object.entries(answers)) table[fn] = whmapiFixture(file)[key ?? 'answer'];
  const exe = join(root, 'usr/local/cpanel/bin/whmapi1');
  mkdirSync(dirname(exe), { recursive: true });
  writeFileSync(
    exe,
    `#!/usr/bin/env node\nconst table = ${JSON.stringify(table)};\nconst fn = process.argv.slice(2).find((a) => !a.startsWith('--') && !a.includes('='));\nprocess.stdout.write(JSON.stringify(table[fn] ?? { data: {}, metadata: { command: fn, reason: 'not in the fixture table', result: 0, version: 1 } }) + '\\n');\n`,
  );
  chmodSync(exe, 0o755);
}

/** A cPanel KEY=value fixture file (files/…) without our comment lines. */
export function cpanelFile(name: 'cpanel.config' | 'users-user'): string {
  return readFileSync(join(CPANEL_FIXTURES, 'files', name), 'utf8').split('\n').filter((l) => !l.startsWith('#') && l.trim() !== '').join('\n') + '\n';
}
