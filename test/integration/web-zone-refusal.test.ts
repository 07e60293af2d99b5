import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningServer } from '../../src/web/server.js';
import { demoFixture, http, type DemoFixture, signedIn } from './web-fixture.js';

/**
 * Issue 15 and issue 11 finding 4 on the domain page: a zone refused because of an `$INCLUDE`
 * outside the zone directory is named there with its reason, and the included file's content
 * (once a secret shown as "… is not a known record type") never appears.
 */
let fx: DemoFixture;
let srv: RunningServer;
let port: number;
let cookie: string;
let domain: string;
const TOKEN = 'refusal-test-token';
const SECRET = 'hunter2SECRET';

beforeAll(async () => {
  fx = await demoFixture();
  domain = fx.manifest.cases['mx-mail-host']![0]!;
  mkdirSync(join(fx.root, 'root'), { recursive: true });
  writeFileSync(join(fx.root, 'root/.my.cnf'), `${SECRET}\n`);
  appendFileSync(join(fx.root, `var/named/${domain}.db`), '$INCLUDE /root/.my.cnf\n');
  const ctx = fx.context();
  ({ srv, port, cookie } = await signedIn(ctx, TOKEN));
});

afterAll(async () => {
  await srv?.close();
  fx?.cleanup();
});

describe('domain page of a domain in a refused zone', () => {
  it('names the zone file, the line and the reason, never the included content', async () => {
    const r = await http({ port }, 'GET', `/domains/${domain}`, { headers: { cookie, accept: 'text/html' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(new RegExp(`/var/named/${domain.replace(/\./g, '\\.')}\\.db line \\d+: \\$INCLUDE /root/\\.my\\.cnf is outside the zone directory /var/named`));
    expect(r.body).not.toContain(SECRET);
  });
});
