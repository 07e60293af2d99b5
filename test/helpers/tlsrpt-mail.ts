import { gzipSync } from 'node:zlib';

/**
 * TLS-RPT mails shaped like the ones senders send (RFC 8460 §5.3): multipart/report with
 * report-type "tlsrpt", a human-readable part and the report as application/tlsrpt+gzip (Google,
 * Microsoft) or application/tlsrpt+json. Base64 lines of 76 characters, CRLF line ends.
 */

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/.{76}/g, '$&\r\n');
}

export interface MailOptions {
  from: string;
  domain: string;
  /** Sender's name for the file, e.g. google.com. */
  submitter: string;
  reportId: string;
  type: 'gzip' | 'json';
  /** Raw attachment bytes instead of the (gzipped) report. */
  attachment?: Buffer;
  contentType?: string;
}

export function tlsrptMail(report: unknown, o: MailOptions): Buffer {
  const json = Buffer.from(typeof report === 'string' ? report : JSON.stringify(report));
  const body = o.attachment ?? (o.type === 'gzip' ? gzipSync(json) : json);
  const ct = o.contentType ?? (o.type === 'gzip' ? 'application/tlsrpt+gzip' : 'application/tlsrpt+json');
  const file = `${o.submitter}!${o.domain}!1606780800!1606867199!${o.reportId}.json${o.type === 'gzip' ? '.gz' : ''}`;
  const boundary = `----=_Part_${o.reportId.replace(/[^A-Za-z0-9]/g, '')}`;
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: tlsrpt@server.host.test`,
      `Subject: Report Domain: ${o.domain} Submitter: ${o.submitter} Report-ID: <${o.reportId}>`,
      `Date: Tue, 01 Dec 2020 10:00:00 +0000`,
      `Message-ID: <${o.reportId}@${o.submitter}>`,
      `TLS-Report-Domain: ${o.domain}`,
      `TLS-Report-Submitter: ${o.submitter}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/report; boundary="${boundary}"; report-type="tlsrpt"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=UTF-8',
      'Content-Transfer-Encoding: 7bit',
      '',
      `This is an aggregate TLS report from ${o.submitter}`,
      '',
      `--${boundary}`,
      `Content-Type: ${ct}; name="${file}"`,
      `Content-Disposition: attachment; filename="${file}"`,
      'Content-Transfer-Encoding: base64',
      '',
      b64(body),
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

/** A report like RFC 8460 §4.4's example, for a DANE ("tlsa") policy. */
export function rfcReport(o: { org: string; reportId: string; domain: string; start?: string; end?: string; ok: number; failures: { type: string; count: number; sendingIp?: string; receivingIp?: string; mx?: string; reason?: string }[] }) {
  return {
    'organization-name': o.org,
    'date-range': { 'start-datetime': o.start ?? '2020-12-01T00:00:00Z', 'end-datetime': o.end ?? '2020-12-01T23:59:59Z' },
    'contact-info': 'smtp-tls-reporting@sender.example',
    'report-id': o.reportId,
    policies: [
      {
        policy: { 'policy-type': 'tlsa', 'policy-string': ['3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'], 'policy-domain': o.domain, 'mx-host': [`mail.${o.domain}`] },
        summary: { 'total-successful-session-count': o.ok, 'total-failure-session-count': o.failures.reduce((n, f) => n + f.count, 0) },
        'failure-details': o.failures.map((f) => ({
          'result-type': f.type,
          'sending-mta-ip': f.sendingIp ?? '2001:db8:abcd:12::1',
          'receiving-mx-hostname': f.mx ?? `mail.${o.domain}`,
          ...(f.receivingIp ? { 'receiving-ip': f.receivingIp } : {}),
          'failed-session-count': f.count,
          ...(f.reason ? { 'failure-reason-code': f.reason } : {}),
        })),
      },
    ],
  };
}
