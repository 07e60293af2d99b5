import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildDemoRoot, type DemoDomain, type DemoManifest } from '../../demo/build-root.js';
import { DemoError } from '../../demo/util.js';

// Expectations about certificates and zones are computed with openssl and named-checkzone,
// never with the builder's own code.

let root: string;
let m: DemoManifest;
let work: string;

const p = (cpanelPath: string) => join(root, cpanelPath);
const read = (cpanelPath: string) => readFileSync(p(cpanelPath), 'utf8');

function openssl(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function pemBlocks(text: string): { label: string; pem: string }[] {
  return [...text.matchAll(/-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n/g)].map((x) => ({ label: x[1]!, pem: x[0] }));
}

/** Leaf, chain files for one domain_tls entry, written to the scratch dir for openssl. */
function splitCertificates(name: string): { leaf: string; chain: string | null; blocks: number } {
  const certs = pemBlocks(read(`/var/cpanel/ssl/domain_tls/${name}/certificates`));
  const base = join(work, name.replace(/\*/g, '_star_'));
  writeFileSync(`${base}.leaf.pem`, certs[0]!.pem);
  if (certs.length > 1) writeFileSync(`${base}.chain.pem`, certs.slice(1).map((c) => c.pem).join(''));
  return { leaf: `${base}.leaf.pem`, chain: certs.length > 1 ? `${base}.chain.pem` : null, blocks: certs.length };
}

function sans(leafFile: string): string[] {
  const out = openssl(['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName']).out;
  return [...out.matchAll(/DNS:([^,\s]+)/g)].map((x) => x[1]!).sort();
}

function domain(name: string): DemoDomain {
  const d = m.domains.find((x) => x.name === name);
  if (!d) throw new Error(`manifest has no ${name}`);
  return d;
}

const one = (c: keyof DemoManifest['cases']) => m.cases[c]![0]!;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'demo-root-work-'));
  root = join(mkdtempSync(join(tmpdir(), 'demo-root-')), 'root');
  m = await buildDemoRoot(root);
});

afterAll(() => {
  rmSync(join(root, '..'), { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('accounts, domains and server files', () => {
  it('writes the manifest next to the root and covers every promised case', () => {
    const onDisk = JSON.parse(readFileSync(join(root, 'demo-manifest.json'), 'utf8'));
    expect(onDisk.domains.length).toBe(m.domains.length);
    for (const c of [
      'mx-apex', 'mx-mail-host', 'mx-hostname', 'mx-remote', 'wildcard-cert', 'expired-cert', 'self-signed-cert', 'missing-cert',
      'addon-domain', 'parked-domain', 'subdomain', 'zone-not-here', 'existing-tlsa', 'current-tlsa', 'hostile-cert-text', 'rsa-cert', 'ecdsa-cert',
    ] as const) {
      expect(m.cases[c]?.length, c).toBeGreaterThan(0);
    }
    expect(m.cases['mx-hostname']!.length).toBeGreaterThanOrEqual(2);
  });

  it('writes /etc/userdomains, localdomains, remotedomains and trueuserdomains', () => {
    const ud = read('/etc/userdomains').trim().split('\n');
    expect(ud.at(-1)).toBe('*: nobody');
    expect(ud).toContain('alpha-demo.test: alpha');
    expect(ud).toContain('addon-demo.test: alpha');
    expect(ud).toContain('shop.alpha-demo.test: alpha');
    const local = read('/etc/localdomains').trim().split('\n');
    const remote = read('/etc/remotedomains').trim().split('\n');
    expect(remote).toEqual([one('mx-remote')]);
    expect(local).not.toContain(one('mx-remote'));
    expect(local).toContain('alpha-demo.test');
    expect(read('/etc/trueuserdomains')).toMatch(/^alpha-demo\.test: alpha$/m);
    expect(read('/etc/trueuserdomains')).not.toMatch(/addon-demo/);
  });

  it('writes hostname, mainip without newline, /etc/ips and cpanel.config', () => {
    expect(read('/etc/hostname')).toBe('server.demo-host.test\n');
    expect(read('/var/cpanel/mainip')).toBe('192.0.2.10');
    expect(read('/etc/ips')).toMatch(/^192\.0\.2\.11:255\.255\.255\.0:192\.0\.2\.255$/m);
    expect(read('/var/cpanel/cpanel.config')).toMatch(/^local_nameserver_type=bind$/m);
  });

  it('writes /var/cpanel/users and userdata main in cPanel form', () => {
    const users = read('/var/cpanel/users/alpha');
    expect(users).toMatch(/^DNS=alpha-demo\.test$/m);
    expect(users).toMatch(/^DNS1=addon-demo\.test$/m);
    expect(users).toMatch(/^DNS2=parked-demo\.test$/m);
    expect(users).toMatch(/^USER=alpha$/m);
    expect(users).toMatch(/^CONTACTEMAIL=\S+@alpha-demo\.test$/m);
    const main = parseYaml(read('/var/cpanel/userdata/alpha/main'));
    expect(main.main_domain).toBe('alpha-demo.test');
    expect(main.addon_domains).toEqual({ 'addon-demo.test': 'addondemo.alpha-demo.test' });
    expect(main.parked_domains).toEqual(['parked-demo.test']);
    expect(main.sub_domains).toContain('shop.alpha-demo.test');
    expect(parseYaml(read('/var/cpanel/userdata/bravo/main')).addon_domains).toEqual({});
  });
});

describe('certificates', () => {
  const caFile = () => p(m.ca.root);

  it('every CA-issued, unexpired domain_tls certificate verifies against the demo root', () => {
    let checked = 0;
    for (const name of readdirSync(p('/var/cpanel/ssl/domain_tls'))) {
      const d = m.domains.find((x) => x.cert?.domainTls.includes(name));
      if (!d || d.cert!.flavor === 'expired' || d.cert!.flavor === 'self-signed') continue;
      const { leaf, chain } = splitCertificates(name);
      expect(chain, name).not.toBeNull();
      const r = openssl(['verify', '-CAfile', caFile(), '-untrusted', chain!, leaf]);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('the service certificate (/etc/exim.crt, a relative symlink) verifies and covers the hostname', () => {
    const link = p('/etc/exim.crt');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link).startsWith('/')).toBe(false);
    expect(realpathSync(link)).toBe(realpathSync(p('/var/cpanel/ssl/exim/exim.crt')));
    expect(realpathSync(p('/etc/exim.key'))).toBe(realpathSync(p('/var/cpanel/ssl/exim/exim.key')));
    const certs = pemBlocks(readFileSync(link, 'utf8'));
    writeFileSync(join(work, 'exim.leaf'), certs[0]!.pem);
    writeFileSync(join(work, 'exim.chain'), certs.slice(1).map((c) => c.pem).join(''));
    expect(openssl(['verify', '-CAfile', caFile(), '-untrusted', join(work, 'exim.chain'), join(work, 'exim.leaf')]).code).toBe(0);
    expect(sans(join(work, 'exim.leaf'))).toEqual(['server.demo-host.test']);
    const keyPub = openssl(['pkey', '-in', p('/etc/exim.key'), '-pubout']).out;
    expect(openssl(['x509', '-in', join(work, 'exim.leaf'), '-noout', '-pubkey']).out).toBe(keyPub);
  });

  it('combined = private key + leaf + chain, mode 0640, and the key belongs to the leaf', () => {
    const name = one('mx-apex');
    const combinedPath = p(`/var/cpanel/ssl/domain_tls/${name}/combined`);
    expect(statSync(combinedPath).mode & 0o777).toBe(0o640);
    const blocks = pemBlocks(readFileSync(combinedPath, 'utf8'));
    expect(blocks.map((b) => b.label)).toEqual(['PRIVATE KEY', 'CERTIFICATE', 'CERTIFICATE']);
    writeFileSync(join(work, 'k.pem'), blocks[0]!.pem);
    writeFileSync(join(work, 'l.pem'), blocks[1]!.pem);
    const fromKey = openssl(['pkey', '-in', join(work, 'k.pem'), '-pubout']).out;
    expect(fromKey).toContain('BEGIN PUBLIC KEY');
    expect(openssl(['x509', '-in', join(work, 'l.pem'), '-noout', '-pubkey']).out).toBe(fromKey);
    // `certificates` is the same minus the key.
    expect(read(`/var/cpanel/ssl/domain_tls/${name}/certificates`)).toBe(blocks.slice(1).map((b) => b.pem).join(''));
    expect(read(`/var/cpanel/ssl/domain_tls/${name}/certificates`)).not.toContain('PRIVATE KEY');
    expect(existsSync(p(`/var/cpanel/ssl/apache_tls/${name}/combined`))).toBe(true);
  });

  it('AutoSSL-like SANs: apex, www., mail., cpanel. and parked domains on the main vhost', () => {
    const { leaf } = splitCertificates('alpha-demo.test');
    const names = sans(leaf);
    for (const n of ['alpha-demo.test', 'www.alpha-demo.test', 'mail.alpha-demo.test', 'cpanel.alpha-demo.test', 'parked-demo.test', 'mail.parked-demo.test']) {
      expect(names).toContain(n);
    }
    // The parked domain has its own domain_tls entry holding the main vhost's certificate.
    expect(read('/var/cpanel/ssl/domain_tls/parked-demo.test/certificates')).toBe(read('/var/cpanel/ssl/domain_tls/alpha-demo.test/certificates'));
  });

  it('two intermediates: Demo R10 and Demo R11 both issue leaves', () => {
    const issuers = new Set<string>();
    for (const d of m.domains) {
      if (!d.cert || d.cert.flavor === 'self-signed') continue;
      const { leaf } = splitCertificates(d.cert.servername);
      issuers.add(openssl(['x509', '-in', leaf, '-noout', '-issuer']).out.match(/CN\s*=\s*([^,\n]+)/)![1]!.trim());
    }
    expect([...issuers].sort()).toEqual(['Demo R10', 'Demo R11']);
  });

  it('RSA 2048 and ECDSA P-256 leaves', () => {
    const rsa = openssl(['x509', '-in', splitCertificates(one('rsa-cert')).leaf, '-noout', '-text']).out;
    expect(rsa).toMatch(/Public-Key: \(2048 bit\)/);
    expect(rsa).toContain('rsaEncryption');
    const ec = openssl(['x509', '-in', splitCertificates(one('ecdsa-cert')).leaf, '-noout', '-text']).out;
    expect(ec).toContain('id-ecPublicKey');
    expect(ec).toMatch(/prime256v1|P-256/);
  });

  it('wildcard certificate lives at domain_tls/*.<domain> and covers the MX host', () => {
    const name = one('wildcard-cert');
    expect(existsSync(p(`/var/cpanel/ssl/domain_tls/*.${name}/combined`))).toBe(true);
    expect(existsSync(p(`/var/cpanel/ssl/domain_tls/mail.${name}`))).toBe(false);
    expect(sans(splitCertificates(`*.${name}`).leaf)).toContain(`*.${name}`);
    expect(domain(name).mx[0]).toMatchObject({ host: `mail.${name}`, here: true, servedBy: { kind: 'wildcard' } });
  });

  it('the expired certificate is expired (openssl -checkend 0) but chains correctly', () => {
    const { leaf, chain } = splitCertificates(one('expired-cert'));
    expect(openssl(['x509', '-in', leaf, '-noout', '-checkend', '0']).code).toBe(1);
    expect(openssl(['verify', '-CAfile', caFile(), '-untrusted', chain!, leaf]).code).not.toBe(0);
    expect(openssl(['verify', '-no_check_time', '-CAfile', caFile(), '-untrusted', chain!, leaf]).code).toBe(0);
    // The others are valid now.
    expect(openssl(['x509', '-in', splitCertificates(one('mx-apex')).leaf, '-noout', '-checkend', '86400']).code).toBe(0);
  });

  it('the self-signed certificate has no chain and is its own issuer', () => {
    const { leaf, chain, blocks } = splitCertificates(one('self-signed-cert'));
    expect(chain).toBeNull();
    expect(blocks).toBe(1);
    expect(openssl(['verify', '-CAfile', caFile(), leaf]).code).not.toBe(0);
    const subj = openssl(['x509', '-in', leaf, '-noout', '-subject']).out.replace(/^subject=/, '');
    const iss = openssl(['x509', '-in', leaf, '-noout', '-issuer']).out.replace(/^issuer=/, '');
    expect(subj).toBe(iss);
  });

  it('the missing-certificate case: MX host served here without a domain_tls entry', () => {
    const name = one('missing-cert');
    const mx = domain(name).mx[0]!;
    expect(mx.here).toBe(true);
    expect(existsSync(p(`/var/cpanel/ssl/domain_tls/${mx.host}`))).toBe(false);
    expect(existsSync(p(`/var/cpanel/ssl/domain_tls/*.${name}`))).toBe(false);
    expect(sans(splitCertificates(name).leaf)).not.toContain(mx.host);
    expect(mx.servedBy).toEqual({ kind: 'service', path: '/etc/exim.crt' });
  });

  it('hostile subject text is in O/OU/CN while SAN dNSNames stay valid names', () => {
    const { leaf } = splitCertificates(one('hostile-cert-text'));
    const subject = openssl(['x509', '-in', leaf, '-noout', '-subject', '-nameopt', 'multiline']).out;
    expect(subject).toContain('<script>alert(1)</script>');
    expect(subject).toContain('onerror=alert(2)');
    expect(subject).toContain(`alert('cn')`);
    for (const n of sans(leaf)) expect(n).toMatch(/^[a-z0-9.-]+$/);
  });
});

describe('zones', () => {
  it('every zone file passes named-checkzone', () => {
    const files = readdirSync(p('/var/named')).filter((f) => f.endsWith('.db'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const zone = f.slice(0, -3);
      // -i local: no lookups of out-of-zone names (the network is loopback only).
      const r = spawnSync('named-checkzone', ['-i', 'local', '-k', 'fail', '-n', 'fail', zone, p(`/var/named/${f}`)], { encoding: 'utf8' });
      expect(r.status, `${zone}: ${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  function canonical(zone: string): string[] {
    return execFileSync('named-checkzone', ['-i', 'local', '-D', '-o', '-', zone, p(`/var/named/${zone}.db`)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.replace(/\s+/g, ' ').trim());
  }

  it('cPanel layout: header comment, $TTL 14400, multi-line SOA with ;Serial Number', () => {
    const text = read('/var/named/alpha-demo.test.db');
    expect(text.split('\n')[0]).toMatch(/^; cPanel /);
    expect(text).toMatch(/^\$TTL 14400$/m);
    expect(text).toMatch(/SOA\t\S+\t\S+\t\($/m);
    expect(text).toMatch(/^\s+\d{10}\s+;Serial Number$/m);
  });

  it('MX layouts: apex with mail CNAME, mail.<domain> with its own A, server hostname, Google', () => {
    const apex = canonical(one('mx-apex'));
    expect(apex).toContain('alpha-demo.test. 14400 IN MX 0 alpha-demo.test.');
    expect(apex).toContain('mail.alpha-demo.test. 14400 IN CNAME alpha-demo.test.');
    const mail = canonical(one('mx-mail-host'));
    expect(mail).toContain('bravo-demo.test. 14400 IN MX 10 mail.bravo-demo.test.');
    expect(mail).toContain('mail.bravo-demo.test. 14400 IN A 192.0.2.11');
    for (const name of m.cases['mx-hostname']!) expect(canonical(name)).toContain(`${name}. 14400 IN MX 0 server.demo-host.test.`);
    expect(canonical('demo-host.test')).toContain('server.demo-host.test. 14400 IN A 192.0.2.10');
    expect(canonical(one('mx-remote'))).toContain('google-demo.test. 14400 IN MX 1 aspmx.l.google.com.');
    expect(domain(one('mx-remote')).mx.every((x) => !x.here)).toBe(true);
  });

  it('sub domains live in their parent zone; a zone-not-here domain has no zone file', () => {
    expect(canonical('alpha-demo.test')).toContain('shop.alpha-demo.test. 14400 IN MX 0 shop.alpha-demo.test.');
    expect(existsSync(p('/var/named/shop.alpha-demo.test.db'))).toBe(false);
    const cloud = one('zone-not-here');
    expect(existsSync(p(`/var/named/${cloud}.db`))).toBe(false);
    expect(domain(cloud).zoneFile).toBeNull();
    expect(m.externalZones[cloud]!.some((r) => r.type === 'MX')).toBe(true);
  });

  it('existing TLSA records: one matches the served key (per openssl), one is stale', () => {
    const name = one('existing-tlsa');
    const d = domain(name);
    const host = d.mx[0]!.host;
    const { leaf } = splitCertificates(host);
    const spki = execFileSync('sh', ['-c', `openssl x509 -in '${leaf}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r`], { encoding: 'utf8' }).split(' ')[0]!;
    // named-checkzone prints long hex in space-separated chunks: join them back.
    const tlsa = canonical(name)
      .filter((l) => l.includes(' TLSA '))
      .map((l) => l.replace(/^(\S+ \d+ IN TLSA \d \d \d) (.*)$/, (_, head: string, hex: string) => `${head} ${hex.replace(/ /g, '')}`));
    expect(tlsa).toHaveLength(2);
    expect(tlsa).toContain(`_25._tcp.${host}. 3600 IN TLSA 3 1 1 ${spki.toUpperCase()}`);
    const [entry] = m.existingTlsa;
    expect(entry!.correct).toBe(spki);
    expect(tlsa).toContain(`_25._tcp.${host}. 3600 IN TLSA 3 1 1 ${entry!.stale.toUpperCase()}`);
    expect(entry!.stale).not.toBe(spki);
  });
});

describe('stubs are installed', () => {
  it('as executables under usr/local/cpanel/bin and usr/bin/systemctl', () => {
    for (const exe of ['whmapi1', 'register_appconfig', 'unregister_appconfig', 'is_registered_with_appconfig', 'manage_hooks']) {
      const path = p(`/usr/local/cpanel/bin/${exe}`);
      expect(statSync(path).mode & 0o777, exe).toBe(0o755);
      expect(readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    }
    expect(m.stubs.systemctl).toBe('/usr/bin/systemctl');
    expect(statSync(p('/usr/bin/systemctl')).mode & 0o111).toBe(0o111);
  });
});

describe('safety and scale', () => {
  it('refuses to build into a non-empty directory that is not a demo root, even with force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'not-demo-'));
    mkdirSync(join(dir, 'keep'));
    writeFileSync(join(dir, 'keep', 'file'), 'precious');
    await expect(buildDemoRoot(dir, { force: true })).rejects.toThrow(DemoError);
    await expect(buildDemoRoot(dir, { force: true })).rejects.toMatchObject({ code: 'demo-root-exists' });
    expect(readFileSync(join(dir, 'keep', 'file'), 'utf8')).toBe('precious');
    rmSync(dir, { recursive: true, force: true });
  });

  it('force replaces a half-built demo root (marker written first, no manifest yet)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'half-demo-'));
    writeFileSync(join(dir, '.tlsa-manager-demo-root'), '');
    writeFileSync(join(dir, 'leftover'), 'x');
    await expect(buildDemoRoot(dir)).rejects.toMatchObject({ code: 'demo-root-exists' });
    const rebuilt = await buildDemoRoot(dir, { force: true });
    expect(existsSync(join(dir, 'leftover'))).toBe(false);
    expect(existsSync(join(dir, 'demo-manifest.json'))).toBe(true);
    expect(rebuilt.domains.length).toBeGreaterThan(10);
    rmSync(dir, { recursive: true, force: true });
  });

  it('--domains 1000 builds 1000 domains over 100 accounts with the promised mix', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'demo-big-')), 'root');
    const big = await buildDemoRoot(dir, { domains: 1000, seed: 7 });
    expect(big.domains).toHaveLength(1000);
    expect(big.accounts).toHaveLength(100);
    expect(readdirSync(join(dir, 'var/named')).filter((f) => f.endsWith('.db'))).toHaveLength(1001);
    expect(readdirSync(join(dir, 'var/cpanel/users'))).toHaveLength(100);
    const ud = readFileSync(join(dir, 'etc/userdomains'), 'utf8').trim().split('\n');
    expect(ud.filter((l) => l.endsWith(': nobody'))).toHaveLength(1);
    expect(readFileSync(join(dir, 'etc/remotedomains'), 'utf8').trim().split('\n').length).toBe(big.cases['mx-remote']!.length);
    const count = (c: keyof DemoManifest['cases']) => big.cases[c]?.length ?? 0;
    expect(count('mx-apex')).toBeGreaterThan(600);
    expect(count('mx-mail-host')).toBeGreaterThan(80);
    expect(count('mx-hostname')).toBeGreaterThan(50);
    expect(count('mx-remote')).toBeGreaterThan(15);
    expect(count('wildcard-cert')).toBeGreaterThan(5);
    // Every domain has its own certificate (distinct serials) even though keys come from a pool.
    const apache = readdirSync(join(dir, 'var/cpanel/ssl/apache_tls'));
    expect(apache).toHaveLength(1000);
    const serials = new Set(
      apache.slice(0, 40).map((n) => execFileSync('openssl', ['x509', '-in', join(dir, 'var/cpanel/ssl/apache_tls', n, 'certificates'), '-noout', '-serial'], { encoding: 'utf8' })),
    );
    expect(serials.size).toBe(40);
    // Big demos use the DER fast path for leaves: check a sample with openssl like the small demo.
    const rootCa = join(dir, 'demo-ca/root.pem');
    for (const name of apache.filter((_, i) => i % 50 === 0)) {
      const blocks = pemBlocks(readFileSync(join(dir, 'var/cpanel/ssl/apache_tls', name, 'combined'), 'utf8'));
      expect(blocks.map((b) => b.label)).toEqual(['PRIVATE KEY', 'CERTIFICATE', 'CERTIFICATE']);
      const [key, leaf, chain] = blocks.map((b, i) => {
        const f = join(work, `big-${name}-${i}.pem`);
        writeFileSync(f, b.pem);
        return f;
      });
      const v = openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', rootCa, '-untrusted', chain!, leaf!]);
      expect(v.code, `${name}: ${v.out}`).toBe(0);
      expect(sans(leaf!)).toContain(name);
      expect(openssl(['x509', '-in', leaf!, '-noout', '-pubkey']).out).toBe(openssl(['pkey', '-in', key!, '-pubout']).out);
      const text = openssl(['x509', '-in', leaf!, '-noout', '-text']).out;
      expect(text).toMatch(/TLS Web Server Authentication/);
      expect(text).toMatch(/CA:FALSE/);
    }
    const wild = big.cases['wildcard-cert']![0]!;
    expect(existsSync(join(dir, `var/cpanel/ssl/domain_tls/*.${wild}/combined`))).toBe(true);
    // A second build over the same demo root needs --force.
    await expect(buildDemoRoot(dir, { domains: 10 })).rejects.toMatchObject({ code: 'demo-root-exists' });
    rmSync(join(dir, '..'), { recursive: true, force: true });
    // ~15 s on an idle 2-core machine; minutes when the machine is shared (a size check, not a timing one).
  }, 300_000);
});
