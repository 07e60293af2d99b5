import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createContext, createLogger } from '../../src/context.js';
import { Providers } from '../../src/provider-instances.js';
import { applyPlan, makePlan } from '../../src/plan/run.js';
import { saveConfig, loadConfig } from '../../src/state/config.js';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki } from '../helpers/openssl.js';

/**
 * Issue 11, finding 2: the zone writer's temp file, the backups and the config must never be
 * written through a symbolic link planted by someone else, and a zone file that is a link leaving
 * the zone directory is refused.
 */
const ZONE = 'link.test';
let root: string;

beforeEach(() => {
  const pki = makePki();
  const leaf = pki.leaf(`mail.${ZONE}`);
  root = makeFakeRoot({
    domains: { [ZONE]: 'lk' },
    local: [ZONE],
    zones: { [ZONE]: cpanelZone(ZONE, [`${ZONE}. IN MX 10 mail.${ZONE}.`, `mail.${ZONE}. IN A 192.0.2.10`]) },
    domainTls: { [`mail.${ZONE}`]: readFileSync(leaf.combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  chmodSync(join(root, 'var/named', `${ZONE}.db`), 0o640);
});

async function apply() {
  const ctx = createContext({ root, logger: createLogger({ level: 'silent' }) });
  const providers = new Providers(ctx);
  return applyPlan(ctx, providers, await makePlan(ctx, providers), 'cli');
}

function victim(name: string): { path: string; text: string } {
  const path = join(root, name);
  const text = 'root:x:0:0:root:/root:/bin/bash\n';
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  return { path, text };
}

describe('files written through planted symbolic links', () => {
  it('a link planted at the old fixed temp name is neither followed nor chmod-ed', async () => {
    const v = victim('etc/shadow-victim');
    symlinkSync(v.path, join(root, 'var/named', `${ZONE}.db.tlsa-manager.tmp`));
    const [r] = await apply();
    expect(r?.problem).toBeUndefined();
    expect(r?.applied).toHaveLength(6);
    expect(readFileSync(v.path, 'utf8')).toBe(v.text);
    expect(statSync(v.path).mode & 0o777).toBe(0o600);
    // The zone file got the edit, keeps its mode, and no temp file is left behind.
    const zone = join(root, 'var/named', `${ZONE}.db`);
    expect(readFileSync(zone, 'utf8')).toMatch(/_25\._tcp\.mail\.link\.test\.\s+3600\s+IN\s+TLSA\s+3 1 1/);
    expect(lstatSync(zone).isFile()).toBe(true);
    expect(statSync(zone).mode & 0o777).toBe(0o640);
    expect(readdirSync(join(root, 'var/named')).filter((f) => f.includes('tmp') && f !== `${ZONE}.db.tlsa-manager.tmp`)).toEqual([]);
  });

  it('refuses a zone file that is a link leaving the zone directory, and writes nothing there', async () => {
    const outside = join(root, 'etc/elsewhere.db');
    const zone = join(root, 'var/named', `${ZONE}.db`);
    writeFileSync(outside, readFileSync(zone, 'utf8'), { mode: 0o644 });
    const before = readFileSync(outside, 'utf8');
    // (rm + symlink: the zone file becomes a link to the file outside)
    writeFileSync(zone, '');
    const { unlinkSync } = await import('node:fs');
    unlinkSync(zone);
    symlinkSync(outside, zone);
    const [r] = await apply();
    expect(r?.applied ?? []).toEqual([]);
    // Refused by the zone reader (outside /var/named) or, failing that, by the writer.
    expect(['zone-refused', 'zone-file-link']).toContain(r?.problem?.code);
    expect(r?.problem?.message).toMatch(/symbolic link/);
    expect(readFileSync(outside, 'utf8')).toBe(before);
    expect(lstatSync(zone).isSymbolicLink()).toBe(true);
  });

  it('a link inside the zone directory is followed to its target, which is edited in place', async () => {
    const zone = join(root, 'var/named', `${ZONE}.db`);
    const real = join(root, 'var/named', 'real', `${ZONE}.db`);
    mkdirSync(join(root, 'var/named/real'));
    writeFileSync(real, readFileSync(zone, 'utf8'), { mode: 0o640 });
    const { unlinkSync } = await import('node:fs');
    unlinkSync(zone);
    symlinkSync(`real/${ZONE}.db`, zone);
    const [r] = await apply();
    expect(r?.problem).toBeUndefined();
    expect(lstatSync(zone).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toMatch(/IN\s+TLSA\s+3 1 1/);
  });

  it('a link planted in the backup directory is not written through', async () => {
    const v = victim('etc/backup-victim');
    const dir = join(root, 'var/lib/tlsa-manager/backups');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Every name a backup of this zone could take within this second.
    const stamp = new Date().toISOString().slice(0, 19).replace(/[:.]/g, '-');
    for (let ms = 0; ms < 1000; ms++) symlinkSync(v.path, join(dir, `${ZONE}.db.${stamp}-${String(ms).padStart(3, '0')}Z`));
    const [r] = await apply();
    expect(r?.problem).toBeUndefined();
    expect(readFileSync(v.path, 'utf8')).toBe(v.text);
    expect(statSync(v.path).mode & 0o777).toBe(0o600);
  });

  it('saving the config never writes through a link at a temp name', () => {
    const v = victim('etc/config-victim');
    const file = join(root, 'etc/tlsa-manager/config.json');
    const now = Date.now();
    for (let t = now; t < now + 500; t++) symlinkSync(v.path, `${file}.tmp-${process.pid}-${t}`);
    saveConfig(file, loadConfig(file));
    expect(readFileSync(v.path, 'utf8')).toBe(v.text);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lstatSync(file).isFile()).toBe(true);
  });
});
