import type { IssuerName, KeyType } from './pki.js';

/**
 * What the demo server looks like, as plain data: accounts, their domains, how mail is routed and
 * which certificate each vhost has. `build-root.ts` turns this into files; tests read the manifest.
 */

export const DEMO_HOSTNAME = 'server.demo-host.test';
export const DEMO_HOST_ZONE = 'demo-host.test';
export const DEMO_MAIN_IP = '192.0.2.10';
/** A second local address (listed in /etc/ips) so "points here" is not just "equals mainip". */
export const DEMO_EXTRA_IP = '192.0.2.11';
export const DEMO_NAMESERVERS = [
  { name: `ns1.${DEMO_HOST_ZONE}`, ip: DEMO_MAIN_IP },
  { name: `ns2.${DEMO_HOST_ZONE}`, ip: '198.51.100.53' },
];
export const GOOGLE_MX = [
  { priority: 1, host: 'aspmx.l.google.com' },
  { priority: 5, host: 'alt1.aspmx.l.google.com' },
  { priority: 5, host: 'alt2.aspmx.l.google.com' },
  { priority: 10, host: 'alt3.aspmx.l.google.com' },
  { priority: 10, host: 'alt4.aspmx.l.google.com' },
];

/** Where mail for the domain goes. */
export type MxKind = 'apex' | 'mail' | 'hostname' | 'remote';

export type CertFlavor = 'autossl' | 'expired' | 'expiring' | 'self-signed' | 'wildcard' | 'hostile' | 'no-mail-name';

/**
 * A zone's DNSSEC in the demo world: signed with a matching DS at the parent (validated, AD), not
 * signed, signed but no DS at the parent yet (the registrar step is missing: not validated), or a
 * DS that matches a retired key (bogus: SERVFAIL).
 */
export type ZoneDnssec = 'signed' | 'unsigned' | 'no-ds' | 'bogus';

export type CaseName =
  | 'mx-apex'
  | 'mx-mail-host'
  | 'mx-hostname'
  | 'mx-remote'
  | 'wildcard-cert'
  | 'expired-cert'
  | 'self-signed-cert'
  | 'missing-cert'
  | 'addon-domain'
  | 'parked-domain'
  | 'subdomain'
  | 'zone-not-here'
  | 'existing-tlsa'
  | 'current-tlsa'
  | 'hostile-cert-text'
  | 'rsa-cert'
  | 'ecdsa-cert'
  | 'dedicated-ip'
  | 'expiring-cert'
  | 'stale-tlsa'
  | 'dnssec-unsigned'
  | 'dnssec-no-ds'
  | 'dnssec-bogus';

export interface CertSpec {
  flavor: CertFlavor;
  keyType: KeyType;
  issuer: IssuerName;
}

export interface DomainSpec {
  name: string;
  user: string;
  kind: 'main' | 'addon' | 'parked' | 'sub';
  /** main domain for parked/sub; the account's main domain for addon domains. */
  parent?: string;
  mx: MxKind;
  /** false: the zone lives elsewhere (Cloudflare in the demo story), no /var/named file. */
  zoneHere: boolean;
  ip: string;
  /** null for parked domains (they share the main domain's vhost and certificate). */
  cert: CertSpec | null;
  /** Zone gets `_25._tcp.<mx>` TLSA records: one matching the served key, one stale. */
  existingTlsa?: boolean;
  /** Zone already has a complete, correct set (3 1 1 of the served key at every port), published by hand before TLSA Manager came: valid from the first check. */
  currentTlsa?: boolean;
  /** Zone gets only stale TLSA records (a key that was replaced) at `_{25,465,587}._tcp.<mx>`. */
  staleTlsa?: boolean;
  /** The demo network's view of the zone (default signed); only zones of main/addon/parked domains. */
  dnssec?: ZoneDnssec;
  cases: CaseName[];
}

export interface AccountSpec {
  user: string;
  mainDomain: string;
  ip: string;
}

export interface Scenario {
  accounts: AccountSpec[];
  domains: DomainSpec[];
}

const autossl = (keyType: KeyType = 'rsa', issuer: IssuerName = 'R10'): CertSpec => ({ flavor: 'autossl', keyType, issuer });

/** The hand-written demo: one domain (at least) per interesting case. */
export function defaultScenario(): Scenario {
  const ip = DEMO_MAIN_IP;
  const d = (spec: Omit<DomainSpec, 'zoneHere' | 'ip'> & Partial<Pick<DomainSpec, 'zoneHere' | 'ip'>>): DomainSpec => ({
    zoneHere: true,
    ip,
    ...spec,
  });
  const domains: DomainSpec[] = [
    d({ name: 'alpha-demo.test', user: 'alpha', kind: 'main', mx: 'apex', cert: autossl('rsa', 'R10'), cases: ['mx-apex', 'rsa-cert'] }),
    d({ name: 'addon-demo.test', user: 'alpha', kind: 'addon', parent: 'alpha-demo.test', mx: 'apex', cert: autossl('ecdsa', 'R11'), cases: ['addon-domain', 'ecdsa-cert'] }),
    d({ name: 'parked-demo.test', user: 'alpha', kind: 'parked', parent: 'alpha-demo.test', mx: 'apex', cert: null, cases: ['parked-domain'] }),
    d({ name: 'shop.alpha-demo.test', user: 'alpha', kind: 'sub', parent: 'alpha-demo.test', mx: 'apex', cert: autossl('rsa', 'R11'), cases: ['subdomain'] }),
    d({ name: 'bravo-demo.test', user: 'bravo', kind: 'main', mx: 'mail', ip: DEMO_EXTRA_IP, cert: autossl('ecdsa', 'R11'), staleTlsa: true, cases: ['mx-mail-host', 'ecdsa-cert', 'dedicated-ip', 'stale-tlsa'] }),
    d({ name: 'charlie-demo.test', user: 'charlie', kind: 'main', mx: 'hostname', cert: autossl('rsa', 'R10'), dnssec: 'bogus', cases: ['mx-hostname', 'dnssec-bogus'] }),
    d({ name: 'delta-demo.test', user: 'delta', kind: 'main', mx: 'hostname', cert: autossl('ecdsa', 'R10'), dnssec: 'unsigned', cases: ['mx-hostname', 'dnssec-unsigned'] }),
    d({ name: 'foxtrot-demo.test', user: 'foxtrot', kind: 'main', mx: 'apex', cert: autossl('ecdsa', 'R11'), dnssec: 'no-ds', cases: ['mx-apex', 'dnssec-no-ds'] }),
    d({ name: 'google-demo.test', user: 'golf', kind: 'main', mx: 'remote', cert: autossl('rsa', 'R11'), cases: ['mx-remote'] }),
    d({ name: 'wild-demo.test', user: 'wild', kind: 'main', mx: 'mail', cert: { flavor: 'wildcard', keyType: 'ecdsa', issuer: 'R10' }, currentTlsa: true, cases: ['wildcard-cert', 'current-tlsa'] }),
    d({ name: 'expired-demo.test', user: 'expired', kind: 'main', mx: 'apex', cert: { flavor: 'expired', keyType: 'rsa', issuer: 'R10' }, cases: ['expired-cert'] }),
    d({ name: 'expiring-demo.test', user: 'echo', kind: 'main', mx: 'apex', cert: { flavor: 'expiring', keyType: 'ecdsa', issuer: 'R11' }, cases: ['expiring-cert'] }),
    d({ name: 'selfsigned-demo.test', user: 'selfsig', kind: 'main', mx: 'mail', cert: { flavor: 'self-signed', keyType: 'rsa', issuer: 'R10' }, cases: ['self-signed-cert'] }),
    d({ name: 'missing-demo.test', user: 'missing', kind: 'main', mx: 'mail', cert: { flavor: 'no-mail-name', keyType: 'ecdsa', issuer: 'R11' }, cases: ['missing-cert'] }),
    d({ name: 'cloud-demo.test', user: 'cloud', kind: 'main', mx: 'mail', zoneHere: false, cert: autossl('ecdsa', 'R10'), cases: ['zone-not-here'] }),
    d({ name: 'tlsa-demo.test', user: 'tlsa', kind: 'main', mx: 'mail', cert: autossl('rsa', 'R11'), existingTlsa: true, cases: ['existing-tlsa'] }),
    d({ name: 'xss-demo.test', user: 'xss', kind: 'main', mx: 'apex', cert: { flavor: 'hostile', keyType: 'rsa', issuer: 'R10' }, cases: ['hostile-cert-text'] }),
  ];
  return { accounts: accountsOf(domains), domains };
}

function accountsOf(domains: DomainSpec[]): AccountSpec[] {
  return domains.filter((x) => x.kind === 'main').map((x) => ({ user: x.user, mainDomain: x.name, ip: x.ip }));
}

/** Deterministic PRNG (mulberry32) so `--seed` reproduces the same mix. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * N domains, 10 per account (1 main + 9 addon domains), with a realistic mix of mail routing
 * (70% apex, 15% mail.<domain>, 10% server hostname, 5% remote) and a few wildcard certificates
 * and certificates that do not cover the MX host sprinkled in.
 */
/**
 * `mixed` (the default): 10 domains per account, MX kinds and certificate flavours mixed.
 * `account-cert`: one domain per account, each with its own certificate, its own zone and
 * `MX mail.<domain>` (the shape issue 10 section 7 measures).
 */
export type ScaleShape = 'mixed' | 'account-cert';

export function scaledScenario(count: number, seed = 1, shape: ScaleShape = 'mixed'): Scenario {
  const random = rng(seed);
  const domains: DomainSpec[] = [];
  const perAccount = shape === 'account-cert' ? 1 : 10;
  for (let i = 0; i < count; i++) {
    const acct = Math.floor(i / perAccount);
    const user = `u${String(acct).padStart(5, '0')}`;
    const isMain = i % perAccount === 0;
    const name = `d${String(i).padStart(6, '0')}-demo.test`;
    const r = random();
    const mx: MxKind = shape === 'account-cert' ? 'mail' : r < 0.7 ? 'apex' : r < 0.85 ? 'mail' : r < 0.95 ? 'hostname' : 'remote';
    const c = shape === 'account-cert' ? 1 : random();
    const keyType: KeyType = random() < 0.5 ? 'rsa' : 'ecdsa';
    const issuer: IssuerName = random() < 0.5 ? 'R10' : 'R11';
    const flavor: CertFlavor = c < 0.03 ? 'wildcard' : c < 0.05 ? 'no-mail-name' : 'autossl';
    const cases: CaseName[] = [mxCase[mx]];
    if (flavor === 'wildcard') cases.push('wildcard-cert');
    if (flavor === 'no-mail-name') cases.push('missing-cert');
    if (!isMain) cases.push('addon-domain');
    domains.push({
      name,
      user,
      kind: isMain ? 'main' : 'addon',
      ...(isMain ? {} : { parent: domains[acct * perAccount]!.name }),
      mx,
      zoneHere: true,
      ip: DEMO_MAIN_IP,
      cert: { flavor, keyType, issuer },
      cases,
    });
  }
  return { accounts: accountsOf(domains), domains };
}

const mxCase: Record<MxKind, CaseName> = {
  apex: 'mx-apex',
  mail: 'mx-mail-host',
  hostname: 'mx-hostname',
  remote: 'mx-remote',
};

/** The MX targets of a domain (absolute, no trailing dot) with priorities. */
export function mxRecords(d: DomainSpec): { priority: number; host: string }[] {
  switch (d.mx) {
    case 'apex':
      return [{ priority: 0, host: d.name }];
    case 'mail':
      return [{ priority: 10, host: `mail.${d.name}` }];
    case 'hostname':
      return [{ priority: 0, host: DEMO_HOSTNAME }];
    case 'remote':
      return GOOGLE_MX;
  }
}

/** The zone a domain's records live in (sub domains live in their parent's zone). */
export function zoneOf(d: DomainSpec): string {
  return d.kind === 'sub' ? d.parent! : d.name;
}
