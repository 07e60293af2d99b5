// The independent judge of an MTA-STS policy: Debian's postfix-mta-sts-resolver (`mta-sts-query`),
// run in a private mount namespace whose /etc/resolv.conf names the lab resolver (its c-ares and
// aiohttp lookups read that file) and with SSL_CERT_FILE = the lab CA only (Python's default SSL
// context trusts exactly that file), so it sees what a sender on the lab network would.
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
 * name's certificate by SNI; without it Exim presents the hostname's).
 */
export async function posttlsSecure(o: { postfixDir: string; confDir: string; resolvConf: string; host: string; caFile: string }): Promise<{ verified: boolean; output: string }> {
  if (!/^[A-Za-z0-9.-]+$/.test(o.host)) throw new Error(`posttlsSecure: bad host ${JSON.stringify(o.host)}`);
  const env = { ...process.env, LD_LIBRARY_PATH: `${o.postfixDir}/usr/lib/postfix`, MAIL_CONFIG: o.confDir };
  const r = await run(['unshare', '-m', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', 'sh', o.resolvConf, `${o.postfixDir}/usr/sbin/posttls-finger`, '-c', '-l', 'secure', '-s', o.host, '-F', o.caFile, '-t', '10', '-T', '10', o.host, o.host], { env, timeoutMs: 60_000 });
  const output = r.stdout + r.stderr;
  return { verified: /Verified TLS connection established/.test(output), output };
}
