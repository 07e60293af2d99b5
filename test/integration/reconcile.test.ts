import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData } from '../helpers/openssl.js';
import { createContext, createLogger } from '../../src/context.js';
import { inputsFingerprint, reconcile } from '../../src/hooks/reconcile.js';

describe('periodic reconcile', () => {
  it('does nothing when nothing changed, follows a certificate changed by hand, retires after 2xTTL', async () => {
    const pki = makePki();
    const host = 'mail.rec.test';
    const first = pki.leaf(host);
    const root = makeFakeRoot({
      domains: { 'rec.test': 'rec' },
      local: ['rec.test'],
      zones: { 'rec.test': cpanelZone('rec.test', ['rec.test. IN MX 10 mail.rec.test.', 'mail IN A 192.0.2.10']) },
      domainTls: { [host]: readFileSync(first.combined, 'utf8') },
      files: { '/etc/tlsa-manager/config.json': JSON.stringify({ policy: { ttl: 60 }, cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
    });
    let offset = 0;
    const ctx = () => {
      const c = createContext({ root, logger: createLogger({ level: 'silent' }) });
      c.now = () => Date.now() + offset;
      return c;
    };
    const zoneFile = join(root, 'var/named/rec.test.db');

    expect(await reconcile(ctx())).toMatchObject({ skipped: false, applied: 6, failed: false });
    const mtime = statSync(zoneFile).mtimeMs;
    expect(await reconcile(ctx())).toMatchObject({ skipped: true, applied: 0 });
    expect(statSync(zoneFile).mtimeMs).toBe(mtime);

    // A certificate replaced by hand (no hook fired): the fingerprint notices.
    const second = pki.leaf(host);
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', host, 'combined'), readFileSync(second.combined, 'utf8'));
    expect(await reconcile(ctx())).toMatchObject({ skipped: false, applied: 3 });
    expect(await reconcile(ctx())).toMatchObject({ skipped: true });
    const old = opensslTlsaData(first.cert, 1, 1);
    expect(readFileSync(zoneFile, 'utf8')).toContain(old);

    // Once the retirement falls due (2xTTL = 120 s), the next run removes the old key's records.
    offset = 121_000;
    expect(await reconcile(ctx())).toMatchObject({ skipped: false, applied: 3 });
    expect(readFileSync(zoneFile, 'utf8')).not.toContain(old);
    expect(readFileSync(zoneFile, 'utf8')).toContain(opensslTlsaData(second.cert, 1, 1));
    expect(await reconcile(ctx())).toMatchObject({ skipped: true });
  });

  it('fingerprints the config the run read (--config), not the default path under the root', () => {
    const root = makeFakeRoot({ domains: {}, files: { '/etc/tlsa-manager/config.json': '{}' } });
    const config = join(mkdtempSync(join(tmpdir(), 'tlsa-cfg-')), 'other.json');
    writeFileSync(config, JSON.stringify({ policy: { ttl: 60 } }), { mode: 0o600 });
    const fp = () => inputsFingerprint(createContext({ root, config, logger: createLogger({ level: 'silent' }) }));
    const before = fp();
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ policy: { ttl: 3600 } }));
    expect(fp()).toBe(before);
    writeFileSync(config, JSON.stringify({ policy: { ttl: 120 } }), { mode: 0o600 });
    expect(fp()).not.toBe(before);
  });
});
