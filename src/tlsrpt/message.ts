import { gunzipSync } from 'node:zlib';
import { MAX_MAIL_JSON_BYTES, MAX_REPORTS_PER_MESSAGE } from './limits.js';

/** RFC 8460 §5.3: the report travels as one of these two media types. */
export const TLSRPT_GZIP = 'application/tlsrpt+gzip';
export const TLSRPT_JSON = 'application/tlsrpt+json';

export type Refusal = { code: 'tlsrpt-not-a-report' | 'tlsrpt-too-large' | 'tlsrpt-malformed'; reason: string };

export interface ParsedMessage {
  messageId: string | null;
  /** The domain of the From address ('' when there is none): who the mail claims to be from. */
  fromDomain: string;
  /** The JSON text of each report attachment. */
  reports: { filename: string | null; json: string }[];
}

/**
 * The report attachments of one mail, expanded. MIME is parsed by mailparser (multipart/report as
 * Google and Microsoft send it, or a message that is the attachment alone); gzip is inflated with
 * one ceiling for the whole mail, so a zip bomb (or many reports) stops at MAX_MAIL_JSON_BYTES
 * of JSON instead of filling memory.
 */
export async function reportsFromMessage(raw: Buffer): Promise<ParsedMessage | Refusal> {
  // Loaded here, not at the top: every command that imports the TLS-RPT totals (plan, audit, the
  // web app) would otherwise load mailparser (~15 MB) without parsing a single mail.
  const { simpleParser } = await import('mailparser');
  let mail;
  try {
    mail = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, maxHtmlLengthToParse: 64 * 1024 });
  } catch (err) {
    return { code: 'tlsrpt-malformed', reason: `not a readable mail message (${(err as Error).message.slice(0, 200)})` };
  }
  const parts = mail.attachments.filter((a) => a.contentType.toLowerCase() === TLSRPT_GZIP || a.contentType.toLowerCase() === TLSRPT_JSON);
  if (parts.length === 0) {
    const seen = [...new Set(mail.attachments.map((a) => a.contentType.toLowerCase()))].slice(0, 5);
    return { code: 'tlsrpt-not-a-report', reason: `no ${TLSRPT_GZIP} or ${TLSRPT_JSON} attachment${seen.length ? ` (attachments: ${seen.join(', ')})` : ''}` };
  }
  if (parts.length > MAX_REPORTS_PER_MESSAGE) return { code: 'tlsrpt-too-large', reason: `${parts.length} report attachments (at most ${MAX_REPORTS_PER_MESSAGE})` };
  const reports: ParsedMessage['reports'] = [];
  let left = MAX_MAIL_JSON_BYTES;
  for (const part of parts) {
    let json: Buffer;
    if (part.contentType.toLowerCase() === TLSRPT_GZIP) {
      try {
        json = gunzipSync(part.content, { maxOutputLength: left });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          return { code: 'tlsrpt-too-large', reason: `report attachments expand beyond ${MAX_MAIL_JSON_BYTES} bytes of JSON (a gzip attachment of ${part.content.length} bytes)` };
        }
        return { code: 'tlsrpt-malformed', reason: `a ${TLSRPT_GZIP} attachment is not gzip (${(err as Error).message.slice(0, 200)})` };
      }
    } else {
      if (part.content.length > left) return { code: 'tlsrpt-too-large', reason: `report attachments hold more than ${MAX_MAIL_JSON_BYTES} bytes of JSON (a JSON attachment of ${part.content.length} bytes)` };
      json = part.content;
    }
    left -= json.length;
    reports.push({ filename: part.filename ?? null, json: json.toString('utf8') });
  }
  const from = mail.from?.value[0]?.address ?? '';
  const at = from.lastIndexOf('@');
  return { messageId: mail.messageId ?? null, fromDomain: at >= 0 ? from.slice(at + 1).toLowerCase().replace(/\.$/, '').slice(0, 255) : '', reports };
}
