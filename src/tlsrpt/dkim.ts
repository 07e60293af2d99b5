import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { DnsClient } from '../resolver/stub-client.js';

/**
 * Whether a report mail is what it claims (issue 21: anyone can mail a report naming any
 * organisation): its DKIM signatures verified with mailauth (a well-kept implementation of RFC
 * 6376), the keys looked up through the resolver the checks use. Authenticated means one
 * signature verified; the signer is that signature's d= domain. A mail with no signature, or
 * none that verifies, is a claim, and its From domain stands in as the sender.
 */
export interface DkimOutcome {
  authenticated: boolean;
  /** d= of the first signature that verified, else null. */
  signer: string | null;
}

/** More signatures than any sender uses are not verified at all (each costs DNS lookups). */
const MAX_SIGNATURES = 5;

type Resolve = (name: string, rrtype: string) => Promise<string[][]>;

/** An error as node:dns throws it (mailauth tells "no key" from "try later" by its errno name). */
function dnsError(message: string, errno: 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT'): Error {
  return Object.assign(new Error(message), { code: errno });
}

/** mailauth asks for TXT records the way node:dns answers; the stub client gives the same data. */
function txtResolver(client: DnsClient): Resolve {
  return async (name, rrtype) => {
    if (rrtype !== 'TXT') throw dnsError(`${rrtype} is not looked up for DKIM`, 'ENOTFOUND');
    let a;
    try {
      a = await client.query(name, 'TXT');
    } catch {
      // A name the stub client refuses to ask for (a selector that is no DNS name): no key.
      throw dnsError(`${name} is not a name that can be looked up`, 'ENOTFOUND');
    }
    if (a.status === 'nxdomain') throw dnsError(`${name} does not exist`, 'ENOTFOUND');
    if (a.status === 'nodata') throw dnsError(`${name} has no TXT record`, 'ENODATA');
    if (a.status !== 'ok') throw dnsError(`${name}: ${a.error ?? a.status}`, 'ETIMEOUT');
    return a.records.filter((r) => r.type === 'TXT').map((r) => r.data as string[]);
  };
}

function signatureCount(raw: Buffer): number {
  const end = raw.indexOf('\r\n\r\n') >= 0 ? raw.indexOf('\r\n\r\n') : raw.indexOf('\n\n');
  const head = raw.subarray(0, end >= 0 ? end : Math.min(raw.length, 256 * 1024)).toString('latin1');
  return (head.match(/^dkim-signature:/gim) ?? []).length;
}

/**
 * The DKIM verdict of one raw mail. No DNS is asked when the mail carries no signature, or when
 * the server has no resolver to ask (no `resolver` setting and no /etc/resolv.conf: a test root).
 */
export async function verifyReportMail(ctx: AppContext, raw: Buffer, now: number): Promise<DkimOutcome> {
  const n = signatureCount(raw);
  if (n === 0 || n > MAX_SIGNATURES) return { authenticated: false, signer: null };
  if (!ctx.config.resolver && !ctx.root.stat('/etc/resolv.conf')) return { authenticated: false, signer: null };
  // Loaded here: only the importer needs it (like mailparser).
  const { dkimVerify } = await import('mailauth/lib/dkim/verify.js');
  const client = new DnsClient(resolverFor(ctx), { timeoutMs: 3000, retries: 1 });
  try {
    const r = await dkimVerify(raw, { resolver: txtResolver(client), curTime: new Date(now) });
    const pass = r.results.find((x) => x.status?.result === 'pass' && x.signingDomain);
    return pass ? { authenticated: true, signer: pass.signingDomain.toLowerCase().replace(/\.$/, '') } : { authenticated: false, signer: null };
  } catch (err) {
    ctx.logger.warn({ err: (err as Error).message }, 'DKIM verification of a TLS report failed; the report counts as not authenticated');
    return { authenticated: false, signer: null };
  }
}
