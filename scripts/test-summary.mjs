// Prints vitest's totals as one plain closing line ("tests: N passed, N failed, N skipped"), the
// form CI reads for any language, from the JSON report `npm test` writes. A file that failed
// without a failed test (a throwing beforeAll, an import error) leaves its tests "skipped" in the
// report: it counts as a failure here and is named, so the line never reads "0 failed" then.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.argv[2] ?? 'test-output/vitest.json';
let r;
try {
  r = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`tests: no report at ${file} (${err.message})`);
  process.exit(1);
}
const failedFiles = (r.testResults ?? []).filter((t) => t.status === 'failed');
let failed = r.numFailedTests;
for (const t of failedFiles) {
  const tests = (t.assertionResults ?? []).filter((a) => a.status === 'failed').map((a) => a.fullName);
  if (tests.length === 0) failed += 1;
  const why = tests.length > 0 ? `${tests.length} failed: ${tests.join('; ')}` : (t.message || '').split('\n')[0] || 'the file failed outside its tests (a beforeAll/afterAll hook or its import); see the log above';
  console.log(`FAILED ${relative(process.cwd(), t.name)}: ${why}`);
}
console.log(`tests: ${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
