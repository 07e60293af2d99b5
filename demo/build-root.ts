import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { addonSubdomain, writeAccounts, writeDomainLists, writeServerFiles } from './accounts-writer.js';
import { forgetDirs, put } from './fs-util.js';
import { DemoError, mapLimit } from './util.js';
import { createDemoCa, KeyPool } from './pki.js';
import {
  DEMO_EXTRA_IP,
  DEMO_HOSTNAME,
  DEMO_HOST_ZONE,
  DEMO_MAIN_IP,
  defaultScenario,
  mxRecords,
  scaledScenario,
  zoneOf,
  type CaseName,
  type DomainSpec,
  type Scenario,
  type ScaleShape,
  type ZoneDnssec,
} from './scenario.js';
import { installStubs } from './stubs-install.js';
import { bulkIssuer } from './bulk-leaf.js';
import { installServiceCerts, installVhostCert, type InstalledCert, type LeafMaker, type ServiceCert } from './tls-writer.js';
import { dateSerial, renderHostZone, renderZone, type ExtraRecord } from './zone-writer.js';
import { writeWhmChrome } from './whm-chrome.js';

/**
 * Builds a cPanel-shaped filesystem root for the demo and the integration tests, and a manifest
 * saying which domain illustrates which case. Layouts follow reference/cpanel.md.
 */

export interface DemoMxHost {
  priority: number;
  host: string;
  /** The MX host's address is one of this server's (mainip or /etc/ips). */
  here: boolean;
  /**
   * Which certificate Exim would present for this name by cPanel's SNI rule, as the demo was
   * built: a domain_tls entry, a wildcard entry, or the service certificate (/etc/exim.crt).
   * null when the host is not served here.
   */
  servedBy: { kind: 'domain_tls' | 'wildcard' | 'service'; path: string } | null;
}

export interface DemoDomain {
  name: string;
  user: string;
  kind: DomainSpec['kind'];
  zone: string;
  /** /var/named/<zone>.db, or null when the zone lives elsewhere. */
  zoneFile: string | null;
  ip: string;
  mx: DemoMxHost[];
  mailRouting: 'local' | 'remote';
  /** What the demo network's resolver says about the domain's zone (demo/network.ts). */
  dnssec: ZoneDnssec;
  /** The vhost certificate (parked domains: their main domain's). */
  cert: InstalledCert | null;
  cases: CaseName[];
}

export interface DemoManifest {
  version: 1;
  generatedAt: string;
  hostname: string;
  mainIp: string;
  extraIps: string[];
  /** /etc/exim.crt and /etc/exim.key are relative symlinks (see fs-util linkInRoot). */
  symlinks: 'relative';
  ca: { root: string; intermediates: { R10: string; R11: string } };
  serviceCert: ServiceCert;
  accounts: { user: string; mainDomain: string; domains: string[] }[];
  domains: DemoDomain[];
  /** Case -> domains that illustrate it. */
  cases: Partial<Record<CaseName, string[]>>;
  /** TLSA records already in zones: `correct` matches the served key, `stale` matches nothing. */
  existingTlsa: { zone: string; owner: string; correct: string; stale: string }[];
  /** Records of zones not hosted here (Cloudflare-managed in the demo story), for fake providers. */
  externalZones: Record<string, { name: string; type: string; ttl: number; content: string; priority?: number }[]>;
  /** Stub executable name -> path in the root; every call appends a line to `callLog`. */
  stubs: Record<string, string>;
  callLog: string;
}

export interface BuildOptions {
  /** Build N generated domains instead of the hand-written demo. */
  domains?: number;
  seed?: number;
  /** With `domains`: the generated shape (see scaledScenario). */
  shape?: ScaleShape;
  /** Replace an existing demo root (only one that has a demo-manifest.json, or an empty dir). */
  force?: boolean;
}

/** Written at the start of a build: marks DIR as a demo root that --force may replace. */
const DEMO_MARKER = '.tlsa-manager-demo-root';

async function prepareDir(dir: string, force: boolean): Promise<void> {
  if (!existsSync(dir)) {
    await mkdir(dir, { recursive: true });
    return;
  }
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  // The marker is written first, so a build that failed half-way can still be replaced with force.
  const isDemo = entries.includes('demo-manifest.json') || entries.includes(DEMO_MARKER);
  if (!force || !isDemo) {
    throw new DemoError(
      'demo-root-exists',
      `${dir} is not empty${isDemo ? ' (it holds an earlier demo root)' : ' and is not a demo root'}.`,
      isDemo ? 'Pass --force to rebuild it, or choose another directory.' : 'Choose an empty or new directory; --force only replaces an earlier demo root.',
    );
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

function localIps(): Set<string> {
  return new Set([DEMO_MAIN_IP, DEMO_EXTRA_IP]);
}

/** What Exim would serve for `host` given the domain_tls names written (cPanel's SNI rule). */
function servedBy(host: string, tlsNames: Set<string>): DemoMxHost['servedBy'] {
  if (tlsNames.has(host)) return { kind: 'domain_tls', path: `/var/cpanel/ssl/domain_tls/${host}/combined` };
  const parent = host.split('.').slice(1).join('.');
  if (tlsNames.has(`*.${parent}`)) return { kind: 'wildcard', path: `/var/cpanel/ssl/domain_tls/*.${parent}/combined` };
  return { kind: 'service', path: '/etc/exim.crt' };
}

function mxHosts(d: DomainSpec, byName: Map<string, DomainSpec>, tlsNames: Set<string>): DemoMxHost[] {
  return mxRecords(d).map(({ priority, host }) => {
    const target = host === DEMO_HOSTNAME ? DEMO_MAIN_IP : (byName.get(host) ?? byName.get(host.replace(/^mail\./, '')))?.ip;
    const here = target !== undefined && d.mx !== 'remote' && localIps().has(target);
    return { priority, host, here, servedBy: here ? servedBy(host, tlsNames) : null };
  });
}

function mxOwner(d: DomainSpec): string {
  const host = mxRecords(d)[0]!.host;
  return host.slice(0, -(zoneOf(d).length + 1)) || '@';
}

async function writeZones(root: string, s: Scenario, certs: Map<string, InstalledCert>, now: Date): Promise<DemoManifest['existingTlsa']> {
  const serial = dateSerial(now);
  // Any real RSA public key will do as the DKIM key; DKIM is not what the demo is about.
  const dkimKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const zones = new Map<string, DomainSpec[]>();
  for (const d of s.domains) {
    if (!d.zoneHere) continue;
    const list = zones.get(zoneOf(d)) ?? [];
    if (d.kind === 'sub') list.push(d);
    else list.unshift(d);
    zones.set(zoneOf(d), list);
  }
  const existing: DemoManifest['existingTlsa'] = [];
  await put(root, `/var/named/${DEMO_HOST_ZONE}.db`, renderHostZone(serial, now), 0o644);
  await mapLimit([...zones], 32, async ([zone, domains]) => {
    const extra: ExtraRecord[] = [];
    // cPanel gives every addon domain a sub domain of the account's main domain, with an address.
    for (const a of s.domains) {
      if (a.kind !== 'addon' || a.parent !== zone) continue;
      const label = addonSubdomain(a).slice(0, -(zone.length + 1));
      extra.push({ owner: label, ttl: 14400, type: 'A', data: a.ip }, { owner: `www.${label}`, ttl: 14400, type: 'CNAME', data: `${addonSubdomain(a)}.` });
    }
    // A 3 1 1 record of `spkiSha256` at each mail port of the domain's MX host.
    const pinEveryPort = (d: DomainSpec, spkiSha256: string) => {
      for (const port of [25, 465, 587]) extra.push({ owner: `_${port}._tcp.${mxOwner(d)}`, ttl: 3600, type: 'TLSA', data: `3 1 1 ${spkiSha256}` });
    };
    for (const d of domains) {
      // The key these pinned was replaced without the hook: nothing served matches them.
      if (d.staleTlsa) pinEveryPort(d, randomBytes(32).toString('hex'));
      if (d.currentTlsa) pinEveryPort(d, certs.get(d.name)!.spkiSha256);
      if (!d.existingTlsa) continue;
      const cert = certs.get(d.name)!;
      const owner = `_25._tcp.${mxOwner(d)}`;
      const stale = randomBytes(32).toString('hex');
      extra.push({ owner, ttl: 3600, type: 'TLSA', data: `3 1 1 ${cert.spkiSha256}` }, { owner, ttl: 3600, type: 'TLSA', data: `3 1 1 ${stale}` });
      existing.push({ zone, owner: `_25._tcp.${mxRecords(d)[0]!.host}`, correct: cert.spkiSha256, stale });
    }
    await put(root, `/var/named/${zone}.db`, renderZone({ zone, domains, extra, serial, now, dkimKey }), 0o644);
  });
  return existing;
}

/** Sub domains live in their parent's zone and share its DNSSEC state. */
function zoneDnssec(d: DomainSpec, byName: Map<string, DomainSpec>): ZoneDnssec {
  const apex = d.kind === 'sub' ? byName.get(d.parent!) : d;
  return apex?.dnssec ?? 'signed';
}

function externalZones(s: Scenario): DemoManifest['externalZones'] {
  const out: DemoManifest['externalZones'] = {};
  for (const d of s.domains) {
    if (d.zoneHere) continue;
    out[d.name] = [
      { name: d.name, type: 'A', ttl: 300, content: d.ip },
      { name: `www.${d.name}`, type: 'CNAME', ttl: 300, content: d.name },
      ...mxRecords(d).map((m) => ({ name: d.name, type: 'MX', ttl: 300, content: m.host, priority: m.priority })),
      ...(d.mx === 'mail' ? [{ name: `mail.${d.name}`, type: 'A', ttl: 300, content: d.ip }] : []),
    ];
  }
  return out;
}

export async function buildDemoRoot(dir: string, opts: BuildOptions = {}): Promise<DemoManifest> {
  const root = resolve(dir);
  forgetDirs(root);
  await prepareDir(root, opts.force ?? false);
  await writeFile(resolve(root, DEMO_MARKER), 'This directory is a TLSA Manager demo root (see demo-manifest.json).\n');
  const now = new Date();
  const scenario = opts.domains === undefined ? defaultScenario() : scaledScenario(opts.domains, opts.seed ?? 1, opts.shape);
  // Fresh keys for the small demo; a pool for big ones (key generation dominates otherwise).
  const pool = new KeyPool(opts.domains === undefined ? 0 : 8);

  const ca = await createDemoCa();
  await put(root, '/demo-ca/root.pem', ca.root.pem);
  await put(root, '/demo-ca/demo-r10.pem', ca.intermediates.R10.pem);
  await put(root, '/demo-ca/demo-r11.pem', ca.intermediates.R11.pem);

  await writeServerFiles(root);
  await writeDomainLists(root, scenario);
  await writeAccounts(root, scenario, now);
  const serviceCert = await installServiceCerts(root, ca, pool);

  const certs = new Map<string, InstalledCert>();
  const withCert = scenario.domains.filter((d) => d.cert);
  const maker: LeafMaker = { ca, pool, ...(opts.domains === undefined ? {} : { bulk: { R10: bulkIssuer(ca.intermediates.R10), R11: bulkIssuer(ca.intermediates.R11) } }) };
  await mapLimit(withCert, 16, async (d) => {
    certs.set(d.name, await installVhostCert(root, d, scenario, maker));
  });
  const tlsNames = new Set([...certs.values()].flatMap((c) => c.domainTls));
  const existingTlsa = await writeZones(root, scenario, certs, now);
  const stubs = await installStubs(root);
  await writeWhmChrome(root);
  await mkdir(resolve(root, 'var/log'), { recursive: true });

  const byName = new Map(scenario.domains.map((d) => [d.name, d]));
  const domains: DemoDomain[] = scenario.domains.map((d) => ({
    name: d.name,
    user: d.user,
    kind: d.kind,
    zone: zoneOf(d),
    zoneFile: d.zoneHere ? `/var/named/${zoneOf(d)}.db` : null,
    ip: d.ip,
    mx: mxHosts(d, byName, tlsNames),
    mailRouting: d.mx === 'remote' ? 'remote' : 'local',
    dnssec: zoneDnssec(d, byName),
    cert: certs.get(d.kind === 'parked' ? d.parent! : d.name) ?? null,
    cases: d.cases,
  }));
  const cases: DemoManifest['cases'] = {};
  for (const d of scenario.domains) for (const c of d.cases) (cases[c] ??= []).push(d.name);

  const manifest: DemoManifest = {
    version: 1,
    generatedAt: now.toISOString(),
    hostname: DEMO_HOSTNAME,
    mainIp: DEMO_MAIN_IP,
    extraIps: [DEMO_EXTRA_IP],
    symlinks: 'relative',
    ca: { root: '/demo-ca/root.pem', intermediates: { R10: '/demo-ca/demo-r10.pem', R11: '/demo-ca/demo-r11.pem' } },
    serviceCert,
    accounts: scenario.accounts.map((a) => ({
      user: a.user,
      mainDomain: a.mainDomain,
      domains: scenario.domains.filter((d) => d.user === a.user).flatMap((d) => (d.kind === 'addon' ? [d.name, addonSubdomain(d)] : [d.name])),
    })),
    domains,
    cases,
    existingTlsa,
    externalZones: externalZones(scenario),
    stubs,
    callLog: '/var/log/stub-calls.jsonl',
  };
  await writeFile(resolve(root, 'demo-manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
