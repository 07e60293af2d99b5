/**
 * Size limits for TLS-RPT mail. Reports are small (Google's and Microsoft's daily reports are a
 * few kB gzipped; a large sender with many MX hosts stays well under 1 MB of JSON), so the caps
 * are generous for real reports and stop anything meant to exhaust disk or memory.
 */

/** One message as Exim hands it to the pipe (headers, MIME, base64: about 4/3 of the attachment). */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/**
 * All report JSON of one mail after gunzip, together: a zip bomb (or eight reports just under a
 * per-report cap) is refused as soon as inflating passes this, so parsing one mail never holds
 * more than this much JSON (issue 21: 8 × 20 MB per mail took 3.3 GB of heap for 8 mails).
 */
export const MAX_MAIL_JSON_BYTES = 20 * 1024 * 1024;
/** Policies kept per report (a real report names the domains it sent to: a handful); the rest are counted. */
export const MAX_POLICIES_PER_REPORT = 1000;
/** Failure details per policy (RFC 8460 sends one per distinct failure, not per session). */
export const MAX_FAILURE_DETAILS = 10_000;
/** Failure details kept as sent per report and result type; the rest only add to the counts. */
export const MAX_SAMPLES = 20;
/** Reports one organisation may send about one domain for one day; more are refused. */
export const MAX_REPORTS_PER_SENDER_DAY = 10;
/** A report whose period ends later than this after now is refused (it would never be pruned). */
export const MAX_FUTURE_MS = 24 * 60 * 60 * 1000;
/** Spool files one import takes at most (the rest wait for the next run). */
export const MAX_FILES_PER_RUN = 5000;
/** How long one import may take before it leaves the rest of the spool for the next run. */
export const IMPORT_BUDGET_MS = 2 * 60 * 1000;
/** Refused mails are kept (root-only) this long, for the TLS-RPT page. */
export const REJECTED_KEEP_MS = 30 * 24 * 60 * 60 * 1000;
/** Report attachments in one message (RFC 8460 §5.3 sends one). */
export const MAX_REPORTS_PER_MESSAGE = 8;
