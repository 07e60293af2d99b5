import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FakeRootSpec {
  hostname?: string;
  mainIp?: string;
  /** domain → owner */
  domains: Record<string, string>;
  local?: string[];
  remote?: string[];
  /** zone name → zone file text */
  zones?: Record<string, string>;
  /** name under domain_tls (may be `*.example.test`) → combined PEM */
  domainTls?: Record<string, string>;
  /** service certificate (cert + chain) for /etc/exim.crt */
  eximCrt?: string;
  files?: Record<string, string>;
}

/** A small cPanel-shaped root for precise tests (the demo builder makes big realistic ones). */
export function makeFakeRoot(spec: FakeRootSpec): string {
  const root = mkdtempSync(join(tmpdir(), 'tlsa-fakeroot-'));
  const put = (p: string, content: string) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
  };
  put('/etc/hostname', `${spec.hostname ?? 'server.host.test'}\n`);
  put('/var/cpanel/mainip', spec.mainIp ?? '192.0.2.10');
  put('/etc/userdomains', Object.entries(spec.domains).map(([d, u]) => `${d}: ${u}\n`).join('') + '*: nobody\n');
  put('/etc/localdomains', (spec.local ?? []).join('\n'));
  put('/etc/remotedomains', (spec.remote ?? []).join('\n'));
  mkdirSync(join(root, 'var/named'), { recursive: true });
  for (const [zone, text] of Object.entries(spec.zones ?? {})) put(`/var/named/${zone}.db`, text);
  for (const [name, pem] of Object.entries(spec.domainTls ?? {})) put(`/var/cpanel/ssl/domain_tls/${name}/combined`, pem);
  if (spec.eximCrt) {
    put('/var/cpanel/ssl/exim/exim.crt', spec.eximCrt);
    symlinkSync('../var/cpanel/ssl/exim/exim.crt', join(root, 'etc/exim.crt'));
  }
  for (const [p, content] of Object.entries(spec.files ?? {})) put(p, content);
  return root;
}

/** A cPanel-style zone file with the given extra records. */
export function cpanelZone(zone: string, records: string[], serial = 2024010101): string {
  return [
    '; cPanel first:11.120.0.9 (update_time):1700000000 Cpanel::ZoneFile::VERSION:1.3 hostname:server.host.test latest:11.120.0.9',
    `; Zone file for ${zone}`,
    '$TTL 14400',
    `${zone}.\t86400\tIN\tSOA\tns1.host.test.\tadmin.host.test.\t(`,
    `\t\t\t\t\t\t${serial}\t;Serial Number`,
    '\t\t\t\t\t\t3600\t;refresh',
    '\t\t\t\t\t\t1800\t;retry',
    '\t\t\t\t\t\t1209600\t;expire',
    '\t\t\t\t\t\t86400\t)\t;minimum',
    `${zone}.\t86400\tIN\tNS\tns1.host.test.`,
    ...records,
    '',
  ].join('\n');
}
