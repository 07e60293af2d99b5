import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODES, type Kind } from '../../src/problem-codes.js';
import { exitCodeOf, httpStatusOf, kindOf, problem, ProblemError, retryable, severityOf, toProblem, type Problem } from '../../src/problem.js';
import { WhmApi } from '../../src/cpanel/whmapi.js';
import { ServerRoot } from '../../src/util/server-root.js';
import { parseZone } from '../../src/zonefile/index.js';

/** Every TypeScript file of the product (the demo under demo/ is not shipped and has its own errors). */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mjs)$/.test(name)) out.push(p);
    }
  };
  walk('src');
  return out;
}

/**
 * The codes a source text can emit, found the way they are written: `problem('x', …)`, an object
 * literal `code: 'x'`, a fallback `toProblem(err, 'x')`, `new ZoneEditError('x', …)`, a local `refuse('x', …)`. Helpers that take a code
 * elsewhere are typed `Code`, so the compiler checks them.
 */
export function emittedCodes(text: string): string[] {
  const patterns = [
    /\bproblem\(\s*'([^']+)'/g,
    /\bcode:\s*'([^']*)'/g,
    /\btoProblem\([^()]*?(?:\([^()]*\))?[^()]*?,\s*'([^']+)'/g,
    /\bnew ZoneEditError\(\s*'([^']+)'/g,
    /\brefuse\(\s*'([^']+)'/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]!));
}

describe('the problem registry', () => {
  const found = new Map<string, string>();
  for (const file of sources()) {
    if (file.endsWith('problem-codes.ts')) continue;
    for (const code of emittedCodes(readFileSync(file, 'utf8'))) if (!found.has(code)) found.set(code, relative('.', file));
  }

  it('lists every code the source can emit', () => {
    // The scan itself works: codes written in each of the four ways are found.
    for (const c of ['zone-syntax', 'safety-limit', 'apply-failed', 'zone-edit-refused', 'usage', 'cloudflare-timeout']) expect(found.has(c), c).toBe(true);
    const missing = [...found].filter(([code]) => !(code in CODES)).map(([code, file]) => `${code} (${file})`);
    expect(missing).toEqual([]);
  });

  it('has no entry the source never emits', () => {
    const unused = Object.keys(CODES).filter((c) => c !== 'internal' && !found.has(c));
    expect(unused).toEqual([]);
  });

  it('gives every code a kind and a sentence', () => {
    const kinds: Kind[] = ['usage', 'config', 'transient', 'refused', 'conflict', 'bug'];
    for (const [code, spec] of Object.entries(CODES)) {
      expect(kinds, code).toContain(spec.kind);
      expect(spec.text, code).toMatch(/^\S.{8,}\.$/);
    }
  });
});

describe('policy follows the kind', () => {
  it('exit code: usage and config 2, a job not done 1', () => {
    expect(exitCodeOf(problem('usage', 'x'))).toBe(2);
    expect(exitCodeOf(problem('config-invalid', 'x'))).toBe(2);
    expect(exitCodeOf(problem('name-invalid', 'x'))).toBe(2);
    expect(exitCodeOf(problem('zone-syntax', 'x'))).toBe(2);
    for (const c of ['zone-reload-failed', 'checkzone-failed', 'zone-busy', 'internal'] as const) expect(exitCodeOf(problem(c, 'x')), c).toBe(1);
    expect(exitCodeOf(toProblem(new Error('boom')))).toBe(1);
    // A code read back from stored JSON that is no longer registered (typed as Code, not at runtime).
    expect(exitCodeOf({ code: 'not-registered', message: 'x' } as unknown as Problem)).toBe(1);
  });

  it('HTTP status, retry and severity', () => {
    expect(httpStatusOf(problem('bad-request', 'x'))).toBe(400);
    expect(httpStatusOf(problem('settings-invalid', 'x'))).toBe(400);
    expect(httpStatusOf(problem('not-found', 'x'))).toBe(404);
    expect(httpStatusOf(problem('forbidden', 'x'))).toBe(403);
    expect(httpStatusOf(problem('unauthorized', 'x'))).toBe(401);
    expect(httpStatusOf(problem('internal', 'x'))).toBe(500);
    expect(httpStatusOf(problem('cloudflare-timeout', 'x'))).toBe(503);
    expect(retryable(problem('zone-serial-stale', 'the serial moved'))).toBe(true);
    expect(retryable(problem('whmapi-error', 'Missing parameter: serial'))).toBe(false);
    expect(severityOf(problem('null-mx', 'x'))).toBe('info');
    expect(severityOf(problem('zone-busy', 'x'))).toBe('warning');
    expect(severityOf(problem('cert-expired', 'x', { severity: 'warning' }))).toBe('warning');
    expect(severityOf(problem('zone-missing', 'x'))).toBe('error');
    expect(kindOf('cloudflare-record-exists')).toBe('conflict');
  });

  it('zone parse errors are ProblemErrors with their own code', () => {
    let thrown: unknown;
    try {
      parseZone('example.test. IN SOA ( oops\n', 'example.test');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProblemError);
    expect(toProblem(thrown, 'apply-failed').code).toBe('zone-syntax');
  });
});

describe('WHM API 1 errors', () => {
  /** A whmapi1 stub that fails every call with `reason`. */
  function apiFailingWith(reason: string): WhmApi {
    const dir = mkdtempSync(join(tmpdir(), 'tlsa-whmapi-'));
    mkdirSync(join(dir, 'usr/local/cpanel/bin'), { recursive: true });
    const bin = join(dir, 'usr/local/cpanel/bin/whmapi1');
    writeFileSync(bin, `#!/bin/sh\nprintf '%s' '${JSON.stringify({ metadata: { result: 0, reason } }).replaceAll("'", "'\\''")}'\n`);
    chmodSync(bin, 0o755);
    return new WhmApi(new ServerRoot(dir));
  }
  const codeOf = async (api: WhmApi) => api.call('mass_edit_dns_zone').then(() => 'none', (err: unknown) => toProblem(err).code);

  it('a stale serial is a conflict (retried), any other failure naming "serial" is not', async () => {
    expect(await codeOf(apiFailingWith('The given serial number (2024010101) does not match the DNS zone’s serial number (2024010102). Refresh your view of the DNS zone, then resubmit.'))).toBe('zone-serial-stale');
    expect(await codeOf(apiFailingWith('Missing parameter: serial'))).toBe('whmapi-error');
    expect(await codeOf(apiFailingWith('Invalid serial: abc'))).toBe('whmapi-error');
  });
});
