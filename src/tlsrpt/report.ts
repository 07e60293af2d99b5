import { isIP } from 'node:net';
import { z } from 'zod';
import { checkName } from '../dns/names.js';
import { MAX_FAILURE_DETAILS, MAX_POLICIES_PER_REPORT, MAX_SAMPLES } from './limits.js';
import type { AggregatedPolicy } from './store.js';

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

/** A policy without its failure details: those are checked one by one and aggregated (parseReport). */
const policySchema = z.object({
  policy: z.object({
    'policy-type': text(32).min(1),
    'policy-string': z.array(text(4096)).max(1000).optional(),
    'policy-domain': name,
    'mx-host': mxHosts.optional(),
  }),
  summary: z.object({ 'total-successful-session-count': count, 'total-failure-session-count': count }),
});

const headSchema = z.object({
  'organization-name': text(1024).min(1),
  'date-range': z.object({ 'start-datetime': timestamp, 'end-datetime': timestamp }),
  'contact-info': text(1024).optional(),
  'report-id': text(1024).min(1),
  policies: z.array(z.unknown()).min(1),
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

/** A report as parsed: its failure details counted per result type, a few kept as samples. */
export interface ParsedReport extends Omit<TlsrptReport, 'policies'> {
  policies: AggregatedPolicy[];
  /** Policies beyond MAX_POLICIES_PER_REPORT: not stored, only counted. */
  policiesCut: number;
  /** Failure details beyond MAX_SAMPLES per report and result type: counted, not kept. */
  samplesCut: number;
}

/**
 * The report, or what is wrong with it (the first few issues, for the log). Bounded whatever the
 * JSON holds (it is at most MAX_MAIL_JSON_BYTES): the policies past the limit are only counted,
 * each failure detail is checked on its own and folded into its policy's count per result type,
 * and only the first MAX_SAMPLES per report and result type are kept as they were sent.
 */
export function parseReport(json: string): ParsedReport | { error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    return { error: `not JSON (${(err as Error).message.slice(0, 200)})` };
  }
  const head = headSchema.safeParse(raw);
  if (!head.success) return { error: issues(head.error) };
  const d = head.data;
  const start = Date.parse(d['date-range']['start-datetime']);
  const end = Date.parse(d['date-range']['end-datetime']);
  if (end < start) return { error: 'date-range: end-datetime is before start-datetime' };
  const kept = d.policies.slice(0, MAX_POLICIES_PER_REPORT);
  const samplesPerType = new Map<string, number>();
  let samplesCut = 0;
  const policies: AggregatedPolicy[] = [];
  for (let i = 0; i < kept.length; i++) {
    const rawPolicy = kept[i];
    const p = policySchema.safeParse(rawPolicy);
    if (!p.success) return { error: issues(p.error, ['policies', i]) };
    const details = (rawPolicy as { 'failure-details'?: unknown })['failure-details'];
    if (details !== undefined && (!Array.isArray(details) || details.length > MAX_FAILURE_DETAILS)) return { error: `policies.${i}.failure-details: not a list of at most ${MAX_FAILURE_DETAILS} entries` };
    const results = new Map<string, number>();
    const samples: TlsrptFailure[] = [];
    for (let j = 0; j < (details?.length ?? 0); j++) {
      const f = failureSchema.safeParse(details![j]);
      if (!f.success) return { error: issues(f.error, ['policies', i, 'failure-details', j]) };
      const type = f.data['result-type'];
      results.set(type, (results.get(type) ?? 0) + f.data['failed-session-count']);
      const n = samplesPerType.get(type) ?? 0;
      if (n >= MAX_SAMPLES) {
        samplesCut++;
        continue;
      }
      samplesPerType.set(type, n + 1);
      samples.push({ resultType: type, sendingIp: f.data['sending-mta-ip'] ?? null, receivingMx: f.data['receiving-mx-hostname'] ?? null, receivingIp: f.data['receiving-ip'] ?? null, count: f.data['failed-session-count'], reasonCode: f.data['failure-reason-code'] ?? null });
    }
    policies.push({
      policyType: p.data.policy['policy-type'],
      policyDomain: p.data.policy['policy-domain'],
      mxHosts: p.data.policy['mx-host'] ?? [],
      successful: p.data.summary['total-successful-session-count'],
      failed: p.data.summary['total-failure-session-count'],
      results: [...results].map(([resultType, c]) => ({ resultType, count: c })),
      samples,
    });
  }
  return { reportId: d['report-id'], organization: d['organization-name'], contact: d['contact-info'] ?? null, start, end, policies, policiesCut: d.policies.length - kept.length, samplesCut };
}

function issues(e: z.ZodError, at: (string | number)[] = []): string {
  return e.issues.slice(0, 3).map((i) => `${[...at, ...i.path].join('.') || '(top level)'}: ${i.message}`).join('; ');
}
