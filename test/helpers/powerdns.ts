// A real PowerDNS Authoritative server for tests (Debian pdns-server + pdns-backend-sqlite3): its
// own config dir and sqlite3 database (made from the schema the package ships), DNS and the API
// on 127.0.0.1 high ports, no security poll (it would query secpoll.powerdns.com), stopped by PID.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { requireComponents } from './components.js';
import { startDaemon, trackPath, untrackPath, waitUntil, type Daemon } from '../lab/proc.js';

const SCHEMAS = ['/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql', '/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql'];

export interface PowerDns {
  /** Webserver base URL (`http://127.0.0.1:<port>`), what the provider's `url` setting holds. */
  url: string;
  apiKey: string;
  /** DNS on 127.0.0.1:<dnsPort> (UDP and TCP). */
  address: string;
  dnsPort: number;
  dir: string;
  /** The sqlite3 database pdns serves from (read it to see what the API wrote). */
  database: string;
  /** A raw API call with the right key (test setup and independent read-back); throws on HTTP errors. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Creates a Native zone with SOA, NS and the given RRsets (API shape, names absolute with a dot). */
  createZone(zone: string, rrsets?: { name: string; type: string; ttl: number; records: { content: string; disabled?: boolean }[]; comments?: { content: string; account: string }[] }[]): Promise<void>;
  /** The zone's RRsets as the API returns them. */
  rrsets(zone: string): Promise<{ name: string; type: string; ttl: number; records: { content: string; disabled: boolean }[]; comments: { content: string; account: string; modified_at: number }[] }[]>;
  stop(): Promise<void>;
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind({ address: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function startPowerDns(opts: { apiKey?: string; soaNameserver?: string; /** Further pdns.conf lines. */ config?: string[] } = {}): Promise<PowerDns> {
  requireComponents('powerdns', ['pdns_server', 'dig']);
  const schema = SCHEMAS.find((p) => existsSync(p));
  if (!schema) throw new Error(`powerdns: no sqlite3 schema at ${SCHEMAS.join(' or ')}; install pdns-backend-sqlite3 (scripts/setup-tests.sh)`);
  const dir = mkdtempSync(join(tmpdir(), 'tlsa-pdns-'));
  trackPath(dir);
  const db = new Database(join(dir, 'pdns.sqlite3'));
  db.exec(readFileSync(schema, 'utf8'));
  db.close();
  const apiKey = opts.apiKey ?? `pdns-test-key-${process.pid}-${Math.random().toString(36).slice(2)}`;
  let daemon: Daemon | undefined;
  let dnsPort = 0;
  let webPort = 0;
  for (let attempt = 0; attempt < 5 && !daemon; attempt++) {
    dnsPort = await freeTcpPort();
    webPort = await freeTcpPort();
    if (dnsPort === webPort || !(await udpFree(dnsPort))) continue;
    writeFileSync(
      join(dir, 'pdns.conf'),
      [
        'launch=gsqlite3',
        `gsqlite3-database=${join(dir, 'pdns.sqlite3')}`,
        'gsqlite3-dnssec=yes',
        'local-address=127.0.0.1',
        `local-port=${dnsPort}`,
        'api=yes',
        `api-key=${apiKey}`,
        'webserver=yes',
        'webserver-address=127.0.0.1',
        `webserver-port=${webPort}`,
        'webserver-allow-from=127.0.0.0/8',
        `socket-dir=${dir}`,
        'guardian=no',
        'daemon=no',
        'disable-syslog=yes',
        // Nothing may leave loopback: no security poll, no notifies, no outgoing queries.
        'security-poll-suffix=',
        'primary=no',
        'secondary=no',
        // No caches: every dig sees what the API last wrote (signing switched off included).
        'cache-ttl=0',
        'negquery-cache-ttl=0',
        'query-cache-ttl=0',
        'dnssec-key-cache-ttl=0',
        'domain-metadata-cache-ttl=0',
        ...(opts.config ?? []),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const d = startDaemon('pdns_server', ['pdns_server', `--config-dir=${dir}`], join(dir, 'pdns.log'), dir);
    try {
      await waitUntil('pdns_server to answer its API', async () => {
        try {
          return (await fetch(`http://127.0.0.1:${webPort}/api/v1/servers/localhost`, { headers: { 'X-API-Key': apiKey } })).ok;
        } catch {
          return false;
        }
      }, { daemon: d, timeoutMs: 10_000 });
      daemon = d;
    } catch (err) {
      await d.stop();
      if (attempt === 4) throw err;
    }
  }
  if (!daemon) throw new Error('powerdns: could not start pdns_server on free ports');
  const url = `http://127.0.0.1:${webPort}`;
  const api = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}/api/v1/servers/localhost${path}`, { method, headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`pdns API ${method} ${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const stopDaemon = daemon.stop;
  return {
    url,
    apiKey,
    address: '127.0.0.1',
    dnsPort,
    dir,
    database: join(dir, 'pdns.sqlite3'),
    api,
    async createZone(zone, rrsets = []) {
      await api('POST', '/zones', { name: `${zone}.`, kind: 'Native', nameservers: [opts.soaNameserver ?? `ns1.${zone}.`], rrsets });
    },
    async rrsets(zone) {
      return (await api<{ rrsets: Awaited<ReturnType<PowerDns['rrsets']>> }>('GET', `/zones/${zone}.`)).rrsets;
    },
    async stop() {
      await stopDaemon();
      rmSync(dir, { recursive: true, force: true });
      untrackPath(dir);
    },
  };
}
