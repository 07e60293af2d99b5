/**
 * `mta-sts status`: a domain's MTA-STS as a sender sees it (RFC 8461 §3-5): the `_mta-sts` TXT
 * record (exactly one valid), the policy fetched over HTTPS with WebPKI validation, its syntax,
 * its MX patterns against the domain's MX records, and for each MX host the certificate its SMTP
 * server presents after STARTTLS (CA-valid and for the MX name, §4.2). Every problem is a
 * registered code with a fix. A `testing` policy with problems stays `testing` (senders only
 * report); `broken` is an `enforce` policy a sender would refuse to deliver under.
 */
import type { AppContext } from '../context.js';
import { resolverFor } from '../dane/check.js';
import { probeSmtp } from '../dane/smtp-probe.js';
import { problem, type Problem } from '../problem.js';
import { DnsClient, type MxData, type Resolver } from '../resolver/stub-client.js';
import { fetchPolicy, policyUrl } from './fetch.js';
import { isStsTxtText, parsePolicy, parseStsTxt, policyId, uncoveredMx, type MtaStsPolicy } from './policy.js';
import type { MtaStsDomainState } from './store.js';

export type StsState = 'none' | 'testing' | 'enforce' | 'broken';

export interface MxResult {
  host: string;
  address: string | null;
  /** Covered by a pattern of the policy. */
  covered: boolean;
  /** The certificate presented on port 25 is CA-valid for the name (null: not reached). */
  certificateValid: boolean | null;
  detail?: string;
}

export interface StsStatus {
  domain: string;
  state: StsState;
  id: string | null;
  policy: Pick<MtaStsPolicy, 'mode' | 'mx' | 'maxAge'> | null;
  served: boolean;
  certificate?: { subject: string; issuer: string; notAfter: string };
  mx: MxResult[];
  problems: Problem[];
}

export interface StatusOptions {
  resolver: Resolver;
  ca?: string;
  timeoutMs?: number;
  /** The domain's stored state (ours): an id that is not the served policy's is stale. */
  stored?: MtaStsDomainState | null;
  /** "ADDRESS:PORT" → where to connect instead (config checks.smtpEndpoints: the demo network). */
  smtpEndpoints?: Record<string, string>;
}

const MX_CERT_FIX = (host: string) => `Install a certificate from a public CA for ${host} on Exim (cPanel: WHM » Manage Service SSL Certificates, or AutoSSL for the hostname/mail domain) with the full chain; MTA-STS needs a CA chain, the MX name and valid dates (DANE-EE does not).`;

export async function mtaStsStatus(domain: string, opts: StatusOptions): Promise<StsStatus> {
  const client = new DnsClient(opts.resolver, { timeoutMs: Math.min(opts.timeoutMs ?? 10_000, 3000), retries: 1 });
  const problems: Problem[] = [];
  const out: StsStatus = { domain, state: 'none', id: null, policy: null, served: false, mx: [], problems };

  // 1. The TXT record: senders keep only records beginning v=STSv1; exactly one must remain (§3.1).
  const txt = await client.query(`_mta-sts.${domain}`, 'TXT');
  const texts = txt.status === 'ok' ? txt.records.map((r) => (Array.isArray(r.data) ? (r.data as string[]).join('') : String(r.data))).filter(isStsTxtText) : [];
  if (txt.status === 'timeout' || txt.status === 'error' || txt.status === 'servfail') {
    problems.push(problem('mta-sts-txt-missing', `The _mta-sts TXT record of ${domain} could not be read (${txt.error ?? txt.status}).`, { subject: domain, fix: 'Check the resolver and the zone; senders that cannot read it use no policy.' }));
  } else if (texts.length === 0) {
    problems.push(problem('mta-sts-txt-missing', `${domain} publishes no _mta-sts TXT record beginning v=STSv1, so senders do not look for a policy.`, { subject: domain, fix: `Publish _mta-sts.${domain} TXT "v=STSv1; id=<id>;" (TLSA Manager does it once the policy is served: mtaSts.publish).` }));
  } else if (texts.length > 1) {
    problems.push(problem('mta-sts-txt-invalid', `${domain} publishes ${texts.length} _mta-sts TXT records beginning v=STSv1; senders then assume no policy (RFC 8461 §3.1).`, { subject: domain, fix: `Keep exactly one v=STSv1 record at _mta-sts.${domain}.` }));
  } else {
    const parsed = parseStsTxt(texts[0]!);
    if ('fault' in parsed) problems.push(problem('mta-sts-txt-invalid', `The _mta-sts TXT record of ${domain} ("${texts[0]!.slice(0, 80)}") is not valid: ${parsed.fault}.`, { subject: domain, fix: 'Write it as "v=STSv1; id=<1 to 32 letters and digits>;".' }));
    else out.id = parsed.id;
  }

  // 2. The policy over HTTPS, validated by the WebPKI (§3.3).
  const got = await fetchPolicy(domain, { resolver: opts.resolver, ...(opts.ca ? { ca: opts.ca } : {}), timeoutMs: opts.timeoutMs ?? 10_000 });
  let policy: MtaStsPolicy | null = null;
  if (!got.ok) {
    problems.push(
      got.kind === 'certificate'
        ? problem('mta-sts-certificate-invalid', `${policyUrl(domain)}: ${got.reason}.`, { subject: domain, fix: `Let AutoSSL cover mta-sts.${domain} (WHM » Manage AutoSSL); its DNS must point at this server.` })
        : problem('mta-sts-policy-unreachable', `The policy of ${domain} cannot be fetched: ${got.reason}.`, { subject: domain, fix: `Serve it at ${policyUrl(domain)} as text/plain without a redirect (the mta-sts subdomain of the account; see "tlsa-manager mta-sts status").` }),
    );
  } else {
    out.served = true;
    out.certificate = got.certificate;
    const parsed = parsePolicy(got.body);
    if ('fault' in parsed) problems.push(problem('mta-sts-policy-invalid', `The policy at ${policyUrl(domain)} is not valid: ${parsed.fault}.`, { subject: domain, fix: 'Serve version, mode, mx and max_age lines as RFC 8461 §3.2 says (TLSA Manager writes them for domains in mtaSts.publish).' }));
    else {
      policy = parsed;
      out.policy = { mode: parsed.mode, mx: parsed.mx, maxAge: parsed.maxAge };
      // The id names the policy text; for policies we wrote it is the text's hash (policy.ts).
      if (out.id !== null && opts.stored && out.id !== policyId(got.body)) {
        problems.push(problem('mta-sts-id-stale', `The _mta-sts record of ${domain} announces id ${out.id}, but the policy served has id ${policyId(got.body)}: senders holding the old policy do not fetch the new one.`, { subject: domain, fix: 'Run "tlsa-manager apply" (or wait for the timer): the record is updated once the served policy is confirmed.' }));
      }
    }
  }

  // 3. The MX records against the patterns, and each MX host's certificate (§4.1, §4.2).
  const mx = await client.query(domain, 'MX');
  const hosts = mx.status === 'ok' ? [...new Set((mx.records.map((r) => r.data) as MxData[]).map((m) => m.exchange).filter((h) => h !== ''))].sort() : [];
  if (policy && policy.mode !== 'none') {
    for (const host of uncoveredMx(policy.mx, hosts)) {
      problems.push(problem('mta-sts-mx-not-covered', `The MX host ${host} of ${domain} matches no mx pattern of the policy (${policy.mx.join(', ')}); under enforce, senders refuse to deliver to it.`, { subject: domain, fix: `Put ${host} into the policy (TLSA Manager does when it serves the policy: the MX set changed) and let the new id be published.` }));
    }
  }
  for (const host of hosts) {
    const covered = policy ? uncoveredMx(policy.mx, [host]).length === 0 : false;
    const a = await client.query(host, 'A');
    const address = a.status === 'ok' ? (a.records.map((r) => r.data).find((d) => typeof d === 'string') as string | undefined) ?? null : null;
    const r: MxResult = { host, address, covered, certificateValid: null };
    out.mx.push(r);
    if (!address) {
      r.detail = `${host} has no IPv4 address`;
      continue;
    }
    const via = opts.smtpEndpoints?.[`${address}:25`];
    const [ip, port] = via ? [via.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), Number(via.split(':').pop())] : [address, 25];
    const probe = await probeSmtp({ address: ip, port, servername: host, timeoutMs: opts.timeoutMs ?? 10_000, webpki: opts.ca ? { ca: opts.ca } : {} });
    if (!probe.ok) {
      r.detail = probe.error ?? 'no TLS session';
      problems.push(problem('mta-sts-mx-certificate-invalid', `No TLS session with the MX host ${host} (${address}): ${r.detail}.`, { subject: domain, fix: `Make ${host} accept STARTTLS on port 25 with a CA certificate for its name.` }));
      r.certificateValid = false;
      continue;
    }
    r.certificateValid = probe.webpki?.valid ?? false;
    if (!r.certificateValid) {
      r.detail = probe.webpki?.reason ?? 'not validated';
      problems.push(problem('mta-sts-mx-certificate-invalid', `The certificate ${host} presents is not valid for MTA-STS senders: ${r.detail}.`, { subject: domain, fix: MX_CERT_FIX(host) }));
    }
  }

  // 4. The state a sender acts on.
  if (!policy || out.id === null || policy.mode === 'none') out.state = 'none';
  else if (policy.mode === 'testing') out.state = 'testing';
  else out.state = problems.some((p) => p.code === 'mta-sts-mx-not-covered' || p.code === 'mta-sts-mx-certificate-invalid') ? 'broken' : 'enforce';
  return out;
}

/** Status for several domains, one after the other (each bounded by its own timeouts). */
export async function statusOf(ctx: AppContext, domains: string[], stored: Map<string, MtaStsDomainState>, ca?: string, resolverOverride?: string): Promise<StsStatus[]> {
  const resolver = resolverFor(ctx, resolverOverride);
  const out: StsStatus[] = [];
  for (const d of domains) out.push(await mtaStsStatus(d, { resolver, ...(ca ? { ca } : {}), stored: stored.get(d) ?? null, ...(ctx.config.checks.smtpEndpoints ? { smtpEndpoints: ctx.config.checks.smtpEndpoints } : {}) }));
  return out;
}
