import { linkInRoot, put } from './fs-util.js';
import type { JsonName } from '@peculiar/x509';
import { bulkLeaf, type BulkIssuer } from './bulk-leaf.js';
import { issueLeaf, type DemoCa, type IssuerName, type KeyMaterial, type KeyPool } from './pki.js';
import { DEMO_HOSTNAME, type DomainSpec, type Scenario } from './scenario.js';

/**
 * Installs certificates where cPanel keeps them: `apache_tls/<servername>/` (where installs land)
 * and a copy in `domain_tls/<fqdn>/` for every name the certificate covers (what Exim and Dovecot
 * use for SNI), plus the service certificates with the `/etc/exim.{crt,key}` symlinks.
 * File modes: combined 0640 (cPanel: root:mail 0640; the demo keeps the builder's owner),
 * certificates 0644, service keys 0600.
 */

export interface InstalledCert {
  servername: string;
  flavor: string;
  keyType: string;
  /** Issuer CN, e.g. "Demo R10", or "self-signed". */
  issuer: string;
  names: string[];
  /** Directories written under /var/cpanel/ssl/domain_tls/. */
  domainTls: string[];
  notBefore: string;
  notAfter: string;
  spkiSha256: string;
  combined: string;
}

const HOSTILE_SUBJECT: JsonName = [
  { CN: [`<script>alert('cn')</script>`] },
  { O: ['<script>alert(1)</script>'] },
  { OU: [`"'><img src=x onerror=alert(2)>`] },
];

/** dNSName SANs for a vhost, in the spirit of AutoSSL (www., mail., the proxy subdomains). */
export function certNames(d: DomainSpec, s: Scenario): string[] {
  const flavor = d.cert!.flavor;
  if (flavor === 'wildcard') return [d.name, `*.${d.name}`];
  const bases = [d.name, ...s.domains.filter((p) => p.kind === 'parked' && p.parent === d.name).map((p) => p.name)];
  const names: string[] = [];
  for (const n of bases) {
    names.push(n, `www.${n}`);
    if (flavor !== 'no-mail-name' && d.kind !== 'sub') names.push(`mail.${n}`);
  }
  if (d.kind !== 'sub' && flavor !== 'no-mail-name') names.push(`cpanel.${d.name}`, `webmail.${d.name}`);
  return names;
}

/** How leaves are made: @peculiar/x509 (default) or the DER fast path for big demos. */
export interface LeafMaker {
  ca: DemoCa;
  pool: KeyPool;
  /** Present for `--domains N` builds: fast leaves for the plain (CA-issued, default subject) cases. */
  bulk?: Record<IssuerName, BulkIssuer>;
}

interface Leaf {
  certPem: string;
  issuerPem: string | null;
  notBefore: Date;
  notAfter: Date;
  key: KeyMaterial;
}

async function issueFor(d: DomainSpec, names: string[], maker: LeafMaker): Promise<Leaf> {
  const spec = d.cert!;
  const key = await maker.pool.take(spec.keyType);
  const day = 86_400_000;
  // expired: ran out a month ago; expiring: a 90-day certificate with 9 days left (renewal failing).
  const notBefore = new Date(Date.now() - (spec.flavor === 'expired' ? 120 : spec.flavor === 'expiring' ? 81 : 10) * day);
  const notAfter = new Date(spec.flavor === 'expired' ? Date.now() - 30 * day : notBefore.getTime() + 90 * day);
  if (maker.bulk && spec.flavor !== 'self-signed' && spec.flavor !== 'hostile') {
    const issuer = maker.bulk[spec.issuer];
    const certPem = await bulkLeaf({ names, key, issuer, notBefore, notAfter });
    return { certPem, issuerPem: issuer.pem, notBefore, notAfter, key };
  }
  const issuer = spec.flavor === 'self-signed' ? null : maker.ca.intermediates[spec.issuer];
  const cert = await issueLeaf({
    names,
    key,
    issuer,
    notBefore,
    notAfter,
    ...(spec.flavor === 'hostile' ? { subject: HOSTILE_SUBJECT } : {}),
  });
  return { certPem: cert.pem, issuerPem: issuer ? issuer.pem : null, notBefore, notAfter, key };
}

/**
 * cPanel copies a certificate into domain_tls for every name it covers. Big demos keep only the
 * names mail can ask for (apex, mail., wildcard): the www./cpanel./webmail. copies would double
 * the file count of a 10,000-domain root without changing any mail answer.
 */
function domainTlsNames(names: string[], maker: LeafMaker): string[] {
  if (!maker.bulk) return names;
  return names.filter((n) => !/^(www|cpanel|webmail)\./.test(n));
}

export async function installVhostCert(root: string, d: DomainSpec, s: Scenario, maker: LeafMaker): Promise<InstalledCert> {
  const names = certNames(d, s);
  const leaf = await issueFor(d, names, maker);
  const certificates = leaf.certPem + (leaf.issuerPem ?? '');
  const combined = leaf.key.privatePem + certificates;
  await put(root, `/var/cpanel/ssl/apache_tls/${d.name}/combined`, combined, 0o640);
  await put(root, `/var/cpanel/ssl/apache_tls/${d.name}/certificates`, certificates, 0o644);
  const tlsNames = domainTlsNames(names, maker);
  await Promise.all(
    tlsNames.flatMap((n) => [
      put(root, `/var/cpanel/ssl/domain_tls/${n}/combined`, combined, 0o640),
      put(root, `/var/cpanel/ssl/domain_tls/${n}/certificates`, certificates, 0o644),
    ]),
  );
  return {
    servername: d.name,
    flavor: d.cert!.flavor,
    keyType: d.cert!.keyType,
    issuer: leaf.issuerPem ? `Demo ${d.cert!.issuer}` : 'self-signed',
    names,
    domainTls: tlsNames,
    notBefore: leaf.notBefore.toISOString(),
    notAfter: leaf.notAfter.toISOString(),
    spkiSha256: leaf.key.spkiSha256,
    combined: `/var/cpanel/ssl/domain_tls/${d.name}/combined`,
  };
}

export interface ServiceCert {
  names: string[];
  issuer: string;
  spkiSha256: string;
  notAfter: string;
  crt: string;
  key: string;
}

/** The hostname certificate, used by Exim whenever no domain_tls entry matches the SNI name. */
export async function installServiceCerts(root: string, ca: DemoCa, pool: KeyPool): Promise<ServiceCert> {
  const issuer = ca.intermediates.R10;
  const cert = await issueLeaf({ names: [DEMO_HOSTNAME], key: await pool.take('rsa'), issuer });
  const chain = cert.pem + issuer.pem;
  const keyPem = cert.key.privatePem;
  await put(root, '/var/cpanel/ssl/exim/exim.crt', chain, 0o644);
  await put(root, '/var/cpanel/ssl/exim/exim.key', keyPem, 0o600);
  await put(root, '/var/cpanel/ssl/dovecot/dovecot.crt', chain, 0o644);
  await put(root, '/var/cpanel/ssl/dovecot/dovecot.key', keyPem, 0o600);
  await put(root, '/var/cpanel/ssl/cpanel/cpanel.pem', keyPem + chain, 0o600);
  await linkInRoot(root, '/etc/exim.crt', '/var/cpanel/ssl/exim/exim.crt');
  await linkInRoot(root, '/etc/exim.key', '/var/cpanel/ssl/exim/exim.key');
  return {
    names: [DEMO_HOSTNAME],
    issuer: 'Demo R10',
    spkiSha256: cert.key.spkiSha256,
    notAfter: cert.cert.notAfter.toISOString(),
    crt: '/etc/exim.crt',
    key: '/etc/exim.key',
  };
}
