// posttls-finger (Postfix's DANE reference client) without installing postfix, which conflicts
// with exim4 on Debian: `apt-get download postfix` + `dpkg -x` into a cache dir, run with
// LD_LIBRARY_PATH, in a private mount namespace whose /etc/resolv.conf names the lab resolver.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun, run } from './proc.js';

export const POSTFIX_CACHE = process.env.TLSA_LAB_POSTFIX_DIR ?? '/var/cache/tlsa-manager-lab/postfix';

function binPath(dir: string): string {
  return join(dir, 'usr/sbin/posttls-finger');
}

let fetching: Promise<string> | undefined;

/** Directory holding the unpacked postfix package; downloads once per machine. */
export function ensurePostfix(): Promise<string> {
  fetching ??= fetchPostfix().catch((err: unknown) => {
    fetching = undefined;
    throw err;
  });
  return fetching;
}

async function fetchPostfix(): Promise<string> {
  if (existsSync(binPath(POSTFIX_CACHE))) return POSTFIX_CACHE;
  const parent = join(POSTFIX_CACHE, '..');
  mkdirSync(parent, { recursive: true });
  // Private staging dir: apt-get download writes into its cwd, which must be writable, and two
  // workers may fetch at once; the final rename makes exactly one of them win.
  const stage = mkdtempSync(join(parent, 'stage-'));
  try {
    const dl = await run(['apt-get', 'download', 'postfix'], { cwd: stage, timeoutMs: 120_000 });
    const deb = readdirSync(stage).find((f) => f.startsWith('postfix_') && f.endsWith('.deb'));
    if (!deb) {
      throw new Error(
        `apt-get download postfix failed (exit ${dl.code}): ${(dl.stderr || dl.stdout).trim().slice(-1000)}\n` +
          'posttls-finger comes from the Debian postfix package; run `apt-get update` first.',
      );
    }
    await mustRun(['dpkg', '-x', join(stage, deb), join(stage, 'root')]);
    if (!existsSync(binPath(join(stage, 'root')))) throw new Error(`${deb} has no usr/sbin/posttls-finger`);
    try {
      renameSync(join(stage, 'root'), POSTFIX_CACHE);
    } catch (err) {
      if (!existsSync(binPath(POSTFIX_CACHE))) throw err;
    }
    return POSTFIX_CACHE;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * main.cf for posttls-finger: DANE on, DNSSEC lookups, owners that Postfix accepts. IPv4 only by
 * default; `inetProtocols: 'all'` for the IPv6 lab (with FingerOptions.family to pick one).
 */
export function writePostfixConfig(confDir: string, o: { inetProtocols?: 'ipv4' | 'all' } = {}): void {
  mkdirSync(confDir, { recursive: true });
  writeFileSync(
    join(confDir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      'smtp_dns_support_level = dnssec',
      'smtp_tls_security_level = dane',
      'mail_owner = daemon',
      'setgid_group = mail',
      'myhostname = client.lab.invalid',
      'mydomain = lab.invalid',
      `inet_protocols = ${o.inetProtocols ?? 'ipv4'}`,
      'smtp_address_preference = ipv4',
      'smtp_host_lookup = dns',
      '',
    ].join('\n'),
  );
}

export interface FingerOptions {
  port?: 25 | 465 | 587;
  /** TLS from the first byte (port 465); defaults to true on 465. */
  implicitTls?: boolean;
  timeoutSec?: number;
  /** `-a`: exhaust this address family first (needs a config with inet_protocols = all). */
  family?: 'ipv4' | 'ipv6';
}

export interface FingerResult {
  verified: boolean;
  untrusted: boolean;
  output: string;
  /** The TLSA record that matched, e.g. "3 1 1 ab12...", when posttls-finger reports one. */
  matched?: string;
  exitCode: number | null;
}

export function parseFinger(output: string, exitCode: number | null): FingerResult {
  const verified = /Verified TLS connection established/.test(output);
  const untrusted = /Untrusted TLS connection established/.test(output);
  const m = /Matched DANE (?:EE|TA) (?:certificate|public key)[^:]*:\s*([0-3] [01] [0-2](?: [0-9a-fA-F]+)?)/.exec(output);
  return { verified, untrusted, output, exitCode, ...(m?.[1] ? { matched: m[1] } : {}) };
}

export async function runFinger(o: {
  postfixDir: string;
  confDir: string;
  resolvConf: string;
  target: string;
  opts: FingerOptions;
}): Promise<FingerResult> {
  if (!/^[A-Za-z0-9.-]+$/.test(o.target)) throw new Error(`posttlsFinger: bad target ${JSON.stringify(o.target)}`);
  const port = o.opts.port ?? 25;
  const implicit = o.opts.implicitTls ?? port === 465;
  const timeout = o.opts.timeoutSec ?? 10;
  const args = ['-c', '-l', 'dane', '-t', String(timeout), '-T', String(timeout), ...(implicit ? ['-w'] : []), ...(o.opts.family ? ['-a', o.opts.family] : [])];
  const dest = port === 25 ? o.target : `${o.target}:${port}`;
  const env = {
    ...process.env,
    LD_LIBRARY_PATH: join(o.postfixDir, 'usr/lib/postfix'),
    MAIL_CONFIG: o.confDir,
  };
  const r = await run(
    [
      'unshare', '-m', 'sh', '-c',
      'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"',
      'sh', o.resolvConf, binPath(o.postfixDir), ...args, dest,
    ],
    { env, timeoutMs: (timeout * 3 + 10) * 1000 },
  );
  return parseFinger(r.stdout + r.stderr, r.code);
}
