import { createHash } from 'node:crypto';
import { problem, type Problem, isProblem } from '../problem.js';
import { findIssuer, type Certificate } from './certificate.js';
import type { MatchingType, Selector, TlsaParams, TlsaRdata } from './types.js';

/** The bytes a selector picks: 0 = whole certificate, 1 = SubjectPublicKeyInfo. */
export function selectedBytes(cert: Certificate, selector: Selector): Buffer {
  return selector === 0 ? cert.der : cert.spki;
}

/** TLSA association data (lower-case hex) for one certificate. */
export function associationData(cert: Certificate, selector: Selector, matchingType: MatchingType): string {
  if (selector === 1 && matchingType === 1) return cert.spkiSha256;
  if (selector === 0 && matchingType === 1) return cert.sha256;
  const bytes = selectedBytes(cert, selector);
  if (matchingType === 0) return bytes.toString('hex');
  return createHash(matchingType === 1 ? 'sha256' : 'sha512').update(bytes).digest('hex');
}

/**
 * The certificate a record with these params is about: the leaf for usages 1 and 3; for usages
 * 0 and 2 the leaf's issuer as found in the chain the server sends (DANE-TA must be in that chain).
 */
export function subjectCertificate(chain: Certificate[], usage: number): Certificate | Problem {
  const leaf = chain[0];
  if (!leaf) return problem('cert-missing', 'No certificate to compute a record from.');
  if (usage === 1 || usage === 3) return leaf;
  const issuer = findIssuer(leaf, chain);
  if (issuer) return issuer;
  return problem(
    'issuer-not-in-chain',
    `The certificate for ${leaf.dnsNames[0] ?? leaf.subject} does not come with its issuer certificate, so a usage ${usage} record has nothing to pin.`,
    { fix: 'Install the certificate together with its CA bundle (cPanel "combined" files normally include it).' },
  );
}

export function computeRdata(chain: Certificate[], params: TlsaParams): TlsaRdata | Problem {
  const cert = subjectCertificate(chain, params.usage);
  if (isProblem(cert)) return cert;
  return { ...params, data: associationData(cert, params.selector, params.matchingType) };
}
