import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';
import { createContext, createLogger } from '../../src/context.js';
import { reconcile } from '../../src/hooks/reconcile.js';
import { parseConfig } from '../../src/state/config.js';
import { StateDb } from '../../src/state/db.js';

/**
 * The state database does not grow without bound: the timer prunes the activity log beyond
 * history.retentionDays and check results a later check of the same domain superseded (only the
 * latest per domain is ever read).
 */
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-30T12:00:00Z');
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function freshDb(): StateDb {
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-prune-'));
  dirs.push(dir);
  return new StateDb(join(dir, 'state.db'));
}

const entry = (time: string, subject: string) => ({ time, actor: 'timer' as const, kind: 'create' as const, zone: 'a.test', subject, detail: 'x', ok: true });

describe('StateDb.pruneHistory', () => {
  it('deletes activity before the cutoff and superseded check results, keeping the latest check of every domain', () => {
    const db = freshDb();
    for (const [days, subject] of [[500, 'old'], [401, 'just-old'], [399, 'just-kept'], [0, 'today']] as const) db.logActivity(entry(ago(days), subject));
    db.saveCheck('a.test', 'no-dnssec', { n: 1 }, ago(30));
    db.saveCheck('a.test', 'mismatch', { n: 2 }, ago(2));
    db.saveCheck('a.test', 'valid', { n: 3 }, ago(1));
    db.saveCheck('b.test', 'valid', { n: 4 }, ago(900)); // superseded by nothing: stays however old
    const latestBefore = db.latestChecks();

    expect(db.pruneHistory(ago(400))).toEqual({ activity: 2, checks: 2 });
    expect(db.activity({ limit: 10 }).map((a) => a.subject).sort()).toEqual(['just-kept', 'today']);
    expect(db.latestChecks()).toEqual(latestBefore);
    expect((db.db.prepare('SELECT domain, verdict FROM checks ORDER BY domain').all() as unknown[])).toEqual([{ domain: 'a.test', verdict: 'valid' }, { domain: 'b.test', verdict: 'valid' }]);
    // Nothing left to prune: a second run deletes nothing.
    expect(db.pruneHistory(ago(400))).toEqual({ activity: 0, checks: 0 });
  });

  it('prunes a history larger than one slice completely', () => {
    const db = freshDb();
    const insert = db.db.prepare("INSERT INTO activity (time, actor, kind, zone, subject, detail, ok) VALUES (?, 'timer', 'create', 'a.test', ?, 'x', 1)");
    db.db.transaction(() => {
      for (let i = 0; i < 12_001; i++) insert.run(ago(401), `s${i}`);
      insert.run(ago(1), 'recent');
    })();
    expect(db.pruneHistory(ago(400)).activity).toBe(12_001);
    expect(db.activity({ limit: 10 }).map((a) => a.subject)).toEqual(['recent']);
  });
});

describe('history.retentionDays', () => {
  it('is refused below 90 days (the TLS-RPT timeline draws 90 days of publish events)', () => {
    expect(() => parseConfig({ history: { retentionDays: 30 } }, '/etc/tlsa-manager/config.json')).toThrow(/history\.retentionDays: .*90/);
    expect(parseConfig({}, 'x').history.retentionDays).toBe(400);
  });

  it('the timer prunes by it', async () => {
    const pki = makePki();
    const host = 'mail.prune.test';
    const root = makeFakeRoot({
      domains: { 'prune.test': 'prune' },
      local: ['prune.test'],
      zones: { 'prune.test': cpanelZone('prune.test', ['prune.test. IN MX 10 mail.prune.test.', 'mail IN A 192.0.2.10']) },
      domainTls: { [host]: readFileSync(pki.leaf(host).combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ history: { retentionDays: 90 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    dirs.push(root);
    const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
    ctx.now = () => NOW;
    const state = ctx.state();
    state.logActivity(entry(ago(100), 'beyond'));
    state.logActivity(entry(ago(80), 'within'));
    state.saveCheck('prune.test', 'no-dnssec', {}, ago(10));
    state.saveCheck('prune.test', 'valid', {}, ago(5));
    await reconcile(ctx);
    const subjects = state.activity({ limit: 500 }).map((a) => a.subject);
    expect(subjects).toContain('within');
    expect(subjects).not.toContain('beyond');
    expect(state.db.prepare("SELECT verdict FROM checks WHERE domain = 'prune.test'").all()).toEqual([{ verdict: 'valid' }]);
  });
});
