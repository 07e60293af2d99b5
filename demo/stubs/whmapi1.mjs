#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/whmapi1 (NOT cPanel). Implements the few functions the
// product uses, with cPanel's JSON envelope, against the files of the demo root it lives in.
// Each answer has the shape of its fixture in test/fixtures/cpanel/whmapi1/, which names the
// cPanel source it follows; test/integration/cpanel-contract.test.ts holds the stub to it.
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { logCall, under } from './lib.mjs';
import { checkRecordInput, findSoa, parseZone, renderRecord } from './zonefile.mjs';

const argv = process.argv.slice(2);
logCall('whmapi1', argv);

const b64 = (s) => Buffer.from(String(s), 'utf8').toString('base64');

function envelope(command, result, reason, data) {
  return { data: data ?? {}, metadata: { command, reason, result, version: 1 } };
}

/** `key=value` arguments; repeated keys (and cPanel's `key-N=` form) collect into arrays. */
function parseArgs(args) {
  let output = 'json';
  let fn;
  const params = {};
  for (const a of args) {
    if (a.startsWith('--output=')) { output = a.slice(9).toLowerCase(); continue; }
    if (a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq < 0) { if (fn === undefined) fn = a; continue; }
    const key = a.slice(0, eq).replace(/-\d+$/, '');
    (params[key] ??= []).push(a.slice(eq + 1));
  }
  return { output, fn, params };
}

const one = (params, key) => params[key]?.[0];

// ---- functions -------------------------------------------------------------------------

/** IPv4 network address of ip/netmask (Whostmgr/Ips.pm calculate_network). */
function network(ip, netmask) {
  const a = ip.split('.').map(Number);
  const m = netmask.split('.').map(Number);
  return a.map((x, i) => x & (m[i] ?? 0)).join('.');
}

/** /var/cpanel/cpnat: `local public` per line (Cpanel/NAT/Object.pm _parse_nat_file). */
function natMap() {
  const out = new Map();
  if (!existsSync(under('/var/cpanel/cpnat'))) return out;
  for (const line of readFileSync(under('/var/cpanel/cpnat'), 'utf8').split('\n')) {
    const [local, pub] = line.trim().split(/\s+/);
    if (local && pub) out.set(local, pub);
  }
  return out;
}

// Whostmgr/API/1/Ips.pm listips over Whostmgr/Ips.pm get_detailed_ip_cfg: `ip` is the local
// address; `public_ip` the NAT public one (the same without NAT).
function listips() {
  const main = readFileSync(under('/var/cpanel/mainip'), 'utf8').trim();
  const ips = [{ ip: main, netmask: '255.255.255.0', mainaddr: 1 }];
  if (existsSync(under('/etc/ips'))) {
    for (const line of readFileSync(under('/etc/ips'), 'utf8').split('\n')) {
      const [ip, netmask] = line.trim().split(':');
      if (ip) ips.push({ ip, netmask: netmask || '255.255.255.0', mainaddr: 0 });
    }
  }
  const nat = natMap();
  return {
    ip: ips.map((x, i) => ({ ip: x.ip, mainaddr: x.mainaddr, if: i === 0 ? 'eth0' : `eth0:cp${i}`, active: 1, used: 1, removable: 0, dedicated: x.mainaddr ? 0 : 1, netmask: x.netmask, network: network(x.ip, x.netmask), public_ip: nat.get(x.ip) ?? x.ip })),
  };
}

function zonePath(params) {
  const zone = one(params, 'zone');
  if (!zone) throw new ApiError('Missing parameter: zone');
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(zone)) throw new ApiError(`Invalid zone name: ${JSON.stringify(zone)}`);
  const file = under(`/var/named/${zone.toLowerCase()}.db`);
  if (!existsSync(file)) throw new ApiError(`The zone “${zone}” does not exist on this server.`);
  return file;
}

class ApiError extends Error {
  /** `data` of the failed answer (cPanel's typed error payload), when there is one. */
  constructor(message, data) {
    super(message);
    this.data = data;
  }
}

/**
 * A record's owner as cPanel's Cpanel/ZoneFile/Parse.pm _hashify_rr gives it: the absolute name
 * with `.<zone>.` removed (`mail`, `_25._tcp.mail`), the apex and names outside the zone left
 * absolute with their dot (`example.com.`). The stub's zones keep their origin at the zone name.
 */
function cpanelDname(owner, zone) {
  const origin = `${zone.toLowerCase()}.`;
  const abs = owner === '@' ? origin : owner.endsWith('.') ? owner : `${owner}.${origin}`;
  return abs.toLowerCase().endsWith(`.${origin}`) ? abs.slice(0, -(origin.length + 1)) : abs;
}

function parseDnsZone(params) {
  const entries = parseZone(readFileSync(zonePath(params), 'utf8'));
  const zone = one(params, 'zone');
  return {
    payload: entries.map((e) =>
      e.type === 'record'
        ? { line_index: e.lineIndex, type: 'record', dname_b64: b64(cpanelDname(e.owner, zone)), ttl: e.ttl, record_type: e.recordType, data_b64: e.data.map((t) => b64(t.text)) }
        : { line_index: e.lineIndex, type: e.type, text_b64: b64(e.text) },
    ),
  };
}

/** cPanel-style serial bump: today's YYYYMMDD00 if that is larger, else +1. */
function nextSerial(current) {
  const today = Number(new Date().toISOString().slice(0, 10).replace(/-/g, '') + '00');
  return String(Math.max(today, Number(current) + 1));
}

function jsonParam(raw, what) {
  try { return JSON.parse(raw); } catch { throw new ApiError(`Invalid JSON in “${what}”: ${raw.slice(0, 80)}`); }
}

function massEditDnsZone(params) {
  const file = zonePath(params);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const entries = parseZone(text);
  const soa = findSoa(entries);
  if (!soa || soa.data.length < 7) throw new ApiError('The zone has no valid SOA record.');
  const serialToken = soa.data[2];
  const given = one(params, 'serial');
  if (given === undefined) throw new ApiError('Missing parameter: serial');
  if (given !== serialToken.text) {
    // Whostmgr/API/1/DNS.pm mass_edit_dns_zone: the typed error payload {type: 'Stale'} (our wording of the reason).
    throw new ApiError(`The given serial number (${given}) does not match the DNS zone’s serial number (${serialToken.text}). Refresh your view of the DNS zone, then resubmit.`, { type: 'Stale', detail: null });
  }
  const records = new Map(entries.filter((e) => e.type === 'record').map((e) => [e.lineIndex, e]));
  const replace = new Map(); // first line index -> replacement line ('' = delete)
  const target = (idx, verb) => {
    const rec = records.get(Number(idx));
    if (!/^\d+$/.test(String(idx)) || !rec) throw new ApiError(`Cannot ${verb} line ${idx}: no record starts there.`);
    if (rec.recordType === 'SOA') throw new ApiError(`Cannot ${verb} the SOA record.`);
    if (replace.has(rec.lineIndex)) throw new ApiError(`Line ${idx} is changed twice.`);
    return rec;
  };
  for (const idx of params.remove ?? []) replace.set(target(idx, 'remove').lineIndex, null);
  for (const raw of params.edit ?? []) {
    const item = jsonParam(raw, 'edit');
    const rec = target(item.line_index, 'edit');
    const reason = checkRecordInput(item);
    if (reason) throw new ApiError(`Invalid edit for line ${item.line_index}: ${reason}`);
    replace.set(rec.lineIndex, renderRecord(item));
  }
  const added = [];
  for (const raw of params.add ?? []) {
    const item = jsonParam(raw, 'add');
    const reason = checkRecordInput(item);
    if (reason) throw new ApiError(`Invalid record to add: ${reason}`);
    added.push(renderRecord(item));
  }
  const newSerial = nextSerial(serialToken.text);
  const serialLine = lines[serialToken.line];
  lines[serialToken.line] = serialLine.slice(0, serialToken.start) + newSerial + serialLine.slice(serialToken.end);
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (replace.has(i)) {
      const rec = records.get(i);
      const line = replace.get(i);
      if (line !== null) out.push(line);
      i = rec.lastLine;
      continue;
    }
    out.push(lines[i]);
  }
  while (out.length && out[out.length - 1] === '') out.pop();
  out.push(...added, '');
  const mode = statSync(file).mode & 0o777;
  const tmp = `${file}.stub-tmp`;
  writeFileSync(tmp, out.join('\n'), { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
  return { new_serial: newSerial };
}

// ---- certificates ---------------------------------------------------------------------

const PEM_RE = /-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----\n?/g;

function pemBlocks(text) {
  return [...text.matchAll(PEM_RE)].map((m) => ({ label: m[1], pem: m[0].endsWith('\n') ? m[0] : `${m[0]}\n` }));
}

function dnField(dn, key) {
  const line = dn.split('\n').find((l) => l.startsWith(`${key}=`));
  return line ? line.slice(key.length + 1) : null;
}

function crtInfo(pem) {
  const c = new X509Certificate(pem);
  const details = c.publicKey.asymmetricKeyDetails ?? {};
  const rsa = c.publicKey.asymmetricKeyType === 'rsa';
  return {
    subject: { commonName: dnField(c.subject, 'CN'), organizationName: dnField(c.subject, 'O') },
    issuer: { commonName: dnField(c.issuer, 'CN'), organizationName: dnField(c.issuer, 'O') },
    not_before: Math.floor(Date.parse(c.validFrom) / 1000),
    not_after: Math.floor(Date.parse(c.validTo) / 1000),
    domains: (c.subjectAltName ?? '').split(', ').filter((x) => x.startsWith('DNS:')).map((x) => x.slice(4)),
    // checkIssued() would demand keyCertSign; a self-signed leaf is subject == issuer + own signature.
    is_self_signed: c.subject === c.issuer && c.verify(c.publicKey) ? 1 : 0,
    key_algorithm: rsa ? 'rsaEncryption' : 'id-ecPublicKey',
    ...(rsa ? { modulus_length: details.modulusLength } : { ecdsa_curve_name: details.namedCurve === 'prime256v1' ? 'prime256v1' : details.namedCurve }),
    serial: c.serialNumber,
  };
}

function userOf(domain) {
  const file = under('/etc/userdomains');
  if (!existsSync(file)) return null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [d, u] = line.split(': ');
    if (d === domain) return u?.trim() ?? null;
  }
  return null;
}

/** servername and serveralias from the per-vhost userdata file (simple `key: value` YAML). */
function vhostInfo(user, servername) {
  const file = user ? under(`/var/cpanel/userdata/${user}/${servername}`) : null;
  const info = { domains: [servername], ip: null };
  if (!file || !existsSync(file)) return info;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(\w+): (.*)$/.exec(line);
    if (m?.[1] === 'serveralias') info.domains.push(...m[2].split(/\s+/).filter(Boolean));
    if (m?.[1] === 'ip') info.ip = m[2].trim();
  }
  return info;
}

function apacheVhosts() {
  const dir = under('/var/cpanel/ssl/apache_tls');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => !n.startsWith('.')).sort();
}

function fetchSslVhosts() {
  return {
    vhosts: apacheVhosts().map((servername) => {
      const blocks = pemBlocks(readFileSync(under(`/var/cpanel/ssl/apache_tls/${servername}/certificates`), 'utf8'));
      const user = userOf(servername);
      const info = vhostInfo(user, servername);
      return { servername, domains: info.domains, user, ip: info.ip, mail_sni_status: 1, crt: crtInfo(blocks[0].pem) };
    }),
  };
}

function fetchVhostSslComponents() {
  return {
    components: apacheVhosts().map((servername) => {
      const blocks = pemBlocks(readFileSync(under(`/var/cpanel/ssl/apache_tls/${servername}/combined`), 'utf8'));
      const certs = blocks.filter((b) => b.label === 'CERTIFICATE');
      const key = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
      return {
        servername,
        certificate: certs[0]?.pem ?? null,
        key: key?.pem ?? null,
        cabundle: certs.length > 1 ? certs.slice(1).map((b) => b.pem).join('') : null,
      };
    }),
  };
}

function fetchServiceSslComponents() {
  const services = [];
  for (const [service, crt, key] of [
    ['exim', '/var/cpanel/ssl/exim/exim.crt', '/var/cpanel/ssl/exim/exim.key'],
    ['dovecot', '/var/cpanel/ssl/dovecot/dovecot.crt', '/var/cpanel/ssl/dovecot/dovecot.key'],
  ]) {
    if (!existsSync(under(crt))) continue;
    const certs = pemBlocks(readFileSync(under(crt), 'utf8'));
    services.push({
      service,
      certificate: certs[0].pem,
      key: readFileSync(under(key), 'utf8'),
      cabundle: certs.slice(1).map((b) => b.pem).join('') || null,
      certificate_info: crtInfo(certs[0].pem),
    });
  }
  return { services };
}

// ---- DNSSEC (cPanel: PowerDNS only) ---------------------------------------------------
// The stub's "PowerDNS" is BIND's key tools: keys live in a key directory (default
// <root>/var/cpanel/demo-pdns/keys); /var/cpanel/demo-pdns.json may name another one (a lab
// named's key-directory) and an rndc argv prefix, so `rndc loadkeys <zone>` makes that named
// sign with exactly the keys this stub reports. Output shapes follow cPanel's API docs
// (enable_dnssec_for_domains, fetch_ds_records_for_domains, disable_dnssec_for_domains).

function pdnsBackend() {
  const file = under('/var/cpanel/demo-pdns.json');
  const conf = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const keysDir = conf.keysDir ?? under('/var/cpanel/demo-pdns/keys');
  mkdirSync(keysDir, { recursive: true });
  return { keysDir, rndc: Array.isArray(conf.rndc) ? conf.rndc : null };
}

// Cpanel/DNSSEC.pm _get_dns_obj: every DNSSEC call fails whole unless the name server is PowerDNS,
// which is what Cpanel/NameServer/Conf.pm new picks when local_nameserver_type is missing or unknown.
function requirePowerDns() {
  const conf = existsSync(under('/var/cpanel/cpanel.config')) ? readFileSync(under('/var/cpanel/cpanel.config'), 'utf8') : '';
  const value = /^local_nameserver_type=(\S*)/m.exec(conf)?.[1] ?? '';
  const type = ['bind', 'disabled', 'powerdns'].includes(value) ? value : 'powerdns';
  if (type !== 'powerdns') throw new ApiError(`DNSSEC requires PowerDNS. This server uses the “${type}” nameserver. (demo stub)`);
}

function dnssecDomains(params) {
  const list = params.domain ?? [];
  if (list.length === 0) throw new ApiError('Missing parameter: domain');
  for (const d of list) {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(d)) throw new ApiError(`Invalid domain: ${JSON.stringify(d)}`);
    if (!existsSync(under(`/var/named/${d.toLowerCase()}.db`)) && !existsSync(under(`/var/cpanel/demo-pdns/zones/${d.toLowerCase()}`))) {
      throw new ApiError(`The domain “${d}” does not exist on this server.`);
    }
  }
  return list.map((d) => d.toLowerCase());
}

const tool = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Live (not deleted) keys of a zone: { base, tag, alg, flags }. */
function zoneKeys(keysDir, zone) {
  const out = [];
  for (const f of readdirSync(keysDir)) {
    const m = new RegExp(`^K${zone.replace(/\./g, '\\.')}\\.\\+(\\d{3})\\+(\\d{5})\\.key$`).exec(f);
    if (!m) continue;
    const base = join(keysDir, f.slice(0, -4));
    const priv = existsSync(`${base}.private`) ? readFileSync(`${base}.private`, 'utf8') : '';
    if (/^Delete: /m.test(priv)) continue;
    const line = readFileSync(`${base}.key`, 'utf8').split('\n').find((l) => /\sDNSKEY\s/.test(l)) ?? '';
    const flags = Number(/DNSKEY\s+(\d+)/.exec(line)?.[1] ?? 0);
    out.push({ base, tag: Number(m[2]), alg: Number(m[1]), flags, privatekey: priv });
  }
  return out.sort((a, b) => a.tag - b.tag);
}

function loadKeys(backend, zone) {
  if (backend.rndc) tool(backend.rndc[0], [...backend.rndc.slice(1), 'loadkeys', zone]);
}

const ALGO = { 5: 'RSASHA1', 7: 'NSEC3RSASHA1', 8: 'RSASHA256', 10: 'RSASHA512', 13: 'ECDSAP256SHA256', 14: 'ECDSAP384SHA384' };
const ALGO_DESC = { 5: 'RSA/SHA-1', 7: 'RSASHA1-NSEC3-SHA1', 8: 'RSA/SHA-256', 10: 'RSA/SHA-512', 13: 'ECDSA Curve P-256 with SHA-256', 14: 'ECDSA Curve P-384 with SHA-384' };

function enableDnssec(params) {
  requirePowerDns();
  const backend = pdnsBackend();
  const algo = Number(one(params, 'algo_num') ?? 8);
  if (!ALGO[algo]) throw new ApiError(`The “algo_num” parameter must be one of the following: ${Object.keys(ALGO).join(', ')}`);
  const setup = one(params, 'key_setup') ?? (algo > 8 ? 'simple' : 'classic');
  if (!['simple', 'classic'].includes(setup)) throw new ApiError('The “key_setup” parameter must be “classic” or “simple”.');
  const domains = [];
  for (const zone of dnssecDomains(params)) {
    if (zoneKeys(backend.keysDir, zone).length > 0) {
      domains.push({ domain: zone, enabled: 0, error: `The domain “${zone}” already has DNSSEC keys.` });
      continue;
    }
    const size = algo === 13 || algo === 14 ? [] : ['-b', '2048'];
    tool('dnssec-keygen', ['-q', '-K', backend.keysDir, '-a', ALGO[algo], ...size, '-f', 'KSK', zone]);
    if (setup === 'classic') tool('dnssec-keygen', ['-q', '-K', backend.keysDir, '-a', ALGO[algo], ...size, zone]);
    loadKeys(backend, zone);
    const keys = zoneKeys(backend.keysDir, zone);
    domains.push({ domain: zone, enabled: 1, nsec_version: 'NSEC', new_key_id: String(keys.length) });
  }
  return { domains };
}

function digestsOf(base) {
  return [['-1', 1, 'SHA-1'], ['-2', 2, 'SHA-256'], ['-a SHA-384', 4, 'SHA-384']].map(([flag, num, desc]) => {
    const out = tool('dnssec-dsfromkey', [...flag.split(' '), `${base}.key`]).trim();
    return { algo_num: num, algo_desc: desc, digest: out.split(/\s+/).pop().toLowerCase() };
  });
}

function fetchDsRecords(params) {
  requirePowerDns();
  const backend = pdnsBackend();
  return {
    domains: dnssecDomains(params).map((zone) => {
      const keys = zoneKeys(backend.keysDir, zone);
      if (keys.length === 0) return { domain: zone, ds_records: {} };
      const entries = keys.map((k, i) => [String(k.tag), {
        active: 1, algo_desc: ALGO_DESC[k.alg] ?? String(k.alg), algo_num: k.alg, algo_tag: ALGO[k.alg] ?? String(k.alg),
        bits: k.alg === 13 ? 256 : k.alg === 14 ? 384 : 2048, created: Math.floor(statSync(`${k.base}.key`).mtimeMs / 1000),
        digests: digestsOf(k.base), flags: k.flags, key_id: i + 1, key_tag: k.tag,
        key_type: k.flags === 257 ? (keys.length === 1 ? 'CSK' : 'KSK') : 'ZSK',
        privatekey: k.privatekey,
      }]);
      // Cpanel/NameServer/Conf/PowerDNS.pm ds_records: nsec_details only for NSEC3 zones (these are NSEC).
      return { domain: zone, ds_records: { keys: Object.fromEntries(entries) } };
    }),
  };
}

function disableDnssec(params) {
  requirePowerDns();
  const backend = pdnsBackend();
  const domains = [];
  for (const zone of dnssecDomains(params)) {
    const keys = zoneKeys(backend.keysDir, zone);
    // Inactive and deleted now: the signer drops the keys and their signatures.
    for (const k of keys) tool('dnssec-settime', ['-K', backend.keysDir, '-I', 'now', '-D', 'now', `${k.base}.key`]);
    loadKeys(backend, zone);
    domains.push({ domain: zone, disabled: 1 });
  }
  return { domains };
}

// ---- Contact Manager importance (issue 23) -------------------------------------------------
// After Whostmgr/API/1/Contact.pm (get_/set_application_contact_importance, _validate_alphanumeric,
// _get_event_importance_number_or_die) and Cpanel/iContact/EventImportance.pm (%NAME_TO_NUMBER,
// $_datastore_file, get_event_importance) + EventImportance/Writer.pm (set_application_importance:
// the application's '*' entry). The datastore is { app: { '*': n, event: n } }.

const IMPORTANCE_FILE = '/var/cpanel/icontact_event_importance.json';
const IMPORTANCE = { High: 1, Medium: 2, Low: 3, Disabled: 0 };

function importanceData() {
  try {
    const data = JSON.parse(readFileSync(under(IMPORTANCE_FILE), 'utf8'));
    return data && typeof data === 'object' ? data : {};
  } catch {
    return {};
  }
}

function alphanumeric(params, key) {
  const v = one(params, key);
  if (v === undefined || v === '') throw new ApiError(`The “${key}” parameter is required.`);
  if (!/^[0-9A-Za-z]+$/.test(v)) throw new ApiError(`The “${key}” parameter value of “${v}” is invalid. It must only contain alphanumeric characters.`);
  return v;
}

function importanceNumber(params) {
  const v = one(params, 'importance');
  if (v === undefined || v === '') throw new ApiError('The “importance” parameter is required.');
  if (Object.hasOwn(IMPORTANCE, v)) return IMPORTANCE[v];
  if (Object.values(IMPORTANCE).map(String).includes(v)) return Number(v);
  throw new ApiError(`The “importance” parameter “${v}” is invalid and may only be one of “Disabled”, “High”, “Low”, “Medium”, “0”, “1”, “2”, or “3”.`);
}

const NUMBER_TO_NAME = Object.fromEntries(Object.entries(IMPORTANCE).map(([k, n]) => [n, k]));

function getApplicationContactImportance(params) {
  const app = alphanumeric(params, 'app');
  const data = importanceData();
  // EventImportance::get_event_importance: an application not in the file is Low.
  const n = data[app] ? data[app]['*'] : IMPORTANCE.Low;
  return { importance: n, name: NUMBER_TO_NAME[n] };
}

function setApplicationContactImportance(params) {
  const app = alphanumeric(params, 'app');
  const n = importanceNumber(params);
  const data = importanceData();
  (data[app] ??= {})['*'] = n;
  const file = under(IMPORTANCE_FILE);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(data));
  renameSync(`${file}.tmp`, file);
  return {};
}

const FUNCTIONS = {
  listips,
  get_application_contact_importance: getApplicationContactImportance,
  set_application_contact_importance: setApplicationContactImportance,
  parse_dns_zone: parseDnsZone,
  mass_edit_dns_zone: massEditDnsZone,
  fetch_ssl_vhosts: fetchSslVhosts,
  fetch_vhost_ssl_components: fetchVhostSslComponents,
  fetch_service_ssl_components: fetchServiceSslComponents,
  enable_dnssec_for_domains: enableDnssec,
  fetch_ds_records_for_domains: fetchDsRecords,
  disable_dnssec_for_domains: disableDnssec,
};

// ---- main ----------------------------------------------------------------------------

const { output, fn, params } = parseArgs(argv);
let result;
if (!fn) {
  result = envelope('', 0, 'No function given. Usage: whmapi1 --output=json FUNCTION key=value …');
} else if (!Object.hasOwn(FUNCTIONS, fn)) {
  result = envelope(fn, 0, `Unknown app (“${fn}”) requested for this version (1) of the API. (demo stub)`);
} else {
  try {
    result = envelope(fn, 1, 'OK', FUNCTIONS[fn](params));
  } catch (err) {
    const reason = err instanceof ApiError ? err.message : `Internal error: ${err instanceof Error ? err.message : String(err)}`;
    result = envelope(fn, 0, reason, err instanceof ApiError ? err.data : undefined);
  }
}
process.stdout.write(JSON.stringify(result, null, output === 'jsonpretty' ? 2 : undefined) + '\n');
