/**
 * Text that came from outside (a TLS report's organisation name, report-id, result type, a MIME
 * file name) printed where a terminal or a mail client reads it: C0 and C1 control characters
 * (escape sequences, CR/LF, BEL) become "?", so nothing sent can move the cursor, retitle a
 * terminal or add a line to a mail body. One rule for the CLI, the mails and the pages; JSON
 * output keeps its own escaping.
 */
export function stripControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
