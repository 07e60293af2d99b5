// Authoritative servers that take RFC 2136 updates signed with TSIG, for the rfc2136 provider's
// tests: a BIND (`allow-update { key …; }`, optionally with inline signing) and a Knot DNS
// (acl action update), each on 127.0.0.1 and a port of a lab address block (addresses.ts locks
// it), with its own config and directory, stopped by its process group. Zone transfers are open
// to 127.0.0.1 so a test reads the whole zone with `dig AXFR` as the judge.
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickAddresses } from './addresses.js';
import { dig, policyBlock, policyFor } from './dns.js';
import { mustRun, startDaemon, trackPath, untrackPath, waitUntil, type Daemon } from './proc.js';
import { requireComponents } from '../helpers/components.js';

export interface TsigSpec {
  name: string;
  algorithm: 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha384' | 'hmac-sha224' | 'hmac-sha1';
  /** base64 */
  secret: string;
}

export interface UpdateZone {
  name: string;
  /** Zone-file lines after SOA and NS (relative names are zone-relative). */
  records: string[];
  /**
   * Served signed by the server itself: BIND dnssec-policy + inline-signing (the served serial
   * runs ahead of the raw one); Knot `dnssec-signing: on` (default policy, ECDSA P-256).
   */
  inlineSigned?: boolean;
  /** false: no update ACL for this zone (updates are REFUSED). */
  updatable?: boolean;
  /** Knot only, with updatable false: an acl still names the key (for transfers), so it is known for the zone. */
  keyKnown?: boolean;
}

export interface UpdateServer {
  kind: 'bind' | 'knot';
  /** `127.0.0.1:<port>` */
  server: string;
  host: string;
  port: number;
  key: TsigSpec;
  dir: string;
  daemon: Daemon;
  /** The zone as `dig AXFR` prints it (one RR a line, `+onesoa`), for byte-for-byte comparisons. */
  axfr(zone: string): string[];
  /** The served SOA serial. */
  serial(zone: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export function newKey(name = 'tlsa-manager', algorithm: TsigSpec['algorithm'] = 'hmac-sha256'): TsigSpec {
  return { name, algorithm, secret: randomBytes(32).toString('base64') };
}

export const SERIAL = 2024010100;

export function zoneText(zone: string, records: string[]): string {
  return [
    `$TTL 300`,
    `${zone}.\t300\tIN\tSOA\tns.${zone}.\thostmaster.${zone}. ${SERIAL} 3600 1800 1209600 300`,
    `${zone}.\t300\tIN\tNS\tns.${zone}.`,
    `ns.${zone}.\t300\tIN\tA\t127.0.0.1`,
    ...records,
    '',
  ].join('\n');
}

function axfr(host: string, port: number, zone: string): string[] {
  const out = execFileSync('dig', [`@${host}`, '-p', String(port), '+tcp', '+onesoa', '+nocmd', '+nostats', '+nocomments', '+noquestion', '+time=2', '+tries=1', zone, 'AXFR'], { encoding: 'utf8', timeout: 10_000 });
  const lines = out.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
  if (!lines.some((l) => /\sSOA\s/.test(l))) throw new Error(`AXFR of ${zone} from ${host}#${port} failed: ${out.slice(-500)}`);
  return lines;
}

async function prepare(what: string): Promise<{ dir: string; host: string; port: number; release(): void }> {
  const addrs = await pickAddresses();
  trackPath(addrs.lockPath);
  const dir = mkdtempSync(join(tmpdir(), `tlsa-${what}-`));
  chmodSync(dir, 0o755);
  trackPath(dir);
  return {
    dir,
    host: addrs.named,
    port: addrs.namedPort,
    release() {
      rmSync(dir, { recursive: true, force: true });
      untrackPath(dir);
      rmSync(addrs.lockPath, { force: true });
      untrackPath(addrs.lockPath);
    },
  };
}

async function finish(kind: 'bind' | 'knot', p: Awaited<ReturnType<typeof prepare>>, key: TsigSpec, daemon: Daemon, zones: UpdateZone[]): Promise<UpdateServer> {
  const serial = async (zone: string): Promise<number | undefined> => {
    const a = await dig(p.host, zone, 'SOA', ['+norec', '+tcp'], p.port);
    const soa = a.answers.find((l) => /\sSOA\s/.test(l));
    return soa ? Number(soa.split(/\s+/)[6]) : undefined;
  };
  const stop = async (): Promise<void> => {
    await daemon.stop();
    p.release();
  };
  try {
    await Promise.all(zones.map((z) => waitUntil(`${kind} to serve ${z.name}${z.inlineSigned ? ' signed' : ''}`, async () => {
      const a = await dig(p.host, z.name, 'SOA', ['+norec'], p.port);
      return a.status === 'NOERROR' && (!z.inlineSigned || a.answers.some((l) => /\sRRSIG\s+SOA\s/.test(l)));
    }, { daemon })));
  } catch (err) {
    await stop();
    throw err;
  }
  return { kind, server: `${p.host}:${p.port}`, host: p.host, port: p.port, key, dir: p.dir, daemon, axfr: (zone) => axfr(p.host, p.port, zone), serial, stop };
}

/** BIND with the key, each zone updatable with it (allow-update), started with `named -g`. */
export async function startBindUpdate(o: { key: TsigSpec; zones: UpdateZone[]; extraKeys?: TsigSpec[] }): Promise<UpdateServer> {
  requireComponents('rfc2136 BIND', ['named', 'named-checkconf', 'dig']);
  const p = await prepare('bind-update');
  try {
    const keysDir = join(p.dir, 'keys');
    mkdirSync(keysDir);
    const keyStmt = (k: TsigSpec) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`;
    for (const z of o.zones) writeFileSync(join(p.dir, `${z.name}.db`), zoneText(z.name, z.records));
    const conf = join(p.dir, 'named.conf');
    writeFileSync(conf, `// TLSA Manager tests: BIND taking RFC 2136 updates
${[o.key, ...(o.extraKeys ?? [])].map(keyStmt).join('\n')}
options {
  directory "${p.dir}";
  pid-file "${join(p.dir, 'named.pid')}";
  session-keyfile "${join(p.dir, 'session.key')}";
  managed-keys-directory "${p.dir}";
  key-directory "${keysDir}";
  listen-on port ${p.port} { ${p.host}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { 127.0.0.1; };
};
${policyBlock()}
${o.zones.map((z) => `zone "${z.name}" {
  type primary;
  file "${join(p.dir, `${z.name}.db`)}";
  ${z.updatable === false ? '' : `allow-update { key "${o.key.name}"; };`}
  ${z.inlineSigned ? `dnssec-policy "${policyFor()}";\n  inline-signing yes;` : ''}
};`).join('\n')}
`);
    await mustRun(['named-checkconf', conf]);
    const daemon = startDaemon('named-update', ['named', '-g', '-c', conf], join(p.dir, 'named.log'), p.dir);
    return await finish('bind', p, o.key, daemon, o.zones);
  } catch (err) {
    p.release();
    throw err;
  }
}

/** Knot DNS (knotd in the foreground) with the key allowed to update each zone (acl action update). */
export async function startKnot(o: { key: TsigSpec; zones: UpdateZone[] }): Promise<UpdateServer> {
  requireComponents('rfc2136 Knot', ['knotd', 'dig']);
  const p = await prepare('knot');
  try {
    const zonesDir = join(p.dir, 'zones');
    mkdirSync(zonesDir);
    // knotd does not create its database directory, and without it every update fails (SERVFAIL).
    mkdirSync(join(p.dir, 'db'));
    for (const z of o.zones) {
      writeFileSync(join(zonesDir, `${z.name}.zone`), zoneText(z.name, z.records));
    }
    const conf = join(p.dir, 'knot.conf');
    writeFileSync(conf, `# TLSA Manager tests: Knot DNS taking RFC 2136 updates
server:
    rundir: "${p.dir}"
    pidfile: "${join(p.dir, 'knot.pid')}"
    listen: ${p.host}@${p.port}
database:
    storage: "${join(p.dir, 'db')}"
control:
    listen: "${join(p.dir, 'knot.sock')}"
log:
  - target: stderr
    any: info
key:
  - id: ${o.key.name}
    algorithm: ${o.key.algorithm}
    secret: ${o.key.secret}
acl:
  - id: update
    key: ${o.key.name}
    action: update
  - id: transfer
    address: 127.0.0.1
    action: transfer
  - id: keyed-transfer
    key: ${o.key.name}
    action: transfer
template:
  - id: default
    storage: "${zonesDir}"
    file: "%s.zone"
    semantic-checks: on
zone:
${o.zones.map((z) => `  - domain: ${z.name}\n    acl: [${z.updatable === false ? (z.keyKnown ? 'keyed-transfer, ' : '') : 'update, '}transfer]${z.inlineSigned ? '\n    dnssec-signing: on' : ''}`).join('\n')}
`);
    await mustRun(['knotc', '-c', conf, 'conf-check']);
    const daemon = startDaemon('knotd', ['knotd', '-c', conf], join(p.dir, 'knotd.log'), p.dir);
    return await finish('knot', p, o.key, daemon, o.zones);
  } catch (err) {
    p.release();
    throw err;
  }
}
