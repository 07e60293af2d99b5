/**
 * RFC 7672 TLSA matching: does the chain an SMTP server presented satisfy its TLSA RRset?
 *
 * - DANE-EE (3): the leaf alone; names and dates are ignored (RFC 7672 §3.1.1).
 * - DANE-TA (2): the anchor must be a certificate the server SENT (§3.1.2); then the usual path
 *   check from the leaf up to it: signatures, CA flags, validity at `now`, and the leaf must carry
 *   one of the reference names (MX host, TLSA base domain; §3.2.3). The anchor's own dates are not
 *   checked: RFC 5280 treats a trust anchor as a key and a name, not as a certificate.
 * - PKIX-TA (0) and PKIX-EE (1) are unusable for SMTP (§3.1.3), as are unknown parameters.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRdata } from '../tlsa/types.js';
import { formatRdata, tlsaRdataFault } from '../tlsa/types.js';

export interface TlsaMatch {
  record: TlsaRdata;
  /** Chain position of the certificate the record matched: 0 = leaf. */
  depth: number;
}

/**
 * Why a usable record did not authenticate the chain, as a kind a diagnosis can name:
 * - `ee-mismatch`: a 3 x x record for another key;
 * - `anchor-not-sent`: a 2 x x record matching no certificate the server sent;
 * - `no-path`: the matched certificate does not sign the leaf;
 * - `expired` / `not-yet-valid`: a certificate below the anchor is outside its dates (`depth` says which);
 * - `not-ca`: an intermediate without the CA flag;
 * - `name`: the leaf does not carry the MX host name or TLSA base domain.
 */
export type FailureCause = 'ee-mismatch' | 'anchor-not-sent' | 'no-path' | 'expired' | 'not-yet-valid' | 'not-ca' | 'name';

export interface RecordFailure {
  record: TlsaRdata;
  cause: FailureCause;
  /** Chain position the cause is about (0 = leaf), when there is one. */
  depth?: number;
}

export interface MatchResult {
  matched: boolean;
  usable: TlsaRdata[];
  unusable: TlsaRdata[];
  /** The first record that authenticates the chain. */
  match?: TlsaMatch;
  /** Every record that authenticates the chain (rollover reporting needs all of them). */
  matches: TlsaMatch[];
  /** One sentence per record that did not help, and why. */
  reasons: string[];
  /** The same as `reasons`, as values (usable records only). */
  failures: RecordFailure[];
}

export interface MatchOptions {
  /** Reference identifiers for DANE-TA: the MX host name and the TLSA base domain. */
  hostnames: string[];
  now: Date;
}

const MAX_PATH = 16;

/** Why a record cannot be used for SMTP, or null when it can. */
export function unusableReason(r: TlsaRdata): string | null {
  if (r.usage === 0 || r.usage === 1) return `usage ${r.usage} (PKIX) is not used by SMTP senders (RFC 7672 §3.1.3)`;
  return tlsaRdataFault(r);
}

/** What a record with these parameters carries for `cert` (node:crypto, independent of src/tlsa). */
function associationData(cert: X509Certificate, selector: 0 | 1, matchingType: 0 | 1 | 2): string {
  const bytes = selector === 0 ? cert.raw : cert.publicKey.export({ type: 'spki', format: 'der' });
  if (matchingType === 0) return bytes.toString('hex');
  return createHash(matchingType === 1 ? 'sha256' : 'sha512').update(bytes).digest('hex');
}

function recordMatches(r: TlsaRdata, cert: X509Certificate): boolean {
  return associationData(cert, r.selector, r.matchingType) === r.data.toLowerCase();
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  // checkIssued compares names (and key identifiers); verify proves the signature.
  return child.checkIssued(parent) && child.verify(parent.publicKey);
}

/**
 * A path leaf → … → anchor through the sent certificates, each signed by the next; null if none.
 * Sent order is not trusted: servers send unrelated or misordered certificates.
 */
function buildPath(certs: X509Certificate[], anchorIndex: number): X509Certificate[] | null {
  const anchor = certs[anchorIndex]!;
  const leaf = certs[0]!;
  if (anchorIndex === 0) return [leaf];
  const walk = (path: X509Certificate[], used: Set<number>): X509Certificate[] | null => {
    const current = path[path.length - 1]!;
    if (issuedBy(current, anchor)) return [...path, anchor];
    if (path.length >= MAX_PATH) return null;
    for (let i = 1; i < certs.length; i++) {
      if (used.has(i) || i === anchorIndex) continue;
      const c = certs[i]!;
      if (!issuedBy(current, c)) continue;
      const found = walk([...path, c], new Set([...used, i]));
      if (found) return found;
    }
    return null;
  };
  return walk([leaf], new Set([0]));
}

interface PathFault {
  cause: FailureCause;
  depth: number;
  why: string;
}

/** Path checks below the anchor: dates, CA flags, and the leaf's name. Returns the fault or null. */
function checkPath(path: X509Certificate[], hostnames: string[], now: Date): PathFault | null {
  const t = now.getTime();
  const belowAnchor = path.length === 1 ? path : path.slice(0, -1);
  for (let i = 0; i < belowAnchor.length; i++) {
    const c = belowAnchor[i]!;
    const who = i === 0 ? 'the server certificate' : `the certificate at depth ${i} (${c.subject.replace(/\n/g, ', ')})`;
    if (t < Date.parse(c.validFrom)) return { cause: 'not-yet-valid', depth: i, why: `${who} is not valid until ${new Date(c.validFrom).toISOString()}` };
    if (t > Date.parse(c.validTo)) return { cause: 'expired', depth: i, why: `${who} expired on ${new Date(c.validTo).toISOString()}` };
    if (i > 0 && !c.ca) return { cause: 'not-ca', depth: i, why: `${who} is not a CA certificate but signs the one below it` };
  }
  const leaf = path[0]!;
  if (!hostnames.some((h) => leaf.checkHost(h) !== undefined)) {
    return { cause: 'name', depth: 0, why: `the server certificate is not valid for ${hostnames.join(' or ') || '(no host name given)'}` };
  }
  return null;
}

function parseChain(chain: Buffer[]): { certs: X509Certificate[]; error?: string } {
  const certs: X509Certificate[] = [];
  for (let i = 0; i < chain.length; i++) {
    try {
      certs.push(new X509Certificate(chain[i]!));
    } catch {
      // A broken certificate ends the usable chain: nothing above it can be placed.
      return { certs, error: `the certificate at depth ${i} could not be parsed` };
    }
  }
  return { certs };
}

export function matchTlsa(records: TlsaRdata[], chain: Buffer[], opts: MatchOptions): MatchResult {
  const usable: TlsaRdata[] = [];
  const unusable: TlsaRdata[] = [];
  const reasons: string[] = [];
  for (const r of records) {
    const why = unusableReason(r);
    if (why) {
      unusable.push(r);
      reasons.push(`${formatRdata(r)}: unusable, ${why}.`);
    } else usable.push(r);
  }
  const matches: TlsaMatch[] = [];
  const failures: RecordFailure[] = [];
  const done = (): MatchResult => {
    const result: MatchResult = { matched: matches.length > 0, usable, unusable, matches, reasons, failures };
    if (matches[0]) result.match = matches[0];
    return result;
  };
  if (chain.length === 0) {
    reasons.push('The server presented no certificate.');
    return done();
  }
  const { certs, error } = parseChain(chain);
  if (error) reasons.push(`${error[0]!.toUpperCase()}${error.slice(1)}.`);
  if (certs.length === 0) return done();
  const hostnames = opts.hostnames.map((h) => h.toLowerCase().replace(/\.$/, ''));

  for (const r of usable) {
    const label = formatRdata(r);
    if (r.usage === 3) {
      if (recordMatches(r, certs[0]!)) matches.push({ record: r, depth: 0 });
      else {
        reasons.push(`${label}: does not match the server certificate.`);
        failures.push({ record: r, cause: 'ee-mismatch', depth: 0 });
      }
      continue;
    }
    const depths = certs.map((c, i) => (recordMatches(r, c) ? i : -1)).filter((i) => i >= 0);
    if (depths.length === 0) {
      reasons.push(`${label}: matches no certificate the server sent (a DANE-TA anchor must be in the presented chain).`);
      failures.push({ record: r, cause: 'anchor-not-sent' });
      continue;
    }
    let fault: PathFault | null = null;
    for (const depth of depths) {
      const path = buildPath(certs, depth);
      if (!path) {
        fault = { cause: 'no-path', depth, why: `the certificate at depth ${depth} does not sign the server certificate (directly or through the sent intermediates)` };
        continue;
      }
      fault = checkPath(path, hostnames, opts.now);
      if (fault) continue;
      matches.push({ record: r, depth });
      break;
    }
    if (fault) {
      reasons.push(`${label}: matches a sent certificate, but ${fault.why}.`);
      failures.push({ record: r, cause: fault.cause, depth: fault.depth });
    }
  }
  return done();
}
