// A real Apache (Debian apache2) for the lab: its own ServerRoot and config under the lab dir,
// one TLS virtual host on a loopback address, started in the foreground in its own process
// group and stopped by that PID (never by name). Only the modules it needs are loaded.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { logTail, startDaemon, waitUntil, type Daemon } from './proc.js';

const MODULES = '/usr/lib/apache2/modules';

export interface LabApache {
  address: string;
  stop(): Promise<void>;
}

export interface ApacheSite {
  serverName: string;
  docroot: string;
  certFile: string;
  keyFile: string;
  chainFile: string;
}

export async function startApache(dir: string, address: string, site: ApacheSite): Promise<LabApache> {
  const root = join(dir, 'apache');
  mkdirSync(join(root, 'logs'), { recursive: true });
  const conf = join(root, 'httpd.conf');
  writeFileSync(
    conf,
    [
      `ServerRoot ${root}`,
      `PidFile ${root}/httpd.pid`,
      `ErrorLog ${root}/logs/error.log`,
      `DefaultRuntimeDir ${root}`,
      'ServerName lab-apache.invalid',
      ...['mpm_event', 'authz_core', 'mime', 'ssl', 'socache_shmcb'].map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`),
      'User www-data',
      'Group www-data',
      `Listen ${address}:443`,
      'TypesConfig /etc/mime.types',
      `SSLSessionCache shmcb:${root}/ssl_scache(512000)`,
      '<Directory />',
      '  Require all denied',
      '  AllowOverride None',
      '</Directory>',
      `<VirtualHost ${address}:443>`,
      `  ServerName ${site.serverName}`,
      `  DocumentRoot ${site.docroot}`,
      '  SSLEngine on',
      `  SSLCertificateFile ${site.certFile}`,
      `  SSLCertificateKeyFile ${site.keyFile}`,
      `  SSLCertificateChainFile ${site.chainFile}`,
      `  <Directory ${site.docroot}>`,
      '    Require all granted',
      '  </Directory>',
      '</VirtualHost>',
      '',
    ].join('\n'),
  );
  const log = join(root, 'logs', 'stdout.log');
  const daemon: Daemon = startDaemon('apache2', ['/usr/sbin/apache2', '-f', conf, '-DFOREGROUND'], log, root);
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port: 443 });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  try {
    await waitUntil('apache2 listening', listening, { timeoutMs: 10_000, daemon });
  } catch (err) {
    await daemon.stop();
    throw new Error(`${(err as Error).message}\n${logTail(log)}\n${logTail(join(root, 'logs/error.log'))}`);
  }
  return { address, stop: () => daemon.stop() };
}
