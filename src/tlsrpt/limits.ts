/**
 * Size limits for TLS-RPT mail. Reports are small (Google's and Microsoft's daily reports are a
 * few kB gzipped; a large sender with many MX hosts stays well under 1 MB of JSON), so the caps
 * are generous for real reports and stop anything meant to exhaust disk or memory.
 */

/** One message as Exim hands it to the pipe (headers, MIME, base64: about 4/3 of the attachment). */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** One report's JSON after gunzip: a zip bomb is refused as soon as inflating passes this. */
export const MAX_REPORT_JSON_BYTES = 20 * 1024 * 1024;
/** Report attachments in one message (RFC 8460 §5.3 sends one). */
export const MAX_REPORTS_PER_MESSAGE = 8;
