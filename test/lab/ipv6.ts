// An IPv6 mail server for the lab: a second Exim with the lab's configuration, listening on a
// ULA address inside a network namespace this helper creates (parallel lab workers cannot share
// ::1). Layout:
//
//   host netns                               netns tlsa6-<id>
//   <veth>-h  fe80::1/64  ── veth ──  <veth>-n  fe80::2/64
//   route <ula>/128 via fe80::2                lo: <ula>/128  (Exim on 25, 465, 587)
//                                              default via fe80::1
//
// The ULA address (random fdXX:XXXX:XXXX:XXXX::3) exists only inside the namespace; the host
// namespace gets nothing but a route over the veth pair, so probes from the test process (our
// check, posttls-finger) reach it without any address on a shared interface. Stopping deletes
// the namespace, which takes the veth pair and the route with it.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eximConf, eximUser, startExim, waitForExim } from './exim.js';
import type { Lab } from './lab.js';
import { ensurePostfix, runFinger, writePostfixConfig, type FingerOptions, type FingerResult } from './posttls.js';
import { mustRun, type Daemon } from './proc.js';

export interface Ipv6Exim {
  /** The ULA address Exim listens on (inside the namespace). */
  address: string;
  netns: string;
  /** This Exim's own fake cPanel root: the certificates it presents. */
  cpanelRoot: string;
  /** domain_tls/<name>/combined for this listener only. */
  installCert(name: string, combinedPem: string): void;
  /** posttls-finger with IPv4 and IPv6 enabled; `family` picks which one it exhausts first. */
  posttlsFinger(target: string, opts?: FingerOptions): Promise<FingerResult>;
  stop(): Promise<void>;
}

const live = new Set<string>();
let hooked = false;
function deleteNamespaceSync(ns: string): void {
  spawnSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  live.delete(ns);
}
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const ns of [...live]) deleteNamespaceSync(ns);
  });
}

function randomUla(): string {
  // fd + 40 random bits (RFC 4193 global ID) + a random subnet; never the host's own fd00::/64.
  const b = randomBytes(7);
  b[0] = b[0]! | 0x01;
  const hex = b.toString('hex');
  // Canonical text form (RFC 5952: no leading zeros in a group), as resolvers and our client print it.
  const group = (h: string) => parseInt(h, 16).toString(16);
  return `fd${hex.slice(0, 2)}:${group(hex.slice(2, 6))}:${group(hex.slice(6, 10))}:${group(hex.slice(10, 14))}::3`;
}

export async function startIpv6Exim(lab: Lab): Promise<Ipv6Exim> {
  if (process.getuid?.() !== 0) throw new Error('ipv6 lab: must run as root (network namespaces)');
  hookExit();
  const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`.slice(-8);
  const ns = `tlsa6-${id}`;
  const vethHost = `t6${id}h`;
  const vethNs = `t6${id}n`;
  const address = randomUla();
  const dir = join(lab.dir, `ipv6-${id}`);
  const cpanelRoot = join(dir, 'cpanel');
  const domainTls = join(cpanelRoot, 'var/cpanel/ssl/domain_tls');
  for (const d of [join(dir, 'log'), join(dir, 'spool'), domainTls, join(cpanelRoot, 'etc')]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const { uid: eximUid, gid: eximGid } = await eximUser();
  for (const d of ['log', 'spool']) chownSync(join(dir, d), eximUid, eximGid);
  const writeKeyFile = (path: string, pem: string): void => {
    writeFileSync(path, pem, { mode: 0o640 });
    chownSync(path, 0, eximGid);
  };
  // The service certificate (no SNI match) is the lab's.
  writeFileSync(join(cpanelRoot, 'etc/exim.crt'), lab.serviceCert.fullchainPem);
  writeKeyFile(join(cpanelRoot, 'etc/exim.key'), lab.serviceCert.keyPem);

  let exim: Daemon | undefined;
  live.add(ns);
  const stop = async (): Promise<void> => {
    await exim?.stop();
    deleteNamespaceSync(ns);
  };
  try {
    await mustRun(['ip', 'netns', 'add', ns]);
    await mustRun(['ip', 'link', 'add', vethHost, 'type', 'veth', 'peer', 'name', vethNs, 'netns', ns]);
    await mustRun(['ip', 'link', 'set', vethHost, 'up']);
    await mustRun(['ip', '-6', 'addr', 'add', 'fe80::1/64', 'dev', vethHost, 'nodad']);
    await mustRun(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await mustRun(['ip', '-n', ns, 'link', 'set', vethNs, 'up']);
    await mustRun(['ip', '-n', ns, '-6', 'addr', 'add', 'fe80::2/64', 'dev', vethNs, 'nodad']);
    await mustRun(['ip', '-n', ns, '-6', 'addr', 'add', `${address}/128`, 'dev', 'lo']);
    await mustRun(['ip', '-n', ns, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', vethNs]);
    await mustRun(['ip', '-6', 'route', 'add', `${address}/128`, 'via', 'fe80::2', 'dev', vethHost]);

    const conf = join(dir, 'exim.conf');
    // "<; " switches Exim's list separator so the colons of the IPv6 address survive.
    writeFileSync(conf, eximConf({ dir, addr: `<; ${address}`, cpanelRoot, hostname: lab.hostname }), { mode: 0o644 });
    exim = startExim('exim (IPv6 namespace)', conf, dir, ['ip', 'netns', 'exec', ns]);
    await waitForExim(exim, address, dir);
  } catch (err) {
    await stop();
    throw err;
  }

  const fingerConf = join(dir, 'postfix');
  writePostfixConfig(fingerConf, { inetProtocols: 'all' });
  return {
    address,
    netns: ns,
    cpanelRoot,
    installCert(name, combinedPem) {
      if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/i.test(name)) throw new Error(`ipv6 lab: bad certificate name ${JSON.stringify(name)}`);
      const d = join(domainTls, name.toLowerCase());
      mkdirSync(d, { recursive: true, mode: 0o755 });
      writeKeyFile(join(d, 'combined'), combinedPem);
    },
    async posttlsFinger(target, opts = {}) {
      return runFinger({ postfixDir: await ensurePostfix(), confDir: fingerConf, resolvConf: lab.resolvConf, target, opts });
    },
    stop,
  };
}
