// Exim configuration for the lab: listens on 25/587 (STARTTLS) and 465 (TLS on connect) and
// picks its certificate per connection exactly like cPanel's generated exim.conf, plus one
// lab-only rule to make a single port present a different certificate.
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { logTail, mustRun, startDaemon, waitUntil, type Daemon } from './proc.js';

export const EXIM_PORTS = [25, 465, 587] as const;

/**
 * Certificate selection, first match wins (SNI without "/" only):
 *   1. domain_tls/<SNI>/combined.<port>      lab-only per-port override
 *   2. domain_tls/<SNI>/combined              cPanel
 *   3. domain_tls/*.<SNI minus first label>/combined   cPanel wildcard
 *   4. <root>/etc/exim.crt + <root>/etc/exim.key        cPanel service certificate
 * Both options expand on $tls_in_sni, so Exim re-expands per connection (no preload, no HUP).
 */
function selection(root: string, fallback: string): string {
  const dt = join(root, 'var/cpanel/ssl/domain_tls');
  const sniOk = '{!eq{$tls_in_sni}{}}{!match{$tls_in_sni}{/}}';
  const parent = '${sg{$tls_in_sni}{\\N^[^.]+\\.\\N}{}}';
  const perPort = `${dt}/$tls_in_sni/combined.$received_port`;
  const exact = `${dt}/$tls_in_sni/combined`;
  const wild = `${dt}/*.${parent}/combined`;
  return (
    `\${if and{${sniOk}{exists{${perPort}}}}{${perPort}}` +
    `{\${if and{${sniOk}{exists{${exact}}}}{${exact}}` +
    `{\${if and{${sniOk}{exists{${wild}}}}{${wild}}` +
    `{${fallback}}}}}}}`
  );
}

/** Where locally submitted mail for <anything>@<hostname> is delivered (one mbox file). */
export function labMailbox(dir: string): string {
  return join(dir, 'mailbox', 'inbox');
}

/** The TLS-RPT address on the server's host name (issue 14): piped to "tlsa-manager tlsrpt ingest". */
export const TLSRPT_LOCAL_PART = 'tlsrpt';

/** The lab's local delivery: mail to the lab hostname lands in one mailbox file (both configs share it). */
function mailboxRouter(hostname: string): string {
  return `lab_mailbox:
  driver = accept
  domains = ${hostname}
  transport = lab_mailbox`;
}

function mailboxTransport(dir: string): string {
  return `lab_mailbox:
  driver = appendfile
  file = ${labMailbox(dir)}
  user = Debian-exim
  group = Debian-exim
  mode = 0644
  envelope_to_add
  return_path_add`;
}

/**
 * The router and transport install.sh writes into cPanel's /etc/exim.conf.local (the same shell
 * functions, plugin/lib/common.sh), with the lab's pipe user and command: the lab's Exim delivers
 * tlsrpt@<hostname> exactly the way a server gets it after install.sh.
 */
export function installTlsrptBlocks(user: string, command: string): { router: string; transport: string } {
  const common = join(process.cwd(), 'plugin/lib/common.sh');
  const run = (fn: string) => {
    const r = spawnSync('bash', ['-c', `. "$1"; TLSRPT_PIPE_USER="$2"; TLSRPT_PIPE_GROUP="$2"; TLSRPT_INGEST="$3"; ${fn}`, 'bash', common, user, command], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout) throw new Error(`${fn} from ${common} failed: ${r.stderr}`);
    return r.stdout;
  };
  return { router: run('tlsrpt_router_block'), transport: run('tlsrpt_transport_block') };
}

export function eximConf(o: { dir: string; addr: string; cpanelRoot: string; hostname: string; cli?: string }): string {
  const cli = o.cli ?? join(process.cwd(), 'dist/cli.js');
  const tlsrpt = installTlsrptBlocks('Debian-exim', `${process.execPath} ${cli} tlsrpt ingest --root ${o.cpanelRoot}`);
  return `# TLSA Manager test lab: Exim answering EHLO/STARTTLS only
primary_hostname = ${o.hostname}
spool_directory = ${join(o.dir, 'spool')}
log_file_path = ${join(o.dir, 'log')}/%slog
pid_file_path = ${join(o.dir, 'exim.pid')}
keep_environment =
local_interfaces = ${o.addr}
daemon_smtp_ports = ${EXIM_PORTS.join(' : ')}
tls_on_connect_ports = 465
tls_advertise_hosts = *
tls_certificate = ${selection(o.cpanelRoot, join(o.cpanelRoot, 'etc/exim.crt'))}
tls_privatekey = ${selection(o.cpanelRoot, join(o.cpanelRoot, 'etc/exim.key'))}
host_lookup =
rfc1413_hosts =
log_selector = +tls_sni +tls_cipher +tls_certificate_verified +incoming_port
acl_smtp_rcpt = acl_rcpt

begin acl
acl_rcpt:
  deny message = the test lab accepts no mail

# Mail submitted locally (the sendmail interface: exim4 -C <conf> -odi -oi -- user@<hostname>)
# for the server's own host name lands in one mbox file that tests read. SMTP stays refused above.
begin routers
# TLS reports (RFC 8460) for tlsrpt@<hostname>: install.sh's router (cPanel's pipes run as
# mailnull:mail; here Debian-exim): the pipe only spools the message.
${tlsrpt.router}
${mailboxRouter(o.hostname)}

begin transports
# install.sh's transport: exit 0 (stored or refused: never a bounce), 75 (deferred, retried).
${tlsrpt.transport}
${mailboxTransport(o.dir)}
`;
}

/** The user Exim's children run as: they write the spool and log and read the keys. */
export async function eximUser(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await mustRun(['id', '-u', 'Debian-exim'])).trim());
  const gid = Number((await mustRun(['id', '-g', 'Debian-exim'])).trim());
  return { uid, gid };
}

/**
 * Exim in the foreground with the configuration at `conf` (its spool, log and exim.out in `dir`),
 * run through `prefix` when given (e.g. `ip netns exec <ns>`). The caller tracks the daemon so a
 * failed start still stops it, then waits with `waitForExim`.
 */
export function startExim(name: string, conf: string, dir: string, prefix: readonly string[] = []): Daemon {
  return startDaemon(name, [...prefix, 'exim4', '-C', conf, '-bdf'], join(dir, 'exim.out'), dir);
}

/** Until Exim answers SMTP on 25 and 587 and accepts connections on 465; else fails with its logs. */
export async function waitForExim(exim: Daemon, host: string, dir: string, what = `exim to answer on ${host} 25, 465, 587`): Promise<void> {
  const up = async (): Promise<boolean> => (await Promise.all([smtpBanner(host, 25), smtpBanner(host, 587), portOpen(host, 465)])).every(Boolean);
  await waitUntil(what, up, { daemon: exim }).catch((err: Error) => {
    throw new Error(`${err.message}\n${logTail(join(dir, 'exim.out'))}\n${logTail(join(dir, 'log/mainlog'))}\n${logTail(join(dir, 'log/paniclog'))}`);
  });
}

function smtpBanner(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('data', (d: Buffer) => {
      buf += d.toString();
      if (/^220 /m.test(buf)) done(true);
    });
  });
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => {
      sock.destroy();
      resolve(true);
    });
  });
}

/**
 * A working Exim configuration shaped like the template cPanel's /scripts/buildeximconf fills
 * (issue 23): "@ROUTERSTART@" first in the routers and "@TRANSPORTSTART@" first in the
 * transports, where the sections of /etc/exim.conf.local go (Cpanel::Exim::Config
 * load_local_exim_config). Without our lines, tlsrpt@<hostname> is delivered like any local
 * address (the lab mailbox), as cPanel's own routers would take it. No daemon: tests submit mail
 * with `exim4 -C <built file> -odi` and ask `-bt`.
 */
export function buildeximconfTemplate(o: { dir: string; hostname: string }): string {
  return `# TLSA Manager test lab: the buildeximconf stand-in's template (cPanel-shaped sections)
primary_hostname = ${o.hostname}
spool_directory = ${join(o.dir, 'spool')}
log_file_path = ${join(o.dir, 'log')}/%slog
keep_environment =
host_lookup =
rfc1413_hosts =

begin routers
@ROUTERSTART@
${mailboxRouter(o.hostname)}

begin transports
@TRANSPORTSTART@
${mailboxTransport(o.dir)}
`;
}
