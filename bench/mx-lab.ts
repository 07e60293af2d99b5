// The lab zone the check benchmarks share: N domains d<i>.<label>.lab.test, each with its own MX
// host mx<i>, every mx<i> an A record to the lab's one Exim and `3 1 1` TLSA records on each port
// for one wildcard certificate that Exim presents for every mx<i> (SNI). One signed zone with DS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../test/lab/lab.js';

/** A self-signed wildcard certificate made with openssl: `3 1 1` ignores the issuer. */
function wildcardCert(zone: string): { combined: string; spki: string } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cert-'));
  try {
    const key = join(dir, 'key.pem');
    const crt = join(dir, 'crt.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '30', '-subj', `/CN=*.${zone}`, '-addext', `subjectAltName=DNS:*.${zone}`], { stdio: 'ignore' });
    const der = execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-outform', 'DER']);
    const spki = execFileSync('openssl', ['sha256', '-r'], { input: der, encoding: 'utf8' }).split(' ')[0]!;
    return { combined: readFileSync(key, 'utf8') + readFileSync(crt, 'utf8'), spki };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitSecure(lab: Lab, name: string, type: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const a = await lab.dig(name, type);
    if (a.status === 'NOERROR' && a.flags.includes('ad') && a.answers.length > 0) return;
    await lab.flushResolver();
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${name} ${type} never validated`);
}

/** Starts the lab with that zone and returns once its last names validate; the caller stops it. */
export async function startMxLab(label: string, n: number, ports: number[]): Promise<{ lab: Lab; zone: string; domains: string[] }> {
  const parent = 'lab.test';
  const zone = `${label}.${parent}`;
  const cert = wildcardCert(zone);
  const records: string[] = [];
  // The lab's Exim address is only known after start; its A records are set below.
  for (let i = 0; i < n; i++) {
    for (const p of ports) records.push(`_${p}._tcp.mx${i} 3600 IN TLSA 3 1 1 ${cert.spki}`);
    records.push(`d${i} 3600 IN MX 10 mx${i}.${zone}.`);
  }
  const lab = await startLab({ parent, defaultZones: false, zones: [{ name: label, signed: true, ds: true, records }] });
  try {
    lab.installCert(`*.${zone}`, cert.combined);
    const withA = [...records];
    for (let i = 0; i < n; i++) withA.push(`mx${i} 3600 IN A ${lab.exim}`);
    await lab.setRecords(zone, withA);
    // Large signed zones are signed in steps: wait until the last names validate.
    await waitSecure(lab, `_${ports[ports.length - 1]}._tcp.mx${n - 1}.${zone}`, 'TLSA');
    await waitSecure(lab, `mx${n - 1}.${zone}`, 'A');
    await waitSecure(lab, `d${n - 1}.${zone}`, 'MX');
    await lab.flushResolver();
  } catch (err) {
    await lab.stop();
    throw err;
  }
  return { lab, zone, domains: Array.from({ length: n }, (_, i) => `d${i}.${zone}`) };
}
