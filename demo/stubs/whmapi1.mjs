#!/usr/bin/env node
// Demo stub of /usr/local/cpanel/bin/whmapi1 (NOT cPanel). Implements the few functions the
// product uses, with cPanel's JSON envelope, against the files of the demo root it lives in.
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync, chmodSync } from 'node:fs';
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

function listips() {
  const main = readFileSync(under('/var/cpanel/mainip'), 'utf8').trim();
  const ips = [{ ip: main, netmask: '255.255.255.0', mainaddr: 1 }];
  if (existsSync(under('/etc/ips'))) {
    for (const line of readFileSync(under('/etc/ips'), 'utf8').split('\n')) {
      const [ip, netmask] = line.trim().split(':');
      if (ip) ips.push({ ip, netmask: netmask || '255.255.255.0', mainaddr: 0 });
    }
  }
  return {
    ip: ips.map((x) => ({ ...x, if: 'eth0', active: 1, dedicated: x.mainaddr ? 0 : 1, removable: x.mainaddr ? 0 : 1, used: 1 })),
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

class ApiError extends Error {}

function parseDnsZone(params) {
  const entries = parseZone(readFileSync(zonePath(params), 'utf8'));
  return {
    payload: entries.map((e) =>
      e.type === 'record'
        ? { line_index: e.lineIndex, type: 'record', dname_b64: b64(e.owner), ttl: e.ttl, record_type: e.recordType, data_b64: e.data.map((t) => b64(t.text)) }
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
    throw new ApiError(`The given serial number (${given}) does not match the DNS zone’s serial number (${serialToken.text}). Refresh your view of the DNS zone, then resubmit.`);
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

const FUNCTIONS = {
  listips,
  parse_dns_zone: parseDnsZone,
  mass_edit_dns_zone: massEditDnsZone,
  fetch_ssl_vhosts: fetchSslVhosts,
  fetch_vhost_ssl_components: fetchVhostSslComponents,
  fetch_service_ssl_components: fetchServiceSslComponents,
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
    result = envelope(fn, 0, reason);
  }
}
process.stdout.write(JSON.stringify(result, null, output === 'jsonpretty' ? 2 : undefined) + '\n');
