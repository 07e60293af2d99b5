import { isIP } from 'node:net';
import { z } from 'zod';
import { checkName } from '../dns/names.js';

/**
 * The JSON report of RFC 8460 §4.3/§4.4 (what Google, Microsoft and others send). Everything in
 * it comes from whoever mailed it: strings are length-capped, names and addresses checked, counts
 * are whole numbers. Fields senders add beyond the RFC are ignored.
 */

/** The result types RFC 8460 §4.3 defines; others (future extensions) are kept as sent. */
export const RESULT_TYPES = [
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
] as const;

/** Failures that mean our DANE records (or their DNSSEC chain) are wrong as a sender sees them. */
export const DANE_RESULT_TYPES: readonly string[] = ['tlsa-invalid', 'dnssec-invalid'];

const text = (max: number) => z.string().max(max);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const timestamp = z.string().max(64).refine((s) => Number.isFinite(Date.parse(s)), { message: 'is not a date-time' });
const ip = z.string().max(64).refine((s) => isIP(s) !== 0, { message: 'is not an IP address' });
/** A domain or host name as senders write it; case and a final dot do not matter. */
const name = z
  .string()
  .max(255)
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .refine((s) => checkName(s.replace(/^\*\./, '')).ok, { message: 'is not a valid name' });
/** RFC 8460's mx-host is one pattern in the §4.4 example; Google and Microsoft send a list. */
const mxHosts = z.union([name.transform((n) => [n]), z.array(name).max(100)]);

const failureSchema = z.object({
  'result-type': text(64).min(1),
  'sending-mta-ip': ip.optional(),
  'receiving-mx-hostname': name.optional(),
  'receiving-mx-helo': text(255).optional(),
  'receiving-ip': ip.optional(),
  'failed-session-count': count,
  'additional-information': text(2048).optional(),
  'failure-reason-code': text(255).optional(),
});

const policySchema = z.object({
  policy: z.object({
    'policy-type': text(32).min(1),
    'policy-string': z.array(text(4096)).max(1000).optional(),
    'policy-domain': name,
    'mx-host': mxHosts.optional(),
  }),
  summary: z.object({ 'total-successful-session-count': count, 'total-failure-session-count': count }),
  'failure-details': z.array(failureSchema).max(10_000).optional(),
});

export const reportSchema = z.object({
  'organization-name': text(1024).min(1),
  'date-range': z.object({ 'start-datetime': timestamp, 'end-datetime': timestamp }),
  'contact-info': text(1024).optional(),
  'report-id': text(1024).min(1),
  policies: z.array(policySchema).min(1).max(10_000),
});

export interface TlsrptFailure {
  resultType: string;
  sendingIp: string | null;
  receivingMx: string | null;
  receivingIp: string | null;
  count: number;
  reasonCode: string | null;
}

export interface TlsrptPolicy {
  policyType: string;
  policyDomain: string;
  mxHosts: string[];
  successful: number;
  failed: number;
  failures: TlsrptFailure[];
}

/** A report as we keep it: times in ms since the epoch. */
export interface TlsrptReport {
  reportId: string;
  organization: string;
  contact: string | null;
  start: number;
  end: number;
  policies: TlsrptPolicy[];
}

/** The report, or what is wrong with it (the first few issues, for the log). */
export function parseReport(json: string): TlsrptReport | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return { error: `not JSON (${(err as Error).message.slice(0, 200)})` };
  }
  const r = reportSchema.safeParse(raw);
  if (!r.success) {
    return { error: r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ') };
  }
  const d = r.data;
  const start = Date.parse(d['date-range']['start-datetime']);
  const end = Date.parse(d['date-range']['end-datetime']);
  if (end < start) return { error: 'date-range: end-datetime is before start-datetime' };
  return {
    reportId: d['report-id'],
    organization: d['organization-name'],
    contact: d['contact-info'] ?? null,
    start,
    end,
    policies: d.policies.map((p) => ({
      policyType: p.policy['policy-type'],
      policyDomain: p.policy['policy-domain'],
      mxHosts: p.policy['mx-host'] ?? [],
      successful: p.summary['total-successful-session-count'],
      failed: p.summary['total-failure-session-count'],
      failures: (p['failure-details'] ?? []).map((f) => ({
        resultType: f['result-type'],
        sendingIp: f['sending-mta-ip'] ?? null,
        receivingMx: f['receiving-mx-hostname'] ?? null,
        receivingIp: f['receiving-ip'] ?? null,
        count: f['failed-session-count'],
        reasonCode: f['failure-reason-code'] ?? null,
      })),
    })),
  };
}
