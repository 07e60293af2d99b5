import { expiresSoon } from './expiry.js';
import { problem, type Problem } from '../problem.js';
import { certificateCoversHost, isSelfSigned, type Certificate } from './certificate.js';
import type { TlsaParams } from './types.js';

export interface LintContext {
  /** The MX host name the record is for (TLSA base domain). */
  host?: string;
  now: Date;
  /** Warn when the certificate expires within this many days. */
  expiringDays?: number;
}


/**
 * RFC 7672 rules for a record about to be published for SMTP. Returns warnings and errors;
 * an error means senders would not authenticate with this record.
 */
export function lintRecord(params: TlsaParams, chain: Certificate[], ctx: LintContext): Problem[] {
  const out: Problem[] = [];
  const leaf = chain[0];
  if (!leaf) return [problem('cert-missing', 'No certificate to check.', { severity: 'error' })];
  const rr = `${params.usage} ${params.selector} ${params.matchingType}`;
  const where = ctx.host ? ` for ${ctx.host}` : '';

  if (params.usage === 0 || params.usage === 1) {
    out.push(
      problem('usage-unusable-smtp', `A "${rr}" record${where} uses PKIX usage ${params.usage}, which SMTP senders ignore (RFC 7672).`, {
        fix: 'Use "3 1 1" (the server key) plus "2 1 1" (the issuing CA) instead.',
        severity: 'error',
      }),
    );
  }
  if (params.selector === 0 && !isSelfSigned(leaf)) {
    out.push(
      problem('selector-full-cert', `A "${rr}" record${where} pins the whole certificate, so it breaks at every renewal even when the key stays.`, {
        fix: 'Use selector 1 (public key): "3 1 1" / "2 1 1".',
        severity: 'warning',
      }),
    );
  }
  if (params.usage === 2 || params.usage === 0) {
    const hasIssuer = chain.slice(1).some((c) => c.subjectDer.equals(leaf.issuerDer));
    if (!hasIssuer) {
      out.push(
        problem('anchor-not-in-chain', `A "${rr}" record${where} pins the issuing CA, but the server does not send that CA certificate.`, {
          fix: 'Install the certificate with its CA bundle so Exim sends the intermediate.',
          severity: 'error',
        }),
      );
    }
    if (ctx.host && !certificateCoversHost(leaf, ctx.host)) {
      out.push(
        problem('name-mismatch', `The certificate does not cover ${ctx.host}; senders check names for usage 2 records.`, {
          fix: `Get a certificate that includes ${ctx.host} (AutoSSL covers mail.<domain> when DNS points here).`,
          severity: 'error',
        }),
      );
    }
  }
  const msLeft = leaf.notAfter.getTime() - ctx.now.getTime();
  if (msLeft < 0) {
    out.push(
      problem('cert-expired', `The certificate${where} expired on ${leaf.notAfter.toISOString().slice(0, 10)}.`, {
        fix: 'Renew it (WHM » Manage AutoSSL » Run AutoSSL). DANE-EE (usage 3) still validates, but usage 2 and non-DANE senders fail.',
        severity: params.usage === 2 ? 'error' : 'warning',
      }),
    );
  } else if (expiresSoon(leaf.notAfter, ctx.now, ctx.expiringDays)) {
    out.push(
      problem('cert-expiring', `The certificate${where} expires on ${leaf.notAfter.toISOString().slice(0, 10)}.`, {
        fix: 'Check that AutoSSL can renew it (WHM » Manage AutoSSL » Logs).',
        severity: 'warning',
      }),
    );
  }
  return out;
}
