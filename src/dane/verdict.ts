import { EXPIRING_DAYS } from '../tlsa/expiry.js';
import type { Problem } from '../problem.js';
import type { TlsaRdata } from '../tlsa/types.js';

/**
 * The fixed vocabulary of DANE verdicts. Every check result, in the CLI, the web app and the
 * state database, is one of these, with one sentence and the fix (Mail-in-a-Box's tone).
 */
export const VERDICTS = {
  valid: { rank: 0, severity: 'ok', label: 'Valid', explain: 'DANE-validating senders authenticate this server.', fix: '' },
  expiring: { rank: 1, severity: 'warn', label: 'Expiring', explain: `DANE validates, but the certificate expires within ${EXPIRING_DAYS} days.`, fix: 'Check that AutoSSL can renew it (WHM » SSL/TLS » Manage AutoSSL » Logs).' },
  // RFC 7672 §3.1.3: DANE-EE (3 x x) ignores the validity dates, so DANE senders still deliver; a
  // DANE-TA (2 x x) match and every sender that verifies certificates (MTA-STS) refuse it.
  expired: { rank: 2, severity: 'warn', label: 'Expired', explain: 'The certificate has expired: DANE-EE (3 1 x) senders still deliver, senders that verify certificates (MTA-STS) refuse it, opportunistic senders do not care.', fix: 'Renew it: WHM » SSL/TLS » Manage AutoSSL » Run AutoSSL For All Users (the new certificate validates at once through the published 2 1 1 records).' },
  'no-tlsa': { rank: 3, severity: 'info', label: 'Not protected', explain: 'The zone is signed but publishes no TLSA records, so senders use unauthenticated TLS.', fix: 'Publish the records for the served certificate.' },
  'no-dnssec': { rank: 4, severity: 'info', label: 'No DNSSEC', explain: 'The zone is not signed, so senders ignore any TLSA records.', fix: 'Enable DNSSEC signing for the zone, then give its DS record to the registrar (the DNSSEC panel shows both steps).' },
  'no-ds': { rank: 5, severity: 'warn', label: 'No DS at registrar', explain: 'The zone is signed but its parent has no DS record, so nobody can validate it.', fix: 'Give the zone\'s DS record (shown in the DNSSEC panel) to the domain\'s registrar.' },
  'tlsa-unusable': { rank: 6, severity: 'error', label: 'Unusable TLSA', explain: 'TLSA records exist but none is usable for SMTP (usages 0/1 or bad parameters): senders insist on TLS but cannot authenticate.', fix: 'Replace them with "3 1 1" and "2 1 1" records: take the records over (the domain page has the button).' },
  'insecure-mx': { rank: 7, severity: 'error', label: 'Insecure MX', explain: 'The MX or address records are not DNSSEC-secure, so senders do not use DANE for this host.', fix: 'Sign the zone that holds the MX host (and its CNAME targets) and publish its DS.' },
  'no-starttls': { rank: 8, severity: 'error', label: 'No STARTTLS', explain: 'TLSA records exist but the server does not offer STARTTLS: DANE senders will not deliver.', fix: 'Enable TLS in Exim (WHM » Exim Configuration Manager) and install a certificate.' },
  unreachable: { rank: 9, severity: 'error', label: 'Unreachable', explain: 'The mail server did not answer on this port.', fix: 'Check that Exim listens on the port and the firewall allows it.' },
  'tlsa-mismatch': { rank: 10, severity: 'error', label: 'TLSA mismatch', explain: 'No TLSA record matches the certificate the server presents: DANE senders refuse to deliver.', fix: 'Publish records for the served certificate now; senders retry, so mail is delayed, not lost.' },
  bogus: { rank: 11, severity: 'error', label: 'DNSSEC bogus', explain: 'DNSSEC validation fails for this name: resolvers return SERVFAIL and senders cannot even find the MX.', fix: 'Fix the zone signing or the DS at the registrar (a DS for a key no longer in use is the usual cause).' },
  'dns-error': { rank: 12, severity: 'error', label: 'DNS error', explain: 'The DNS lookups for this domain failed.', fix: 'Check the zone and the resolver.' },
  'resolver-not-validating': { rank: 13, severity: 'error', label: 'Resolver does not validate', explain: 'The resolver used for checks does not validate DNSSEC; results would be meaningless.', fix: 'Point "resolver" in the settings at a validating resolver (e.g. a local unbound).' },
} as const;

export type Verdict = keyof typeof VERDICTS;

/** Whether a DANE sender authenticates the server with this verdict (expiring and expired, through DANE-EE, still do). */
export function authenticates(verdict: string | null | undefined): boolean {
  return verdict === 'valid' || verdict === 'expiring' || verdict === 'expired';
}

/** "Broken": DANE senders cannot deliver or cannot authenticate (the verdicts of severity error). */
export function broken(verdict: Verdict): boolean {
  return VERDICTS[verdict].severity === 'error';
}

export function worst(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((a, b) => (VERDICTS[b].rank > VERDICTS[a].rank ? b : a), 'valid');
}

export interface PortCheck {
  port: number;
  address: string;
  verdict: Verdict;
  /** One sentence about this port, specific (names the record/certificate). */
  message: string;
  /** The record that matched and the chain depth it matched at. */
  matched?: { record: TlsaRdata; depth: number };
  /** SHA-256 of the leaf's SPKI as presented, lower-case hex. */
  presentedSpkiSha256?: string;
  presentedSubject?: string;
  presentedNotAfter?: string;
  /** Why records did not help here, each with its fix (src/dane/diagnose.ts); absent when none. */
  problems?: Problem[];
}

/** The signed TLSA answer as the resolver returned it, per owner looked up. */
export interface TlsaAnswerSize {
  owner: string;
  port: number;
  records: number;
  /** Bytes of the DNS message (over TCP when UDP was truncated); null when no answer arrived. */
  bytes: number | null;
  /** The UDP answer at a 1232-byte EDNS buffer had TC set: senders need TCP. */
  truncated: boolean;
  /**
   * The same answer from this server's DNS, asked without recursion like a resolver asks it (with
   * the authority section): present for zones hosted here.
   */
  authoritative?: { server: string; bytes: number | null; truncated: boolean };
}

export interface MxCheck {
  host: string;
  preference: number;
  /** After CNAME expansion (RFC 7672 §2.2.2). */
  expandedHost: string;
  addressesSecure: boolean;
  addresses: string[];
  tlsaOwner: string | null;
  tlsaSecure: boolean;
  tlsa: TlsaRdata[];
  /** One entry per port whose TLSA RRset was found (secure, non-empty). */
  tlsaAnswers?: TlsaAnswerSize[];
  ports: PortCheck[];
  verdict: Verdict;
  message: string;
  /** Host-level problems (answer size) and every port's problems, without duplicates. */
  problems?: Problem[];
}

export interface DomainCheck {
  domain: string;
  time: string;
  verdict: Verdict;
  message: string;
  fix: string;
  mxSecure: boolean;
  dnssec: { signed: boolean | null; ds: boolean | null };
  mx: MxCheck[];
  /** Every MX host's problems: the causes behind the verdict and warnings that do not change it. */
  problems?: Problem[];
}

/** Problems without repeats (same code, subject and message), in first-seen order. */
export function uniqueProblems(list: Problem[]): Problem[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const k = `${p.code}\u0000${p.subject ?? ''}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
