// The independent judge of an MTA-STS policy: Debian's postfix-mta-sts-resolver (`mta-sts-query`),
// run in a private mount namespace whose /etc/resolv.conf names the lab resolver (its c-ares and
// aiohttp lookups read that file) and with SSL_CERT_FILE = the lab CA only (Python's default SSL
// context trusts exactly that file), so it sees what a sender on the lab network would.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { run } from './proc.js';

export interface JudgeResult {
  /** VALID, NONE, FETCH_ERROR or NOT_CHANGED (postfix_mta_sts_resolver.resolver.STSFetchResult). */
  result: string;
  id?: string;
  mode?: string;
  mx?: string[];
  maxAge?: number;
  output: string;
}

export async function mtaStsQuery(o: { resolvConf: string; caFile: string; domain: string; knownId?: string }): Promise<JudgeResult> {
  if (!/^[A-Za-z0-9.-]+$/.test(o.domain)) throw new Error(`mtaStsQuery: bad domain ${JSON.stringify(o.domain)}`);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', SSL_CERT_FILE: o.caFile, SSL_CERT_DIR: '/nonexistent' };
  const r = await run(['unshare', '-m', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', 'sh', o.resolvConf, '/usr/bin/mta-sts-query', o.domain, ...(o.knownId ? [o.knownId] : [])], { env, timeoutMs: 30_000 });
  const output = r.stdout + r.stderr;
  // It prints the tuple it got: (<STSFetchResult.VALID: 1>, ('id', {'version': 'STSv1', 'mode': …, 'mx': [...], 'max_age': N}))
  const result = /STSFetchResult\.([A-Z_]+)/.exec(r.stdout)?.[1] ?? 'UNKNOWN';
  const id = /\(<STSFetchResult\.VALID: \d+>, \('([^']*)'/.exec(r.stdout)?.[1];
  const mode = /'mode': '([^']*)'/.exec(r.stdout)?.[1];
  const mxList = /'mx': \[([^\]]*)\]/.exec(r.stdout)?.[1];
  const mx = mxList === undefined ? undefined : [...mxList.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
  const age = /'max_age': (\d+)/.exec(r.stdout)?.[1];
  return { result, output, ...(id !== undefined ? { id } : {}), ...(mode !== undefined ? { mode } : {}), ...(mx ? { mx } : {}), ...(age ? { maxAge: Number(age) } : {}) };
}

/**
 * posttls-finger at Postfix's PKIX `secure` level for an MX host, trusting only `caFile`, the
 * names to match being the MX host's (what an MTA-STS sender requires, RFC 8461 §4.2), with SNI
 * (`-s`: posttls-finger sends none by default at this level, and cPanel's Exim picks the MX
 * name's certificate by SNI; without it Exim presents the hostname's). `match`: other names to
 * match instead, as postfix-mta-sts-resolver hands them to Postfix (`match=` with a policy's
 * `*.parent` written `.parent`).
 */
export async function posttlsSecure(o: { postfixDir: string; confDir: string; resolvConf: string; host: string; caFile: string; match?: string[] }): Promise<{ verified: boolean; output: string }> {
  if (!/^[A-Za-z0-9.-]+$/.test(o.host)) throw new Error(`posttlsSecure: bad host ${JSON.stringify(o.host)}`);
  const env = { ...process.env, LD_LIBRARY_PATH: `${o.postfixDir}/usr/lib/postfix`, MAIL_CONFIG: o.confDir };
  const r = await run(['unshare', '-m', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', 'sh', o.resolvConf, `${o.postfixDir}/usr/sbin/posttls-finger`, '-c', '-l', 'secure', '-s', o.host, '-F', o.caFile, '-t', '10', '-T', '10', o.host, ...(o.match ?? [o.host])], { env, timeoutMs: 60_000 });
  const output = r.stdout + r.stderr;
  return { verified: /Verified TLS connection established/.test(output), output };
}

/**
 * The policy body as a sender's HTTPS client gets it, by curl in the same kind of namespace (lab
 * resolver, lab CA only, no redirect), and the first 32 hex digits of its SHA-256 by sha256sum:
 * the id TLSA Manager's record must announce for that text (its ids are that hash).
 */
export async function servedPolicy(o: { resolvConf: string; caFile: string; domain: string }): Promise<{ status: string; body: string; sha256id: string | null }> {
  if (!/^[A-Za-z0-9.-]+$/.test(o.domain)) throw new Error(`servedPolicy: bad domain ${JSON.stringify(o.domain)}`);
  const url = `https://mta-sts.${o.domain}/.well-known/mta-sts.txt`;
  const script = 'mount --bind "$1" /etc/resolv.conf && curl -sS --max-time 10 --proto =https --cacert "$2" -o "$3" -w "%{http_code}" "$4" && sha256sum "$3"';
  const tmp = `/tmp/tlsa-lab-policy-${process.pid}-${Date.now()}`;
  const r = await run(['unshare', '-m', 'sh', '-c', script, 'sh', o.resolvConf, o.caFile, tmp, url], { timeoutMs: 30_000 });
  const status = /^(\d{3})/.exec(r.stdout)?.[1] ?? 'none';
  const hash = /([0-9a-f]{64})\s/.exec(r.stdout)?.[1];
  const body = existsSync(tmp) ? readFileSync(tmp, 'utf8') : '';
  rmSync(tmp, { force: true });
  return { status, body, sha256id: status === '200' && hash ? hash.slice(0, 32) : null };
}
