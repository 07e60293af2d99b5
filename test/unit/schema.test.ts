import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { migrate, SCHEMA_VERSION, schemaVersion } from '../../src/state/schema.js';

const tables = (db: Database.Database) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
const columns = (db: Database.Database, t: string) => (db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);

describe('the state schema (issue 25: one module, numbered migrations)', () => {
  it('no CREATE TABLE or ALTER TABLE anywhere under src/ but src/state/schema.ts', () => {
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && f !== 'state/schema.ts');
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) expect(readFileSync(`src/${f}`, 'utf8'), f).not.toMatch(/\b(CREATE|ALTER)\s+TABLE\b/i);
  });

  it('a new database gets every table and the latest version; a second run changes nothing', () => {
    const db = new Database(':memory:');
    expect(schemaVersion(db)).toBe(0);
    migrate(db);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(tables(db)).toEqual(['activity', 'alert_baselines', 'alert_deliveries', 'alerts', 'checks', 'dnssec_intent', 'dnssec_state', 'journal', 'ledger', 'login_links', 'meta', 'mta_sts_check', 'mta_sts_domain', 'owner_notices', 'owner_prefs', 'schedule', 'tlsrpt_policy', 'tlsrpt_report', 'tlsrpt_result', 'tlsrpt_sample']);
    expect(columns(db, 'alerts')).toContain('acked_at');
    const before = db.serialize();
    migrate(db);
    expect(Buffer.compare(db.serialize(), before)).toBe(0);
  });

  it('a database from before issue 24 (alerts without acknowledgement) gains the columns and keeps its rows', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, subject TEXT NOT NULL, title TEXT NOT NULL, detail TEXT NOT NULL, data TEXT NOT NULL, opened_at INTEGER NOT NULL, resolved_at INTEGER, resolved_detail TEXT, last_notified_at INTEGER);`);
    db.prepare("INSERT INTO alerts (key, kind, severity, subject, title, detail, data, opened_at) VALUES ('k', 'dane-broken', 'critical', 'a.test', 't', 'd', '{}', 1)").run();
    migrate(db);
    expect(columns(db, 'alerts')).toEqual(expect.arrayContaining(['acked_by', 'acked_at']));
    expect(db.prepare('SELECT key, acked_at FROM alerts').all()).toEqual([{ key: 'k', acked_at: null }]);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
  });

  it('a database made by issue 24 before the numbering (columns there, version 0) migrates without touching them', () => {
    const db = new Database(':memory:');
    migrate(db);
    db.pragma('user_version = 0');
    migrate(db);
    expect(columns(db, 'alerts').filter((c) => c === 'acked_at')).toHaveLength(1);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
  });

  it('a database from a newer TLSA Manager is left alone', () => {
    const db = new Database(':memory:');
    db.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    migrate(db);
    expect(tables(db)).toEqual([]);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION + 5);
  });
});
