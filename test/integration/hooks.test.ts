import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { cpanelZone, makeFakeRoot } from '../helpers/fake-root.js';
import { makePki, opensslTlsaData, type TestPki } from '../helpers/openssl.js';
import { hookEvent } from '../helpers/cpanel-fixtures.js';

const CLI = join(process.cwd(), 'dist/cli.js');
const ZONE = 'hooked.test';
const HOST = `mail.${ZONE}`;
let pki: TestPki;
let root: string;

function hook(input: string): string {
  return execFileSync(process.execPath, [CLI, 'hook', '--root', root], { input, encoding: 'utf8' }).trim();
}

function tlsaIn(): string[] {
  return readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8').split('\n').filter((l) => /\sTLSA\s/.test(l)).map((l) => l.replace(/\s+/g, ' ')).sort();
}

beforeEach(() => {
  pki ??= makePki();
  const current = pki.leaf(HOST, { sans: [HOST, ZONE] });
  root = makeFakeRoot({
    domains: { [ZONE]: 'hk' },
    local: [ZONE],
    zones: { [ZONE]: cpanelZone(ZONE, [`${ZONE}. IN MX 10 ${HOST}.`, `${HOST}. IN A 192.0.2.10`]) },
    domainTls: { [HOST]: readFileSync(current.combined, 'utf8') },
    files: { '/etc/tlsa-manager/config.json': JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['true'], authoritative: false } }) },
  });
  execFileSync(process.execPath, [CLI, 'apply', '--yes', '--root', root]);
});

describe('tlsa-manager hook', () => {
  it('describes its registrations: never blocking, the installed wrapper as the hook', () => {
    const regs = JSON.parse(execFileSync(process.execPath, [CLI, 'hook', '--describe'], { encoding: 'utf8' })) as { category: string; event: string; stage: string; hook: string; blocking: number }[];
    expect(regs.map((r) => `${r.category} ${r.event} ${r.stage}`)).toEqual([
      'Whostmgr AutoSSL::installssl pre',
      'Whostmgr AutoSSL::installssl post',
      'Whostmgr SSL::installssl pre',
      'Whostmgr SSL::installssl post',
      'Whostmgr SSL::delssl post',
      'Whostmgr SSL::install_service_ssl_certificate post',
      'Cpanel UAPI::SSL::install_ssl post',
      'Cpanel UAPI::SSL::delete_ssl post',
    ]);
    expect(regs.every((r) => r.blocking === 0 && r.hook.endsWith('/bin/tlsa-manager-hook'))).toBe(true);
  });

  it('AutoSSL pre stage publishes the incoming key next to the current one, and never stores the private key', () => {
    const before = tlsaIn();
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    const keyPem = readFileSync(next.key, 'utf8');
    const out = hook(hookEvent('AutoSSL-installssl-pre', { user: 'hk', domain: ZONE, certificatePem: readFileSync(next.cert, 'utf8'), keyPem, cabPem: readFileSync(pki.interCert, 'utf8') }));
    expect(out).toBe(`1 pre-published for ${HOST}: 3 TLSA change(s)`);
    const after = tlsaIn();
    expect(after.filter((l) => !before.includes(l))).toEqual([25, 465, 587].map((p) => `_${p}._tcp.${HOST}. 3600 IN TLSA 3 1 1 ${opensslTlsaData(next.cert, 1, 1)}`).sort());
    expect(before.every((l) => after.includes(l))).toBe(true);
    // The key appears nowhere we write.
    const keyBody = keyPem.split('\n')[1]!;
    for (const dir of ['var/lib/tlsa-manager', 'var/named']) {
      for (const f of readdirSync(join(root, dir))) {
        const p = join(root, dir, f);
        try {
          expect(readFileSync(p, 'latin1')).not.toContain(keyBody);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EISDIR') throw err;
        }
      }
    }
  });

  it('answers 1 with the reason (never 0, never BAILOUT) when publishing fails, and for garbage input', () => {
    // A CNAME at the TLSA owner makes named-checkzone refuse every edit of the zone.
    const file = join(root, 'var/named', `${ZONE}.db`);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^_587\._tcp.*$/gm, '') + `_587._tcp.${HOST}. IN CNAME elsewhere.${ZONE}.\n`);
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    const out = hook(JSON.stringify({ context: { category: 'Whostmgr', event: 'AutoSSL::installssl', stage: 'pre' }, data: { domain_set_name: ZONE, certificate_pem: readFileSync(next.cert, 'utf8'), cab_pem: readFileSync(pki.interCert, 'utf8') } }));
    expect(out).toMatch(/^1 pre-published for mail\.hooked\.test: named-checkzone rejected the edited hooked\.test: .*the periodic reconcile will retry\)$/);
    expect(hook('{not json')).toBe('1 hook input is not JSON');
    expect(hook(JSON.stringify({ context: { category: 'Whostmgr', event: 'Accounts::Create', stage: 'post' }, data: {} }))).toMatch(/^1 .*not an event TLSA Manager handles$/);
    expect(hook(JSON.stringify({ context: { category: 'Whostmgr', event: 'SSL::install_service_ssl_certificate', stage: 'post' }, data: { service: 'dovecot' } }))).toBe('1 service dovecot is not Exim; nothing to do');
  });

  it('the Exim service-certificate post hook (cPanel calls it blocking) answers 1 when its publish fails; the failure is logged', () => {
    // Whostmgr/API/1/SSL.pm install_service_ssl_certificate: a 0 here fails the install and skips restarting Exim.
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['false'], authoritative: false } }));
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', HOST, 'combined'), readFileSync(next.combined, 'utf8'));
    const out = hook(hookEvent('SSL-install_service_ssl_certificate-post', { certificatePem: readFileSync(next.cert, 'utf8'), keyPem: readFileSync(next.key, 'utf8'), cabPem: readFileSync(pki.interCert, 'utf8') }));
    expect(out).toMatch(/^1 reconciled: .*hooked\.test.*\(the periodic reconcile will retry\)$/);
    const db = new Database(join(root, 'var/lib/tlsa-manager/state.db'), { readonly: true });
    const last = db.prepare("SELECT ok, detail FROM activity WHERE kind = 'hook' ORDER BY id DESC LIMIT 1").get() as { ok: number; detail: string };
    db.close();
    expect(last.ok).toBe(0);
    expect(last.detail).toMatch(/^reconciled: .*hooked\.test/);
  });

  it('a customer (UAPI) event whose publish fails tells the customer only about their own domain', () => {
    writeFileSync(join(root, 'etc/tlsa-manager/config.json'), JSON.stringify({ cpanel: { useWhmApi: false, reloadCommand: ['false'], authoritative: false } }));
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', HOST, 'combined'), readFileSync(next.combined, 'utf8'));
    const out = hook(hookEvent('UAPI-SSL-install_ssl-post', { user: 'hk', domain: ZONE, certificatePem: readFileSync(next.cert, 'utf8'), keyPem: readFileSync(next.key, 'utf8') }));
    expect(out).toBe(`1 ${ZONE}: TLSA records could not be updated right now; the server retries within minutes`);
    expect(out).not.toContain('/');
  });

  it('SSL::installssl post after a FAILED install (cPanel fires it anyway): acts on what is installed, never on the event\'s certificate', () => {
    // Whostmgr/API/1/SSL.pm installssl runs the post hook whatever install_or_do_non_sni_update returned.
    const before = readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8');
    const refused = pki.leaf(HOST, { sans: [HOST, ZONE] }); // never installed
    const out = hook(hookEvent('SSL-installssl-post', { domain: ZONE, certificatePem: readFileSync(refused.cert, 'utf8'), keyPem: readFileSync(refused.key, 'utf8'), cabPem: readFileSync(pki.interCert, 'utf8') }));
    expect(out).toBe(`1 reconciled ${ZONE}: 0 TLSA change(s)`);
    expect(readFileSync(join(root, 'var/named', `${ZONE}.db`), 'utf8')).toBe(before);
    expect(before).not.toContain(opensslTlsaData(refused.cert, 1, 1));
  });

  it('post stage after a manual install reconciles only the touched domain', () => {
    const next = pki.leaf(HOST, { sans: [HOST, ZONE] });
    writeFileSync(join(root, 'var/cpanel/ssl/domain_tls', HOST, 'combined'), readFileSync(next.combined, 'utf8'));
    expect(hook(hookEvent('SSL-installssl-post', { domain: HOST, certificatePem: readFileSync(next.cert, 'utf8'), keyPem: readFileSync(next.key, 'utf8') }))).toBe(`1 reconciled ${ZONE}: 3 TLSA change(s)`);
    expect(tlsaIn().filter((l) => l.includes(opensslTlsaData(next.cert, 1, 1)))).toHaveLength(3);
  });
});
