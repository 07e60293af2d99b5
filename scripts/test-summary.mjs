// Prints vitest's totals as one plain closing line ("tests: N passed, N failed, N skipped"), the
// form CI reads for any language, from the JSON report `npm test` writes.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-output/vitest.json';
try {
  const r = JSON.parse(readFileSync(file, 'utf8'));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests ?? 0)} skipped`);
} catch (err) {
  console.log(`tests: no report at ${file} (${err.message})`);
}
