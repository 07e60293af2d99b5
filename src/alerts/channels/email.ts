import type { ServerRoot } from '../../util/server-root.js';
import { isMailAddress } from '../../state/config.js';
import { runWithInput } from '../../util/run-input.js';
import { bodyOf, oneLine, subjectOf, type AlertMessage } from '../message.js';

/** The server contact: CONTACTEMAIL in /etc/wwwacct.conf (`KEY value` lines; may list several). */
export function serverContacts(root: ServerRoot): string[] {
  const text = root.readText('/etc/wwwacct.conf') ?? '';
  const line = text.split('\n').find((l) => /^CONTACTEMAIL\s/.test(l));
  if (!line) return [];
  return line.replace(/^CONTACTEMAIL\s+/, '').split(/[\s,;]+/).filter((a) => isMailAddress(a));
}

/** The configured list with CONTACTEMAIL expanded; duplicates removed. */
export function mailRecipients(root: ServerRoot, configured: string[]): string[] {
  const out = configured.flatMap((a) => (a === 'CONTACTEMAIL' ? serverContacts(root) : [a]));
  return [...new Set(out.map((a) => a.toLowerCase()))];
}

/** RFC 2047 for a non-ASCII subject; ASCII stays readable. */
function encodeHeader(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) ? s : `=?UTF-8?B?${Buffer.from(s, 'utf8').toString('base64')}?=`;
}

export function composeMail(m: AlertMessage, to: string[]): string {
  const headers = [
    `To: ${to.join(', ')}`,
    `Subject: ${encodeHeader(subjectOf(m))}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Auto-Submitted: auto-generated',
    `X-TLSA-Manager-Event: ${oneLine(m.event)}`,
    `X-TLSA-Manager-Kind: ${oneLine(m.kind)}`,
  ];
  if (m.alertId !== null) headers.push(`X-TLSA-Manager-Alert: ${m.alertId}`);
  return `${headers.join('\n')}\n\n${bodyOf(m)}\n`;
}

/**
 * Through the local MTA's sendmail interface only (Exim on cPanel): recipients on the command line
 * after `--` (never read from headers), `-oi` so a line with a single dot does not end the message.
 */
export async function sendMail(sendmail: string[], to: string[], m: AlertMessage): Promise<void> {
  if (to.length === 0) throw new Error('no recipient: set alerts.email, or CONTACTEMAIL in /etc/wwwacct.conf');
  return sendComposed(sendmail, to, composeMail(m, to));
}

/** A message already composed (headers and body), to `to`: the one way any mail leaves (alerts, account owners). */
export async function sendComposed(sendmail: string[], to: string[], message: string): Promise<void> {
  if (to.length === 0) throw new Error('no recipient');
  const r = await runWithInput([...sendmail, '-oi', '--', ...to], message, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`${sendmail[0]} exited with ${r.code}: ${oneLine(r.stderr || r.stdout).slice(0, 300)}`);
}

export { encodeHeader };
