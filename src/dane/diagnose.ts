/**
 * Names the real cause behind a DANE result, each with its fix (issue 9). The verdict says
 * whether a sender authenticates (and agrees with posttls-finger); these problems say WHY a record
 * did not help, so an admin fixes the right thing:
 *
 * - `dane-ta-name-mismatch`: a `2 x x` record matches the chain, but the certificate does not name
 *   the MX host. DANE-TA checks names; DANE-EE (`3 1 1`) does not.
 * - `dane-ta-leaf-only`: `2 x x` published, but the server sends only its own certificate, so no
 *   intermediate is there to match (RFC 7672 §3.1.2: the anchor must be in the sent chain).
 * - `certificate-self-signed`: subject = issuer and no chain (cPanel's placeholder when the hostname
 *   certificate lapses): `3 1 1` for its key works, `2 1 1` cannot.
 * - `dane-ta-leaf-expired`: `2 x x` matches, but the leaf is outside its validity dates. DANE-TA
 *   checks dates; DANE-EE does not.
 * - `tlsa-answer-large`: the signed TLSA answer does not fit the 1232-byte EDNS buffer, so senders
 *   need TCP (a warning: most retry over TCP, so the verdict does not change).
 *
 * Severity: `error` when nothing matched (this is why the port fails), `warning` when another
 * record authenticates today (this record will not carry the next key change).
 */
import { X509Certificate } from 'node:crypto';
import { problem, type Problem } from '../problem.js';
import { formatRdata, type TlsaRdata } from '../tlsa/types.js';
import type { MatchResult, RecordFailure } from './match.js';
import type { TlsaAnswerSize } from './verdict.js';


export interface PortContext {
  /** The TLSA base domain the name check used (SNI), and the MX host. */
  host: string;
  /** "host [address]:port" for messages. */
  at: string;
  /** The TLSA owner the records came from. */
  owner: string;
}

/** Subject = issuer, signed by its own key, and nothing sent above it. */
export function isSelfSignedAlone(chain: Buffer[]): boolean {
  if (chain.length !== 1) return false;
  try {
    const c = new X509Certificate(chain[0]!);
    return c.subject === c.issuer && c.checkIssued(c) && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

function names(chain: Buffer[]): string {
  try {
    const c = new X509Certificate(chain[0]!);
    const alt = (c.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1];
    const all = alt.length > 0 ? alt : cn ? [cn] : [];
    return all.length > 0 ? all.slice(0, 5).join(', ') + (all.length > 5 ? ', …' : '') : 'none';
  } catch {
    return 'unreadable';
  }
}

function notAfter(chain: Buffer[]): string {
  try {
    return new Date(new X509Certificate(chain[0]!).validTo).toISOString().slice(0, 10);
  } catch {
    return 'an unknown date';
  }
}

const list = (rs: TlsaRdata[]): string => rs.map((r) => `"${formatRdata(r).split(' ').slice(0, 3).join(' ')}"`).filter((v, i, a) => a.indexOf(v) === i).join(', ');
const usage2 = (fs: RecordFailure[], ...causes: RecordFailure['cause'][]): TlsaRdata[] => fs.filter((f) => f.record.usage === 2 && causes.includes(f.cause)).map((f) => f.record);

/** The causes behind one port's match result, most specific first. */
export function diagnosePort(m: MatchResult, chain: Buffer[], c: PortContext): Problem[] {
  if (chain.length === 0) return [];
  const severity = m.matched ? 'warning' : 'error';
  const later = m.matched ? ' Another record authenticates today, but this one will not carry the next key change.' : '';
  const out: Problem[] = [];
  const notSent = usage2(m.failures, 'anchor-not-sent');
  if (isSelfSignedAlone(chain)) {
    const ta = notSent.length > 0;
    // The cause of a failure only when DANE-TA records are what failed; beside a 3 1 1 mismatch it is a note.
    const cause = !m.matched && (ta || m.failures.every((f) => f.record.usage === 2));
    out.push(problem(
      'certificate-self-signed',
      `${c.at} presents a self-signed certificate (subject = issuer, no chain), like cPanel's placeholder when the hostname certificate lapses: a "3 1 1" record for its key still authenticates, ${ta ? `the ${list(notSent)} record(s) at ${c.owner} cannot` : '"2 1 1" records cannot'}.`,
      { severity: cause ? 'error' : 'warning', subject: c.host, fix: `Let AutoSSL issue a real certificate for ${c.host} (WHM » Manage AutoSSL), then publish its records; until then only "3 1 1" works.` },
    ));
  } else if (chain.length === 1 && notSent.length > 0) {
    out.push(problem(
      'dane-ta-leaf-only',
      `${c.at} sends only its own certificate, no intermediate, so the ${list(notSent)} record(s) at ${c.owner} have nothing to match (a DANE-TA anchor must be in the chain the server sends).${later}`,
      { severity, subject: c.host, fix: `Install the certificate for ${c.host} together with its CA bundle (WHM » Manage SSL Hosts, or let AutoSSL reinstall it) so Exim sends the intermediate; "3 1 1" (DANE-EE) does not need it.` },
    ));
  }
  const named = usage2(m.failures, 'name');
  if (named.length > 0) {
    out.push(problem(
      'dane-ta-name-mismatch',
      // RFC 7672 §3.2.3: DANE-TA checks names. The records still belong in the plan: they pin the CA that
      // issues the certificate AutoSSL makes for this name, which they validate from its first use.
      `The ${list(named)} record(s) at ${c.owner} match the chain ${c.at} sends, but the certificate's names (${names(chain)}) do not cover ${c.host}: DANE-TA checks the name, "3 1 1" (DANE-EE) does not depend on names.${m.matched ? ` Today the "3 1 1" record authenticates; the ${list(named)} record(s) are there for the certificate AutoSSL issues for ${c.host}, which they validate from its first use.` : ''}`,
      { severity, subject: c.host, fix: `Let AutoSSL issue a certificate that names ${c.host}: WHM » SSL/TLS » Manage AutoSSL » Manage Users, run AutoSSL for the account that owns ${c.host} (its DNS must point here).` },
    ));
  }
  const dated = m.failures.filter((f) => f.record.usage === 2 && (f.cause === 'expired' || f.cause === 'not-yet-valid') && f.depth === 0).map((f) => f.record);
  if (dated.length > 0) {
    out.push(problem(
      'dane-ta-leaf-expired',
      `The ${list(dated)} record(s) at ${c.owner} match the chain ${c.at} sends, but its certificate is outside its validity dates (not after ${notAfter(chain)}): DANE-TA checks validity, "3 1 1" (DANE-EE) does not.${later}`,
      { severity, subject: c.host, fix: `Renew the certificate for ${c.host} (WHM » Manage AutoSSL) and keep a "3 1 1" record for the served key: DANE-EE does not depend on dates.` },
    ));
  }
  return out;
}

/** The signed TLSA answer at `owner` does not fit one UDP message at the 1232-byte buffer, at the resolver or at this server's DNS. */
export function answerSizeProblem(size: TlsaAnswerSize, limit: number): Problem | null {
  const over = (bytes: number | null, truncated: boolean): boolean => truncated || (bytes !== null && bytes > limit);
  const amount = (bytes: number | null): string => (bytes === null ? 'larger than' : `${bytes} bytes, over`);
  const legs: string[] = [];
  const auth = size.authoritative;
  if (auth && over(auth.bytes, auth.truncated)) legs.push(`${amount(auth.bytes)} the ${limit}-byte EDNS buffer as this server's DNS (${auth.server}) sends it to resolvers`);
  if (over(size.bytes, size.truncated)) legs.push(`${amount(size.bytes)} the ${limit}-byte EDNS buffer as the validating resolver returns it`);
  if (legs.length === 0) return null;
  return problem(
    'tlsa-answer-large',
    `The signed TLSA answer at ${size.owner} (${size.records} record(s)) is ${legs.join(', and ')}: resolvers use a ${limit}-byte buffer since DNS Flag Day 2020, so it comes back truncated and must be fetched again over TCP (some senders fail).`,
    { severity: 'warning', subject: size.owner, fix: 'Publish fewer TLSA records at this owner (policy.maxRecordsPerOwner), or sign the zone with an ECDSA key (algorithm 13), whose signatures are far smaller than RSA ones.' },
  );
}
