import { DEMO_HOSTNAME, DEMO_HOST_ZONE, DEMO_MAIN_IP, DEMO_NAMESERVERS, mxRecords, type DomainSpec } from './scenario.js';

/**
 * Zone files in the shape cPanel writes them (`/var/named/<zone>.db`): a `; cPanel` header comment,
 * `$TTL 14400`, a multi-line SOA with `;Serial Number` comments, absolute names for the apex and
 * relative names for the rest, tab-separated. Readers must cope with exactly this.
 */

export interface ExtraRecord {
  /** Relative to the zone (`@` for the apex) or absolute with a trailing dot. */
  owner: string;
  ttl: number;
  type: string;
  data: string;
}

/** cPanel's date-based serial for the build day: YYYYMMDDNN. */
export function dateSerial(now = new Date(), nn = 1): string {
  const ymd = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `${ymd}${String(nn).padStart(2, '0')}`;
}

function header(zone: string, serial: string, now: Date): string[] {
  const ns = DEMO_NAMESERVERS.map((n) => `${zone}.\t86400\tIN\tNS\t${n.name}.`);
  return [
    `; cPanel first:11.120.0.9 (update_time):${Math.floor(now.getTime() / 1000)} Cpanel::ZoneFile::VERSION:1.3 hostname:${DEMO_HOSTNAME} latest:11.120.0.9`,
    `; Zone file for ${zone}`,
    '$TTL 14400',
    `${zone}.\t86400\tIN\tSOA\t${DEMO_NAMESERVERS[0]!.name}.\thostmaster.${DEMO_HOST_ZONE}.\t(`,
    `\t\t\t\t\t\t${serial}\t;Serial Number`,
    '\t\t\t\t\t\t3600\t;refresh',
    '\t\t\t\t\t\t1800\t;retry',
    '\t\t\t\t\t\t1209600\t;expire',
    '\t\t\t\t\t\t86400\t)\t;minimum',
    '',
    ...ns,
    '',
  ];
}

/** A TXT value split into <=255-byte quoted strings, the way long DKIM keys appear in zones. */
function txt(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.join(' ');
}

function spf(d: DomainSpec): string {
  return d.mx === 'remote' ? 'v=spf1 include:_spf.google.com ~all' : `v=spf1 +a +mx +ip4:${d.ip} ~all`;
}

/** Records for a domain at `prefix` ('' for the zone apex, 'shop' for a sub domain). */
function domainRecords(d: DomainSpec, zone: string, prefix: string, dkimKey: string): string[] {
  const owner = prefix === '' ? `${zone}.` : prefix;
  const rel = (label: string) => (prefix === '' ? label : `${label}.${prefix}`);
  const lines = [`${owner}\t14400\tIN\tA\t${d.ip}`];
  for (const mx of mxRecords(d)) lines.push(`${owner}\t14400\tIN\tMX\t${mx.priority}\t${mx.host}.`);
  // cPanel's default template: mail is a CNAME to the apex, unless mail has its own address.
  if (d.mx === 'mail') lines.push(`${rel('mail')}\t14400\tIN\tA\t${d.ip}`);
  else if (prefix === '') lines.push(`mail\t14400\tIN\tCNAME\t${d.name}.`);
  lines.push(`${rel('www')}\t14400\tIN\tCNAME\t${d.name}.`);
  if (prefix === '') {
    lines.push(`ftp\t14400\tIN\tA\t${d.ip}`);
    for (const svc of ['cpanel', 'webmail', 'webdisk', 'cpcalendars', 'cpcontacts', 'autodiscover']) {
      lines.push(`${svc}\t14400\tIN\tA\t${d.ip}`);
    }
    lines.push(`_autodiscover._tcp\t14400\tIN\tSRV\t0\t0\t443\tcpanelemaildiscovery.cpanel.net.`);
  }
  lines.push(`${owner}\t14400\tIN\tTXT\t${txt(spf(d))}`);
  lines.push(`${rel('default._domainkey')}\t14400\tIN\tTXT\t${txt(`v=DKIM1; k=rsa; p=${dkimKey}`)}`);
  if (d.cases.includes('wildcard-cert')) lines.push(`${rel('*')}\t14400\tIN\tA\t${d.ip}`);
  return lines;
}

export interface ZoneInput {
  zone: string;
  /** The apex domain (main/addon/parked) first, then sub domains that live in this zone. */
  domains: DomainSpec[];
  extra: ExtraRecord[];
  serial: string;
  now: Date;
  /** Base64 SPKI used as a fake DKIM public key (any valid RSA key will do). */
  dkimKey: string;
}

export function renderZone(z: ZoneInput): string {
  const lines = header(z.zone, z.serial, z.now);
  for (const d of z.domains) {
    const prefix = d.name === z.zone ? '' : d.name.slice(0, -(z.zone.length + 1));
    lines.push(...domainRecords(d, z.zone, prefix, z.dkimKey), '');
  }
  for (const r of z.extra) lines.push(`${r.owner}\t${r.ttl}\tIN\t${r.type}\t${r.data}`);
  return lines.join('\n') + '\n';
}

/** The zone holding the server hostname and the nameservers (not owned by any account). */
export function renderHostZone(serial: string, now: Date): string {
  const lines = header(DEMO_HOST_ZONE, serial, now);
  for (const ns of DEMO_NAMESERVERS) lines.push(`${ns.name.slice(0, -(DEMO_HOST_ZONE.length + 1))}\t14400\tIN\tA\t${ns.ip}`);
  lines.push(`${DEMO_HOST_ZONE}.\t14400\tIN\tA\t${DEMO_MAIN_IP}`);
  lines.push(`server\t14400\tIN\tA\t${DEMO_MAIN_IP}`);
  lines.push(`server\t14400\tIN\tMX\t0\t${DEMO_HOSTNAME}.`);
  lines.push(`server\t14400\tIN\tTXT\t"v=spf1 +a +mx ~all"`);
  return lines.join('\n') + '\n';
}
