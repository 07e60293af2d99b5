import { parseBundle, type Certificate, type CertificateCache } from '../tlsa/certificate.js';
import { ProblemError, problem, type Problem } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';
import { describeReadError, MAX_CERT_BYTES } from '../util/bounded-read.js';

export type SniRule = 'exact' | 'wildcard' | 'service';

/** The certificate Exim presents for one SNI name, and which of cPanel's rules chose it. */
export interface ServedCertificate {
  /** Server path of the file Exim reads (`/var/cpanel/ssl/domain_tls/<name>/combined`, `/etc/exim.crt`). */
  source: string;
  rule: SniRule;
  /** Leaf first, then the chain Exim sends with it. */
  chain: Certificate[];
}

const DOMAIN_TLS = '/var/cpanel/ssl/domain_tls';

/**
 * cPanel's generated exim.conf picks `tls_certificate` per connection: the SNI name's own
 * `domain_tls/<sni>/combined`, else a wildcard `domain_tls/*.<parent>/combined`, else the service
 * certificate (`/etc/myexim.crt` when it and its key exist, else `/etc/exim.crt`). All three
 * ports share this rule. `host` must already be a validated, lower-case name.
 */
export function eximCertificatePath(root: ServerRoot, host: string): { source: string; rule: SniRule } {
  const exact = `${DOMAIN_TLS}/${host}/combined`;
  if (root.exists(exact)) return { source: exact, rule: 'exact' };
  const dot = host.indexOf('.');
  if (dot > 0) {
    const wildcard = `${DOMAIN_TLS}/*.${host.slice(dot + 1)}/combined`;
    if (root.exists(wildcard)) return { source: wildcard, rule: 'wildcard' };
  }
  if (root.exists('/etc/myexim.crt') && root.exists('/etc/myexim.key')) return { source: '/etc/myexim.crt', rule: 'service' };
  return { source: '/etc/exim.crt', rule: 'service' };
}

/**
 * Reads served certificates once per file per run: the hostname's service certificate and
 * wildcards are shared by many MX hosts.
 */
export class CertificateReader {
  private readonly cache = new Map<string, ServedCertificate | Problem>();
  private readonly certificates: CertificateCache = new Map();
  constructor(private readonly root: ServerRoot) {}

  servedFor(host: string): ServedCertificate | Problem {
    const { source, rule } = eximCertificatePath(this.root, host);
    const hit = this.cache.get(source);
    if (hit) return hit;
    const result = this.read(source, rule);
    this.cache.set(source, result);
    return result;
  }

  private read(source: string, rule: SniRule): ServedCertificate | Problem {
    let bytes: Buffer;
    try {
      bytes = this.root.readBytes(source, MAX_CERT_BYTES);
    } catch (err) {
      const why = describeReadError(err);
      return problem('cert-unreadable', `${source} ${why}, so Exim has no certificate to present here.`, {
        fix: rule === 'service'
          ? 'Install a certificate for Exim in WHM » Service Configuration » Manage Service SSL Certificates.'
          : 'Reinstall the certificate for this domain, or run AutoSSL.',
        subject: source,
        severity: 'error',
      });
    }
    try {
      return { source, rule, chain: parseBundle(bytes, source, this.certificates).certificates };
    } catch (err) {
      if (err instanceof ProblemError) return { ...err.problem, severity: 'error' };
      throw err;
    }
  }
}
