import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { providersTable } from '../../src/providers/docs.js';

it("README's providers table is the registry's (kinds, secrets, capabilities)", () => {
  const readme = readFileSync('README.md', 'utf8');
  const m = /<!-- providers-table:[^\n]*-->\n([\s\S]*?)\n\s*<!-- \/providers-table -->/.exec(readme);
  expect(m, 'README has the providers table markers').not.toBeNull();
  const rows = m![1]!.split('\n').map((l) => l.trim());
  expect(rows).toEqual(providersTable());
});
