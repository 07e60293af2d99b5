import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** A vitest JSON report of the shape vitest 4 writes (recorded from a run of three files). */
function report(files: { name: string; status: 'passed' | 'failed'; message?: string; tests: [string, 'passed' | 'failed' | 'skipped'][] }[]) {
  const all = files.flatMap((f) => f.tests);
  return {
    numTotalTestSuites: files.length,
    numFailedTestSuites: 0, // what vitest reported for a throwing beforeAll: it cannot be trusted
    numPassedTests: all.filter(([, s]) => s === 'passed').length,
    numFailedTests: all.filter(([, s]) => s === 'failed').length,
    numPendingTests: all.filter(([, s]) => s === 'skipped').length,
    numTodoTests: 0,
    success: false,
    testResults: files.map((f) => ({ name: join(process.cwd(), f.name), status: f.status, message: f.message ?? '', assertionResults: f.tests.map(([fullName, status]) => ({ fullName, status })) })),
  };
}

function summary(r: unknown): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'tlsa-summary-')), 'vitest.json');
  writeFileSync(file, JSON.stringify(r));
  return execFileSync(process.execPath, ['scripts/test-summary.mjs', file], { encoding: 'utf8' }).trim().split('\n');
}

describe('scripts/test-summary.mjs', () => {
  it('counts and names files that failed outside their tests (beforeAll, import)', () => {
    const lines = summary(
      report([
        { name: 'test/lab/a.test.ts', status: 'failed', tests: [['lab a', 'skipped'], ['lab b', 'skipped']] },
        { name: 'test/unit/imp.test.ts', status: 'failed', message: 'import failed\nstack', tests: [] },
        { name: 'test/unit/ok.test.ts', status: 'passed', tests: [['ok', 'passed']] },
      ]),
    );
    expect(lines).toEqual([
      'FAILED test/lab/a.test.ts: the file failed outside its tests (a beforeAll/afterAll hook or its import); see the log above',
      'FAILED test/unit/imp.test.ts: import failed',
      'tests: 1 passed, 2 failed, 2 skipped',
    ]);
  });

  it('names failed tests once per file and keeps the plain closing line', () => {
    const lines = summary(report([{ name: 'test/unit/x.test.ts', status: 'failed', tests: [['x one', 'failed'], ['x two', 'failed'], ['x three', 'passed']] }]));
    expect(lines).toEqual(['FAILED test/unit/x.test.ts: 2 failed: x one; x two', 'tests: 1 passed, 2 failed, 0 skipped']);
    expect(summary(report([{ name: 'test/unit/ok.test.ts', status: 'passed', tests: [['ok', 'passed']] }]))).toEqual(['tests: 1 passed, 0 failed, 0 skipped']);
  });
});

describe('requireComponents', () => {
  it('fails loudly naming the missing component, passes when all are there', async () => {
    const { requireComponents } = await import('../helpers/components.js');
    expect(() => requireComponents('lab', ['openssl', 'no-such-daemon-x'])).toThrow(/^lab: missing component\(s\): no-such-daemon-x\. Install them/);
    expect(() => requireComponents('lab', [process.execPath, 'openssl'])).not.toThrow();
  });
});
