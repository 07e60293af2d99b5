// BIND (authoritative, signed with dnssec-policy + inline-signing) and unbound (validating
// resolver) configuration for the lab, plus the zone-file format the lab writes and edits.
import { readFileSync, writeFileSync, renameSync, utimesSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, mustRun } from './proc.js';

export interface ZoneSpec {
  /** Fully qualified (no trailing dot); must be a child of the parent zone. */
  name: string;
  /** Signed by named (dnssec-policy, inline-signing). */
  signed: boolean;
  /** Publish a DS for it in the parent (only meaningful when signed). */
  ds: boolean;
  /** Which DS the parent gets when ds is true: the zone's own key (default) or a broken one. */
  dsKind?: DsKind;
  /** Unsigned at start, signed by named as soon as keys are added to the key-directory (rndc loadkeys). */
  keysOnDemand?: boolean;
  /** Pre-signed with signatures that have expired (served as a plain zone). */
  expiredSignatures?: boolean;
  /** Extra zone-file lines (the part setRecords() replaces). */
  records?: string[];
  /** Zone key algorithm (default ECDSA P-256, algorithm 13). */
  keyAlgorithm?: KeyAlgorithm;
  /** Extra statements for the zone's block in named.conf. */
  options?: string[];
  /** Served by another server (not named): unbound's stub for it points there. */
  authority?: { address: string; port: number };
}

/** DNSSEC zone key algorithms a lab zone can be signed with (RSA-2048 for answer-size tests). */
export type KeyAlgorithm = 'ecdsap256sha256' | 'rsasha256';
/**
 * `own`: the DS of the zone's key. `wrong`: the DS of a spare key the zone never serves (for an
 * unsigned zone: a DS for an unsigned child). `unsupported`: the zone's own DS with its algorithm
 * field set to 253 (private), which no validator implements (RFC 4035 §5.2: treated as insecure).
 */
export type DsKind = 'own' | 'wrong' | 'unsupported';

export const POLICY = 'lab';
const POLICIES: Record<KeyAlgorithm, { name: string; algorithm: string }> = {
  ecdsap256sha256: { name: POLICY, algorithm: 'ecdsap256sha256' },
  rsasha256: { name: `${POLICY}-rsa`, algorithm: 'rsasha256 2048' },
};

/** The dnssec-policy that signs a zone with this algorithm. */
export function policyFor(alg: KeyAlgorithm = 'ecdsap256sha256'): string {
  return POLICIES[alg].name;
}
export const RECORDS_MARKER = '; ---- lab records: everything below this line is replaced by lab.setRecords() ----';
const TTL = 60;

/** SOA with the serial on its own line, in the multi-line style cPanel writes. */
function soaLines(zone: string, parent: string, serial: number): string[] {
  return [
    `$TTL ${TTL}`,
    `${zone}.\t${TTL}\tIN\tSOA\tns.${parent}.\thostmaster.${zone}. (`,
    `\t\t${serial} ;Serial Number`,
    `\t\t3600 ;refresh`,
    `\t\t1800 ;retry`,
    `\t\t1209600 ;expire`,
    `\t\t${TTL} ;minimum`,
    `\t)`,
  ];
}

export function renderChildZone(zone: string, parent: string, eximAddr: string, serial: number, records: string[]): string {
  return [
    `; Zone ${zone} (TLSA Manager test lab; plain unsigned source like /var/named/<zone>.db)`,
    ...soaLines(zone, parent, serial),
    `${zone}.\t${TTL}\tIN\tNS\tns.${parent}.`,
    `mail.${zone}.\t${TTL}\tIN\tA\t${eximAddr}`,
    `${zone}.\t${TTL}\tIN\tMX\t10 mail.${zone}.`,
    RECORDS_MARKER,
    ...records,
    '',
  ].join('\n');
}

export function renderParentZone(
  parent: string,
  namedAddr: string,
  serial: number,
  children: { name: string; dsLines: string[] }[],
  records: string[],
): string {
  const lines = [
    `; Parent zone ${parent} (TLSA Manager test lab; its key is the resolver's trust anchor)`,
    ...soaLines(parent, parent, serial),
    `${parent}.\t${TTL}\tIN\tNS\tns.${parent}.`,
    `ns.${parent}.\t${TTL}\tIN\tA\t${namedAddr}`,
  ];
  for (const c of children) {
    lines.push(`${c.name}.\t${TTL}\tIN\tNS\tns.${parent}.`);
    for (const ds of c.dsLines) lines.push(ds);
  }
  lines.push(RECORDS_MARKER, ...records, '');
  return lines.join('\n');
}

const SERIAL_RE = /(IN\s+SOA\s+\S+\s+\S+\s*\(\s*)(\d+)/;

export function readSerial(text: string): number {
  const m = SERIAL_RE.exec(text);
  if (!m) throw new Error('lab: no SOA serial found in zone file');
  return Number(m[2]);
}

/** Replaces the records after the marker and sets the serial; atomic rename. */
export function rewriteZoneFile(path: string, records: string[] | undefined, serial: number): void {
  let text = readFileSync(path, 'utf8');
  text = text.replace(SERIAL_RE, (_all, pre: string) => `${pre}${serial}`);
  if (records) {
    const at = text.indexOf(RECORDS_MARKER);
    if (at < 0) throw new Error(`lab: ${path} lost its records marker line; cannot setRecords`);
    text = text.slice(0, at + RECORDS_MARKER.length) + '\n' + records.join('\n') + '\n';
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  // named skips a reload when the file looks older than its last load (second granularity
  // on some filesystems): push the mtime clearly past "now".
  const t = Date.now() / 1000 + 2;
  utimesSync(path, t, t);
}

export function namedConf(o: {
  dir: string;
  addr: string;
  port: number;
  rndcPort: number;
  rndcKeyFile: string;
  zones: { name: string; signed: boolean; keyAlgorithm?: KeyAlgorithm; options?: string[]; keysOnDemand?: boolean }[];
  /** TSIG keys (RFC 2136 updates): zone options may name them, e.g. `allow-update { key "x"; };`. */
  tsigKeys?: { name: string; algorithm: string; secret: string }[];
}): string {
  const zoneBlocks = o.zones.map((z) =>
    [
      `zone "${z.name}" {`,
      `  type primary;`,
      `  file "${join(o.dir, `${z.name}.db`)}";`,
      ...(z.signed ? [`  dnssec-policy "${policyFor(z.keyAlgorithm)}";`, `  inline-signing yes;`] : []),
      // Served unsigned until keys appear in the key-directory and \`rndc loadkeys\` runs: how
      // the stub signers (whmapi1's PowerDNS, the fake Cloudflare) switch signing on and off.
      ...(!z.signed && z.keysOnDemand ? [`  inline-signing yes;`, `  auto-dnssec maintain;`] : []),
      ...(z.options ?? []).map((o) => `  ${o}`),
      `};`,
    ].join('\n'),
  );
  return `// TLSA Manager test lab: BIND authoritative server
include "${o.rndcKeyFile}";
${(o.tsigKeys ?? []).map((k) => `key "${k.name}" { algorithm ${k.algorithm}; secret "${k.secret}"; };`).join('\n')}
options {
  directory "${o.dir}";
  pid-file "${join(o.dir, 'named.pid')}";
  session-keyfile "${join(o.dir, 'session.key')}";
  managed-keys-directory "${o.dir}";
  key-directory "${join(o.dir, 'keys')}";
  listen-on port ${o.port} { ${o.addr}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { none; };
};
controls {
  inet ${o.addr} port ${o.rndcPort} allow { 127.0.0.0/8; } keys { "rndc-key"; };
};
${policyBlock()}
${zoneBlocks.join('\n')}
`;
}

/** One CSK per algorithm that never rolls: the parent's key stays a fixed trust anchor for the whole run. */
export function policyBlock(): string {
  return Object.values(POLICIES).map((p) => `dnssec-policy "${p.name}" {
  keys { csk key-directory lifetime unlimited algorithm ${p.algorithm}; };
  dnskey-ttl ${TTL};
  max-zone-ttl 86400;
};`).join('\n');
}

/** Pre-generates the zone's CSK so its DS is known before named starts. Returns the .key path. */
export async function generateKey(keysDir: string, policyConf: string, zone: string, alg?: KeyAlgorithm): Promise<string> {
  const out = await mustRun(['dnssec-keygen', '-q', '-K', keysDir, '-k', policyFor(alg), '-l', policyConf, zone]);
  const base = out.trim().split('\n').pop() ?? '';
  if (!base.startsWith(`K${zone}.+`)) {
    const found = readdirSync(keysDir).find((f) => f.startsWith(`K${zone}.+`) && f.endsWith('.key'));
    if (!found) throw new Error(`dnssec-keygen made no key for ${zone}: ${out}`);
    return join(keysDir, found);
  }
  return join(keysDir, `${base}.key`);
}

/** DS (SHA-256) RR line for a key file, e.g. "good.lab.test. IN DS 123 13 2 ABCD...". */
export async function dsFromKey(keyPath: string): Promise<string> {
  return (await mustRun(['dnssec-dsfromkey', '-2', keyPath])).trim();
}

export function unboundConf(o: {
  dir: string;
  addr: string;
  namedAddr: string;
  namedPort: number;
  /** The parent and every child zone: each gets a stub (the NS records cannot carry a port). */
  zones: string[];
  /** Child zones served by another server: their stubs point there. */
  elsewhere?: { name: string; address: string; port: number }[];
  parent: string;
  trustAnchorDs: string;
  rootHints: string;
}): string {
  return `# TLSA Manager test lab: validating resolver
server:
  username: ""
  chroot: ""
  directory: "${o.dir}"
  pidfile: "${join(o.dir, 'unbound.pid')}"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  interface: ${o.addr}
  port: 53
  outgoing-interface: ${o.addr}
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  root-hints: "${o.rootHints}"
  module-config: "validator iterator"
  trust-anchor: "${o.trustAnchorDs}"
  # Everything outside the lab is refused so nothing ever leaves loopback.
  local-zone: "." refuse
  local-zone: "test." nodefault
  local-zone: "${o.parent}." transparent
  cache-max-ttl: 5
  cache-max-negative-ttl: 5
  infra-host-ttl: 30
  aggressive-nsec: no
  prefetch: no
  serve-expired: no
  num-threads: 1
  so-reuseport: no
remote-control:
  control-enable: yes
  control-interface: ${o.addr}
  control-port: 8953
  control-use-cert: no
${o.zones.map((z) => `stub-zone:\n  name: "${z}."\n  stub-addr: ${o.namedAddr}@${o.namedPort}\n`).join('')}${(o.elsewhere ?? []).map((z) => `stub-zone:\n  name: "${z.name}."\n  stub-addr: ${z.address}@${z.port}\n`).join('')}`;
}

export interface DigAnswer {
  ok: boolean;
  status: string;
  flags: string[];
  answers: string[];
  raw: string;
}

/** One dig query; `+dnssec` so the resolver reports AD. */
export async function dig(server: string, name: string, type: string, extra: string[] = [], port = 53): Promise<DigAnswer> {
  const r = await run(
    ['dig', `@${server}`, '-p', String(port), '+time=1', '+tries=1', '+dnssec', '+nocmd', '+noquestion', '+nostats', name, type, ...extra],
    { timeoutMs: 5000 },
  );
  const raw = r.stdout;
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? 'NONE';
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const answers: string[] = [];
  let inAnswer = false;
  for (const line of raw.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION')) inAnswer = true;
    else if (line.startsWith(';;')) inAnswer = false;
    else if (inAnswer && line.trim()) answers.push(line.trim());
  }
  return { ok: r.code === 0 && status !== 'NONE', status, flags, answers, raw };
}

/** The SOA serial named serves for a zone, or undefined when it does not answer. */
export async function servedSerial(namedAddr: string, namedPort: number, zone: string): Promise<number | undefined> {
  const a = await dig(namedAddr, zone, 'SOA', ['+norec'], namedPort);
  const soa = a.answers.find((l) => /\sSOA\s/.test(l));
  const serial = soa?.split(/\s+/)[6];
  return serial ? Number(serial) : undefined;
}

export interface SizedAnswer {
  status: string;
  flags: string[];
  /** dig's "MSG SIZE rcvd": bytes of the DNS message. */
  size: number;
  /** Answer-section lines. */
  answers: string[];
  raw: string;
}

/**
 * `dig +dnssec +bufsize=1232 +ignore`: the answer as one UDP message at the DNS Flag Day buffer,
 * with TC visible (+ignore: no TCP retry), or over TCP with `tcp`. `recurse: false` for named.
 */
export async function digSized(server: string, port: number, name: string, type: string, o: { tcp?: boolean; recurse?: boolean; cookie?: boolean } = {}): Promise<SizedAnswer> {
  const r = await run(
    ['dig', `@${server}`, '-p', String(port), '+time=2', '+tries=1', '+dnssec', '+bufsize=1232', '+ignore', '+nocmd',
      ...(o.tcp ? ['+tcp'] : []), ...(o.recurse === false ? ['+norec'] : []), ...(o.cookie === false ? ['+nocookie'] : []), name, type],
    { timeoutMs: 8000 },
  );
  const raw = r.stdout;
  const size = Number(/;; MSG SIZE\s+rcvd: (\d+)/.exec(raw)?.[1] ?? NaN);
  if (r.code !== 0 || !Number.isFinite(size)) throw new Error(`dig ${name} ${type} @${server}#${port} failed: ${(r.stderr || raw).slice(-500)}`);
  const flags = (/;; flags: ([a-z ]+);/.exec(raw)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const answers: string[] = [];
  let inAnswer = false;
  for (const line of raw.split('\n')) {
    if (line.startsWith(';; ANSWER SECTION')) inAnswer = true;
    else if (line.startsWith(';;') || line.trim() === '') inAnswer = false;
    else if (inAnswer) answers.push(line.trim());
  }
  return { status: /status: ([A-Z]+)/.exec(raw)?.[1] ?? 'NONE', flags, size, answers, raw };
}
