import { readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

/**
 * Route handlers change nothing themselves (issue 25): every write (config, state database,
 * alerts, DNS, WHM) goes through src/web/services.ts, the one seam tests and the authorization
 * layer rely on. Reads for rendering may stay in the routes.
 */
it('no route handler writes: config saves, activity entries, alert changes and outside calls go through WebServices', () => {
  const files = readdirSync('src/web/routes').filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(4);
  const writes = /\b(replaceConfig|saveConfig|logActivity|acknowledge|sendTest|setCpanelImportance|applyPlan|enableSigning|checkDomains|new Providers)\s*\(|\bWhmApi\b/;
  for (const f of files) expect(readFileSync(`src/web/routes/${f}`, 'utf8'), f).not.toMatch(writes);
});
