import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactSecret } from '../../src/util/redact.js';
import { StateDb } from '../../src/state/db.js';
import type { RunningServer } from '../../src/web/server.js';
import { testContext } from '../helpers/context.js';
import { http, signedIn } from '../integration/web-fixture.js';

/** Issue 11, finding 7: state.db mode, activity paging, token redaction. */

describe('state database mode', () => {
  it('a new state.db and its WAL files are 0600 whatever the umask', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsa-state-'));
    const old = process.umask(0o022);
    try {
      const db = new StateDb(join(dir, 'state.db'));
      db.setMeta('x', '1');
      for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) expect((statSync(join(dir, f)).mode & 0o777).toString(8), f).toBe('600');
      db.close();
    } finally {
      process.umask(old);
    }
  });

  it('an existing 0644 state.db (older versions) is made 0600 when opened', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tlsa-state-'));
    const file = join(dir, 'state.db');
    new Database(file).close();
    chmodSync(file, 0o644);
    new StateDb(file).close();
    expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
  });
});

describe('activity paging', () => {
  let srv: RunningServer;
  let port: number;
  let cookie: string;
  beforeAll(async () => {
    const ctx = testContext({});
    ctx.state().logActivity({ actor: 'cli', kind: 'hook', zone: null, subject: null, detail: 'x', ok: true });
    ({ srv, port, cookie } = await signedIn(ctx, 'paging-test-token'));
  });
  afterAll(async () => {
    await srv?.close();
  });

  for (const bad of ['1e17', '-1', '0', 'abc', '1.5', '99999999999']) {
    it(`page=${bad} is a clear 400`, async () => {
      const r = await http({ port }, 'GET', `/activity?page=${encodeURIComponent(bad)}`, { headers: { cookie, accept: 'text/html' } });
      expect(r.status).toBe(400);
      expect(r.body).toContain('page number');
    });
  }
  it('page=2 and no page are fine', async () => {
    for (const q of ['?page=2', '']) expect((await http({ port }, 'GET', `/activity${q}`, { headers: { cookie, accept: 'text/html' } })).status).toBe(200);
  });
});

describe('secret redaction', () => {
  const token = 'AbCdEf0123456789GhIjKlMnOpQrStUvWxYz_-9876';
  it('redacts the token, its case variants and any 8+ character piece of it', () => {
    const msg = `bad token ${token}; lower ${token.toLowerCase()}; upper ${token.toUpperCase()}; piece "${token.slice(5, 17)}" and tail ${token.slice(-9)}`;
    const out = redactSecret(msg, token);
    expect(out).not.toContain(token.slice(5, 17));
    expect(out.toLowerCase()).not.toContain(token.toLowerCase().slice(0, 8));
    for (let i = 0; i + 8 <= token.length; i++) expect(out.toLowerCase()).not.toContain(token.toLowerCase().slice(i, i + 8));
    expect(out).toContain('bad token [redacted]');
  });
  it('leaves ordinary text alone (short common pieces are not secrets)', () => {
    expect(redactSecret('Authentication error (code 10000) for zone example.com', token)).toBe('Authentication error (code 10000) for zone example.com');
  });
});
