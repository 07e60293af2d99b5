// End-to-end test lab: throwaway PKI, BIND (signed parent + child zones), unbound (validating
// resolver on port 53), Exim with cPanel's SNI certificate rules, and posttls-finger as the
// DANE oracle. Every instance uses its own 127.X.Y.0/24 block and temp dir. Requires root.
import {
  chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync,
  utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pickAddresses, type LabAddresses } from './addresses.js';
import {
  dig, dsFromKey, generateKey, namedConf, policyBlock, readSerial, renderChildZone, renderParentZone,
  rewriteZoneFile, servedSerial, unboundConf, RECORDS_MARKER, type DigAnswer, type DsKind, type KeyAlgorithm, type ZoneSpec,
} from './dns.js';
import { eximConf, eximUser, labMailbox, startExim, waitForExim } from './exim.js';
import { createPki, type CaCert, type IntermediateRequest, type IssueRequest, type IssuedCert, type IssuerName } from './pki.js';
import { ensurePostfix, runFinger, writePostfixConfig, type FingerOptions, type FingerResult } from './posttls.js';
import { mustRun, run, startDaemon, trackPath, untrackPath, waitUntil, type Daemon } from './proc.js';
import { requireComponents } from '../helpers/components.js';

export type { ZoneSpec, DsKind, DigAnswer, KeyAlgorithm, IntermediateRequest, IssueRequest, IssuedCert, IssuerName, CaCert, FingerOptions, FingerResult, LabAddresses };

export interface LabZoneOption {
  /** A single label ("scenario1") is placed under the parent; a full name must end in the parent. */
  name: string;
  signed: boolean;
  /**
   * DS in the parent (true is ignored for unsigned zones). `'wrong'`: a DS for a key the zone
   * never serves (works for unsigned zones too: a DS for an unsigned child); `'unsupported'`: the
   * zone's own DS with algorithm 253, which validators do not implement (signed zones only).
   */
  ds: boolean | 'wrong' | 'unsupported';
  /**
   * Start unsigned, but let named sign the zone once keys appear in `lab.keysDir` and
   * `rndc loadkeys <zone>` runs (inline-signing + auto-dnssec maintain): for stub signers.
   */
  keysOnDemand?: boolean;
  /**
   * Signed once at start (dnssec-signzone, its own key, DS in the parent when ds is true) with
   * signatures that expired a day ago; named serves it as a plain zone. `signed` must be false.
   */
  expiredSignatures?: boolean;
  /** Extra zone-file lines, e.g. `_25._tcp.mail 60 IN TLSA 3 1 1 <hex>` (relative names are zone-relative). */
  records?: string[];
  /** Zone key algorithm: 'ecdsap256sha256' (default) or 'rsasha256' (2048 bits). */
  keyAlgorithm?: KeyAlgorithm;
  /** Extra statements for the zone's block in named.conf, e.g. `max-journal-size unlimited;`. */
  options?: string[];
  /**
   * Served by another DNS server (PowerDNS, Knot…) the test started, not by named: the parent
   * delegates to it and unbound asks it directly (its stub). The test puts the zone's records
   * there; `signed` and `ds` must be false (publish a DS later with setParentDs).
   */
  authority?: { address: string; port: number };
}

export interface LabOptions {
  /** Parent zone, the trust anchor (default "lab.test"). Must be under "test". */
  parent?: string;
  /** Zones in addition to the defaults good/nods/unsigned.<parent>. */
  zones?: LabZoneOption[];
  /** Set false to get only opts.zones (default true). */
  defaultZones?: boolean;
  /** Fetch posttls-finger during start-up instead of at the first posttlsFinger() call. */
  prefetchPosttlsFinger?: boolean;
  /** TSIG keys named knows (for RFC 2136 updates): a zone's `options` may then say `allow-update { key "<name>"; };`. */
  tsigKeys?: { name: string; algorithm: string; secret: string }[];
}

export interface LabZone {
  name: string;
  signed: boolean;
  /** A DS for the zone is published in the parent (of any kind). */
  ds: boolean;
  /** Which DS the parent was given at start (see LabZoneOption.ds). */
  dsKind: DsKind;
  /** mail.<zone>: the MX target, an A record pointing at Exim. */
  mailHost: string;
}

export interface InstallOptions {
  /** Only connections to this Exim port get the certificate (lab-only `combined.<port>` override). */
  port?: 25 | 465 | 587;
}

export interface Lab {
  /** Lab temp dir (named/, unbound/, exim/, pki/, zones). */
  dir: string;
  parent: string;
  addresses: LabAddresses;
  /** "ip:port" of the BIND authoritative server. */
  authoritative: string;
  /** Validating resolver address (port 53). */
  resolver: string;
  /** Exim address (ports 25, 465, 587). */
  exim: string;
  /** Server hostname (A record to Exim in the parent zone; covered by the default service cert). */
  hostname: string;
  /** Fake cPanel root: var/cpanel/ssl/domain_tls/, etc/exim.{crt,key}, etc/hostname. */
  cpanelRoot: string;
  /** resolv.conf naming the lab resolver (what posttls-finger sees as /etc/resolv.conf). */
  resolvConf: string;
  /** DS record of the parent zone used as unbound's trust anchor. */
  trustAnchor: string;
  zones: LabZone[];
  zone(name: string): LabZone;
  ca: { root: CaCert; intermediates: Record<IssuerName, CaCert> };
  /** Default service certificate (hostname, issued by R1) installed at start. */
  serviceCert: IssuedCert;

  issueCert(req: IssueRequest): Promise<IssuedCert>;
  /** Another intermediate under the lab root, e.g. `{name: 'R12', subject: "/C=US/O=Let's Encrypt/CN=R12"}`. */
  addIntermediate(req: IntermediateRequest): Promise<CaCert>;
  /** A self-signed certificate (subject = issuer, no chain), like cPanel's placeholder. */
  issueSelfSigned(req: { names: string[]; keyType?: 'rsa' | 'ec' }): Promise<IssuedCert>;
  /** Atomically writes domain_tls/<name>/combined (+ certificates) or, with a port, combined.<port>. */
  installCert(name: string, combinedPem: string, opts?: InstallOptions): void;
  removeCert(name: string, opts?: InstallOptions): void;
  /** Replaces the service certificate (certPem may include the chain). */
  setServiceCert(certPem: string, keyPem: string): void;
  /** Restarts Exim and waits until it answers (not needed for domain_tls or service cert changes). */
  reloadExim(): Promise<void>;
  /** mbox file where Exim delivers mail submitted locally for <anyone>@<hostname>. */
  mailbox: string;
  /** argv of the lab Exim's sendmail interface (delivers at once, in the foreground); recipients go after it. */
  sendmailArgv: string[];

  zoneFile(zone: string): string;
  /** argv for product code's reloadCommand: rndc reload <zone> against the lab's named. */
  rndcArgv(zone: string): string[];
  /** rndc reload, then waits until named serves a different SOA serial. */
  reloadZone(zone: string): Promise<void>;
  /** Replaces the zone's extra records, bumps the serial, reloads and waits. */
  setRecords(zone: string, lines: string[]): Promise<void>;
  /** SOA serial named currently serves (signed serial for signed zones). */
  servedSerial(zone: string): Promise<number | undefined>;
  /** Query the validating resolver (`+dnssec`), flags include "ad" for secure answers. */
  dig(name: string, type: string): Promise<DigAnswer>;
  /** Query the authoritative server directly (no recursion). */
  digAuthoritative(name: string, type: string): Promise<DigAnswer>;
  /** Empties unbound's caches (records, keys, negative answers). */
  flushResolver(): Promise<void>;
  /** The lab as registrar: replaces the DS lines the parent publishes for a child zone, reloads, waits. */
  setParentDs(zone: string, dsLines: string[]): Promise<void>;
  /** The DS (SHA-256, dnssec-dsfromkey) of the key named generated for a signed child at start. */
  zoneDs(zone: string): string;
  /** named's key-directory (K<zone>+013+<tag>.key files). */
  keysDir: string;
  /** argv prefix for rndc against the lab's named (append a command and its arguments). */
  rndcBase: string[];

  posttlsFinger(target: string, opts?: FingerOptions): Promise<FingerResult>;
  stop(): Promise<void>;
}

const PARENT_RE = /^([a-z0-9-]+\.)*test$/;

function normalizeZones(parent: string, opts: LabOptions): ZoneSpec[] {
  const defaults: ZoneSpec[] = opts.defaultZones === false ? [] : [
    { name: `good.${parent}`, signed: true, ds: true },
    { name: `nods.${parent}`, signed: true, ds: false },
    { name: `unsigned.${parent}`, signed: false, ds: false },
  ];
  const extra = (opts.zones ?? []).map((z): ZoneSpec => {
    const raw = z.name.toLowerCase().replace(/\.$/, '');
    const name = raw.includes('.') ? raw : `${raw}.${parent}`;
    if (!name.endsWith(`.${parent}`) || !/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(name)) {
      throw new Error(`lab: zone ${JSON.stringify(z.name)} must be a label or a name under ${parent}`);
    }
    if (name.slice(0, -parent.length - 1).includes('.')) {
      throw new Error(`lab: zone ${name} must be a direct child of ${parent} (delegations are one level deep)`);
    }
    if (z.ds === 'unsupported' && !z.signed) throw new Error(`lab: zone ${name}: ds 'unsupported' needs a signed zone`);
    const dsKind: DsKind = z.ds === 'wrong' || z.ds === 'unsupported' ? z.ds : 'own';
    const ds = dsKind !== 'own' || ((z.signed || z.expiredSignatures === true) && z.ds === true);
    if ((z.keysOnDemand || z.expiredSignatures) && z.signed) throw new Error(`lab: zone ${name}: keysOnDemand/expiredSignatures are for zones named does not sign`);
    if (z.authority && (z.signed || z.ds !== false || z.keysOnDemand || z.expiredSignatures || z.records?.length || z.options?.length || z.keyAlgorithm)) {
      throw new Error(`lab: zone ${name}: a zone served elsewhere (authority) takes no signing, DS, records or named options`);
    }
    if (z.expiredSignatures && z.ds === 'unsupported') throw new Error(`lab: zone ${name}: expiredSignatures takes ds true, false or 'wrong'`);
    return { name, signed: z.signed, ds, dsKind, records: z.records ?? [], options: z.options ?? [], ...(z.keyAlgorithm ? { keyAlgorithm: z.keyAlgorithm } : {}), ...(z.keysOnDemand ? { keysOnDemand: true } : {}), ...(z.expiredSignatures ? { expiredSignatures: true } : {}), ...(z.authority ? { authority: z.authority } : {}) };
  });
  const all = [...defaults, ...extra];
  const seen = new Set<string>();
  for (const z of all) {
    if (seen.has(z.name)) throw new Error(`lab: zone ${z.name} given twice`);
    seen.add(z.name);
  }
  return all;
}

function writeAtomic(path: string, data: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

function stripKeys(pem: string): string {
  return pem.replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----\n?/g, '');
}

/** What the lab runs: BIND and its tools, unbound, Exim, OpenSSL, iproute2. */
export const LAB_COMPONENTS = ['named', 'named-checkzone', 'rndc', 'dnssec-keygen', 'dnssec-signzone', 'dig', 'delv', 'unbound', 'exim4', 'openssl', 'ip'];

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  requireComponents('lab', LAB_COMPONENTS);
  if (process.getuid?.() !== 0) throw new Error('lab: must run as root (daemons bind port 53/25 on loopback)');
  const parent = (opts.parent ?? 'lab.test').toLowerCase().replace(/\.$/, '');
  if (!PARENT_RE.test(parent) || parent === 'test') throw new Error(`lab: parent ${parent} must be a name under "test"`);
  const specs = normalizeZones(parent, opts);
  const addrs = await pickAddresses();
  trackPath(addrs.lockPath);
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-lab-'));
  chmodSync(dir, 0o755); // Exim's unprivileged children read certificates below it
  trackPath(dir);
  const daemons: Daemon[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(daemons.map((d) => d.stop()));
    rmSync(dir, { recursive: true, force: true });
    untrackPath(dir);
    rmSync(addrs.lockPath, { force: true });
    untrackPath(addrs.lockPath);
  };
  try {
    return await build();
  } catch (err) {
    await stop();
    throw err;
  }

  async function build(): Promise<Lab> {
    const hostname = `host.${parent}`;
    const namedDir = join(dir, 'named');
    const keysDir = join(namedDir, 'keys');
    const unboundDir = join(dir, 'unbound');
    const eximDir = join(dir, 'exim');
    const cpanelRoot = join(dir, 'cpanel');
    const domainTls = join(cpanelRoot, 'var/cpanel/ssl/domain_tls');
    for (const d of [keysDir, unboundDir, join(eximDir, 'log'), join(eximDir, 'spool'), domainTls, join(cpanelRoot, 'etc')]) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
    }

    // Keys first: the parent's zone file needs the children's DS, unbound needs the parent's.
    const policyConf = join(namedDir, 'policy.conf');
    writeFileSync(policyConf, policyBlock());
    const rndcKey = join(namedDir, 'rndc.key');
    const signedNames = [parent, ...specs.filter((z) => z.signed).map((z) => z.name)];
    const algorithmOf = new Map(specs.map((z) => [z.name, z.keyAlgorithm]));
    const [pki, dsByZone] = await Promise.all([
      createPki(join(dir, 'pki')),
      Promise.all(signedNames.map(async (z) => [z, await dsFromKey(await generateKey(keysDir, policyConf, z, algorithmOf.get(z)))] as const)),
      mustRun(['rndc-confgen', '-a', '-A', 'hmac-sha256', '-k', 'rndc-key', '-c', rndcKey]),
    ]);
    const ds = new Map(dsByZone);
    const trustAnchor = ds.get(parent)!;
    // Spare keys live outside named's key-directory so it never signs with them.
    const spareDir = join(namedDir, 'spare-keys');
    mkdirSync(spareDir, { recursive: true, mode: 0o755 });
    const parentDsLines = new Map<string, string[]>();
    // Pre-signed zones (expired signatures): their own key, outside named's key-directory.
    const presignedDir = join(namedDir, 'presigned-keys');
    mkdirSync(presignedDir, { recursive: true, mode: 0o755 });
    const presignKeys = new Map<string, string>();
    await Promise.all(specs.filter((z) => z.expiredSignatures).map(async (z) => {
      const base = (await mustRun(['dnssec-keygen', '-q', '-K', presignedDir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', z.name])).trim().split('\n').pop()!;
      presignKeys.set(z.name, join(presignedDir, `${base}.key`));
      ds.set(z.name, await dsFromKey(join(presignedDir, `${base}.key`)));
    }));
    await Promise.all(specs.map(async (z) => {
      if (!z.ds) return parentDsLines.set(z.name, []);
      if (z.dsKind === 'wrong') return parentDsLines.set(z.name, [await dsFromKey(await generateKey(spareDir, policyConf, z.name))]);
      const own = ds.get(z.name)!;
      // "<name>. IN DS <tag> <alg> <digest type> <digest>": only the algorithm field changes.
      return parentDsLines.set(z.name, [z.dsKind === 'unsupported' ? own.replace(/(\sDS\s+\d+\s+)\d+/, '$1253') : own]);
    }));

    // Zone files (zones served elsewhere have none: named does not load them).
    const serial = 2024010100;
    const namedSpecs = specs.filter((z) => !z.authority);
    for (const z of namedSpecs) {
      writeFileSync(join(namedDir, `${z.name}.db`), renderChildZone(z.name, parent, addrs.exim, serial, z.records ?? []));
    }
    // Signed once by dnssec-signzone with a validity window that ended yesterday; named serves
    // the file as it is (no inline signing), so validators see expired signatures. -P: no
    // self-check (it would reject the expired signatures); -z: the one key signs everything;
    // -d: its dsset file goes beside the keys, not into the working directory.
    const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    await Promise.all([...presignKeys].map(async ([zone, keyPath]) => {
      const file = join(namedDir, `${zone}.db`);
      writeFileSync(file, `${readFileSync(file, 'utf8')}${readFileSync(keyPath, 'utf8')}`);
      await mustRun(['dnssec-signzone', '-q', '-z', '-P', '-d', presignedDir, '-K', presignedDir, '-o', zone, '-s', stamp(new Date(Date.now() - 10 * 86_400_000)), '-e', stamp(new Date(Date.now() - 86_400_000)), '-f', `${file}.presigned`, file]);
      renameSync(`${file}.presigned`, file);
    }));
    writeFileSync(
      join(namedDir, `${parent}.db`),
      renderParentZone(
        parent, addrs.named, serial,
        specs.map((z) => ({ name: z.name, dsLines: parentDsLines.get(z.name)! })),
        [`${hostname}.\t60\tIN\tA\t${addrs.exim}`],
      ),
    );
    const namedConfPath = join(namedDir, 'named.conf');
    writeFileSync(
      namedConfPath,
      namedConf({ dir: namedDir, addr: addrs.named, port: addrs.namedPort, rndcPort: addrs.rndcPort, rndcKeyFile: rndcKey, zones: [{ name: parent, signed: true }, ...namedSpecs], tsigKeys: opts.tsigKeys ?? [] }),
    );
    await mustRun(['named-checkconf', namedConfPath]);
    // A zone that does not load would only show up as a start-up timeout: name it now.
    await Promise.all([parent, ...namedSpecs.map((z) => z.name)].map(async (z) => {
      const r = await run(['named-checkzone', '-i', 'local', z, join(namedDir, `${z}.db`)]);
      if (r.code !== 0) throw new Error(`lab: zone ${z} does not load: ${(r.stdout + r.stderr).trim()}`);
    }));

    // unbound.
    const rootHints = join(unboundDir, 'root.hints');
    // Root hints point at named, so even a stray iteration stays on loopback.
    writeFileSync(rootHints, `.\t3600000\tIN\tNS\tns.root.invalid.\nns.root.invalid.\t3600000\tIN\tA\t127.0.0.1\n`);
    const unboundConfPath = join(unboundDir, 'unbound.conf');
    writeFileSync(
      unboundConfPath,
      unboundConf({ dir: unboundDir, addr: addrs.resolver, namedAddr: addrs.named, namedPort: addrs.namedPort, zones: [parent, ...namedSpecs.map((z) => z.name)], elsewhere: specs.flatMap((z) => (z.authority ? [{ name: z.name, ...z.authority }] : [])), parent, trustAnchorDs: trustAnchor, rootHints }),
    );
    await mustRun(['unbound-checkconf', unboundConfPath]);

    // Exim + fake cPanel files.
    const serviceCert = await pki.issue({ names: [hostname], issuer: 'R1' });
    const setServiceCert = (certPem: string, keyPem: string): void => {
      const svc = join(cpanelRoot, 'var/cpanel/ssl/exim');
      writeAtomic(join(svc, 'exim.crt'), certPem);
      writeAtomic(join(svc, 'exim.key'), keyPem, 0o640);
      for (const f of ['exim.crt', 'exim.key']) {
        const link = join(cpanelRoot, 'etc', f);
        if (!existsSync(link)) symlinkSync(join(svc, f), link);
      }
    };
    setServiceCert(serviceCert.fullchainPem, serviceCert.keyPem);
    writeFileSync(join(cpanelRoot, 'etc/hostname'), `${hostname}\n`);
    writeFileSync(join(cpanelRoot, 'var/cpanel/mainip'), addrs.exim);
    const eximIds = await eximUser();
    chownSync(join(eximDir, 'spool'), eximIds.uid, eximIds.gid);
    chownSync(join(eximDir, 'log'), eximIds.uid, eximIds.gid);
    mkdirSync(dirname(labMailbox(eximDir)), { recursive: true });
    chownSync(dirname(labMailbox(eximDir)), eximIds.uid, eximIds.gid);
    // The TLS-RPT spool the pipe (as Debian-exim) writes: made as install.sh makes it (root, the
    // pipe's group, 1730; on cPanel root:mail).
    mkdirSync(join(cpanelRoot, 'var/spool/tlsa-manager/tlsrpt'), { recursive: true });
    for (const d of ['', 'var', 'var/spool', 'var/spool/tlsa-manager']) chmodSync(join(cpanelRoot, d), 0o755);
    chownSync(join(cpanelRoot, 'var/spool/tlsa-manager/tlsrpt'), 0, eximIds.gid);
    chmodSync(join(cpanelRoot, 'var/spool/tlsa-manager/tlsrpt'), 0o1730);
    // Exim children run as Debian-exim: give that group read access to the (throwaway) keys.
    const certGid = eximIds.gid;
    const eximConfPath = join(eximDir, 'exim.conf');
    writeFileSync(eximConfPath, eximConf({ dir: eximDir, addr: addrs.exim, cpanelRoot, hostname }), { mode: 0o644 });
    const chk = await run(['exim4', '-C', eximConfPath, '-bV']);
    if (chk.code !== 0) throw new Error(`exim4 rejected the lab config: ${(chk.stdout + chk.stderr).slice(-1500)}`);

    // Start the daemons together; unbound only needs named once it gets queried.
    const named = startDaemon('named', ['named', '-g', '-c', namedConfPath], join(namedDir, 'named.log'), namedDir);
    daemons.push(named);
    const unbound = startDaemon('unbound', ['unbound', '-d', '-c', unboundConfPath], join(unboundDir, 'unbound.log'), unboundDir);
    daemons.push(unbound);
    const startLabExim = (): Daemon => {
      const d = startExim('exim', eximConfPath, eximDir);
      daemons.push(d);
      return d;
    };
    let exim = startLabExim();

    const waitSigned = (zone: string): Promise<void> =>
      waitUntil(`named to serve ${zone} signed`, async () => {
        const a = await dig(addrs.named, zone, 'SOA', ['+norec'], addrs.namedPort);
        return a.status === 'NOERROR' && a.answers.some((l) => /\sRRSIG\s+SOA\s/.test(l));
      }, { daemon: named });
    const waitServed = (zone: string): Promise<void> =>
      waitUntil(`named to serve ${zone}`, async () => (await servedSerial(addrs.named, addrs.namedPort, zone)) !== undefined, { daemon: named });

    await Promise.all([
      ...[parent, ...namedSpecs.map((z) => z.name)].map((z) => (signedNames.includes(z) ? waitSigned(z) : waitServed(z))),
      waitForExim(exim, addrs.exim, eximDir),
    ]);
    await waitUntil(`unbound to validate ${parent} (AD flag)`, async () => {
      const a = await dig(addrs.resolver, parent, 'SOA');
      return a.status === 'NOERROR' && a.flags.includes('ad');
    }, { daemon: unbound });

    // posttls-finger environment.
    const resolvConf = join(dir, 'resolv.conf');
    // trust-ad: glibc strips the AD bit otherwise, and Postfix would see every answer as insecure.
    writeFileSync(resolvConf, `nameserver ${addrs.resolver}\noptions trust-ad edns0 attempts:2 timeout:2\n`);
    const postfixConf = join(dir, 'postfix');
    writePostfixConfig(postfixConf);
    if (opts.prefetchPosttlsFinger) await ensurePostfix();

    const zones: LabZone[] = specs.map((z) => ({ name: z.name, signed: z.signed, ds: z.ds, dsKind: z.dsKind ?? 'own', mailHost: `mail.${z.name}` }));
    const allZones = new Set([parent, ...specs.map((z) => z.name)]);
    const checkZone = (zone: string): string => {
      const z = zone.toLowerCase().replace(/\.$/, '');
      if (!allZones.has(z)) throw new Error(`lab: unknown zone ${zone} (have ${[...allZones].join(', ')})`);
      return z;
    };
    const zoneFile = (zone: string): string => join(namedDir, `${checkZone(zone)}.db`);
    const rndcArgv = (zone: string): string[] => [
      'rndc', '-k', rndcKey, '-s', addrs.named, '-p', String(addrs.rndcPort), 'reload', checkZone(zone),
    ];
    const certDir = (name: string): string => {
      if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(name)) throw new Error(`lab: bad certificate name ${JSON.stringify(name)}`);
      return join(domainTls, name.toLowerCase());
    };

    const reloadZone = async (zone: string): Promise<void> => {
      const z = checkZone(zone);
      const before = await servedSerial(addrs.named, addrs.namedPort, z);
      const r = await run(rndcArgv(z), { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`rndc reload ${z} failed: ${(r.stderr || r.stdout).trim()}`);
      await waitUntil(`named to serve a new SOA serial for ${z} (was ${before}; did the file's serial increase?)`,
        async () => (await servedSerial(addrs.named, addrs.namedPort, z)) !== before, { daemon: named, timeoutMs: 10_000 });
    };

    // One edit at a time per zone: serial bumps must not race.
    const zoneLocks = new Map<string, Promise<unknown>>();
    const setRecords = (zone: string, lines: string[]): Promise<void> => {
      const z = checkZone(zone);
      const job = (zoneLocks.get(z) ?? Promise.resolve()).then(async () => {
        const path = zoneFile(z);
        const served = (await servedSerial(addrs.named, addrs.namedPort, z)) ?? 0;
        const next = Math.max(readSerial(readFileSync(path, 'utf8')), served) + 1;
        rewriteZoneFile(path, lines, next);
        const check = await run(['named-checkzone', '-q', '-i', 'local', z, path]);
        if (check.code !== 0) {
          const why = (await run(['named-checkzone', '-i', 'local', z, path])).stdout.trim();
          throw new Error(`lab.setRecords(${z}): zone does not load: ${why}`);
        }
        await reloadZone(z);
      });
      zoneLocks.set(z, job.catch(() => undefined));
      return job;
    };

    // A HUP makes Exim re-exec itself, and a re-exec'd Exim drops root for a -C config (then
    // cannot bind): restart the daemon instead.
    const reloadExim = async (): Promise<void> => {
      await exim.stop();
      daemons.splice(daemons.indexOf(exim), 1);
      exim = startLabExim();
      await waitForExim(exim, addrs.exim, eximDir, 'exim to answer after restart');
    };

    const lab: Lab = {
      dir,
      parent,
      addresses: addrs,
      authoritative: `${addrs.named}:${addrs.namedPort}`,
      resolver: addrs.resolver,
      exim: addrs.exim,
      mailbox: labMailbox(eximDir),
      sendmailArgv: ['exim4', '-C', eximConfPath, '-odi'],
      hostname,
      cpanelRoot,
      resolvConf,
      trustAnchor,
      zones,
      zone(name) {
        const z = zones.find((x) => x.name === checkZone(name));
        if (!z) throw new Error(`lab: ${name} is the parent zone, not a child zone`);
        return z;
      },
      ca: { root: pki.root, intermediates: pki.intermediates },
      serviceCert,
      issueCert: (req) => pki.issue(req),
      addIntermediate: (req) => pki.addIntermediate(req),
      issueSelfSigned: (req) => pki.issueSelfSigned(req),
      installCert(name, combinedPem, o = {}) {
        const d = certDir(name);
        if (o.port) {
          writeAtomic(join(d, `combined.${o.port}`), combinedPem, 0o640);
          chownSync(join(d, `combined.${o.port}`), 0, certGid);
          return;
        }
        writeAtomic(join(d, 'certificates'), stripKeys(combinedPem));
        writeAtomic(join(d, 'combined'), combinedPem, 0o640);
        chownSync(join(d, 'combined'), 0, certGid);
      },
      removeCert(name, o = {}) {
        const d = certDir(name);
        if (o.port) {
          rmSync(join(d, `combined.${o.port}`), { force: true });
          return;
        }
        rmSync(d, { recursive: true, force: true });
      },
      setServiceCert(certPem, keyPem) {
        setServiceCert(certPem, keyPem);
        chownSync(join(cpanelRoot, 'var/cpanel/ssl/exim/exim.key'), 0, certGid);
      },
      reloadExim,
      zoneFile,
      rndcArgv,
      reloadZone,
      setRecords,
      servedSerial: (zone) => servedSerial(addrs.named, addrs.namedPort, checkZone(zone)),
      dig: (name, type) => dig(addrs.resolver, name, type),
      digAuthoritative: (name, type) => dig(addrs.named, name, type, ['+norec'], addrs.namedPort),
      async flushResolver() {
        for (const cmd of [['flush_zone', '.'], ['flush_negative'], ['flush_bogus']]) {
          await mustRun(['unbound-control', '-c', unboundConfPath, ...cmd], { timeoutMs: 10_000 });
        }
      },
      async setParentDs(zone, dsLines) {
        const z = checkZone(zone);
        if (z === parent) throw new Error('lab.setParentDs: give a child zone');
        parentDsLines.set(z, dsLines);
        const path = zoneFile(parent);
        const old = readFileSync(path, 'utf8');
        const at = old.indexOf(RECORDS_MARKER);
        const records = old.slice(at + RECORDS_MARKER.length).split('\n').filter((l) => l.trim() !== '');
        const served = (await servedSerial(addrs.named, addrs.namedPort, parent)) ?? 0;
        const next = Math.max(readSerial(old), served) + 1;
        const text = renderParentZone(parent, addrs.named, next, specs.map((c) => ({ name: c.name, dsLines: parentDsLines.get(c.name)! })), records);
        writeAtomic(path, text);
        const t = Date.now() / 1000 + 2;
        utimesSync(path, t, t);
        await reloadZone(parent);
      },
      zoneDs(zone) {
        const d = ds.get(checkZone(zone));
        if (!d) throw new Error(`lab.zoneDs: ${zone} is not signed`);
        return d;
      },
      keysDir,
      rndcBase: ['rndc', '-k', rndcKey, '-s', addrs.named, '-p', String(addrs.rndcPort)],
      async posttlsFinger(target, o = {}) {
        const postfixDir = await ensurePostfix();
        return runFinger({ postfixDir, confDir: postfixConf, resolvConf, target, opts: o });
      },
      stop,
    };
    chownSync(join(cpanelRoot, 'var/cpanel/ssl/exim/exim.key'), 0, certGid);
    return lab;
  }
}
