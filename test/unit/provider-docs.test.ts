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

it("README's Layout names every folder under src/, and nothing under providers/, zonefile/, resolver/ or dns/ imports context.ts", async () => {
  const { readdirSync } = await import('node:fs');
  const readme = readFileSync('README.md', 'utf8');
  const layout = readme.slice(readme.indexOf('## Layout'));
  const dirs = readdirSync('src', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  expect(dirs.length).toBeGreaterThan(10);
  for (const d of dirs) expect(layout, `src/${d}/`).toMatch(new RegExp(`^src/${d}/ `, 'm'));
  for (const room of ['providers', 'zonefile', 'resolver', 'dns']) {
    const files = readdirSync(`src/${room}`, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length, room).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(`src/${room}/${f}`, 'utf8'), `${room}/${f}`).not.toMatch(/from '(\.\.\/)+context\.js'/);
  }
});
