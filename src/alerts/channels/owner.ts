import { oneLine } from '../message.js';
import { stripControl } from '../../util/text.js';
import { encodeHeader, sendComposed } from './email.js';

/**
 * The account owners' messages (issue 28 item 5, src/access/owner-notify.ts) travel the alert
 * outbox on a channel of their own: the payload is the mail as composed when it was queued, with
 * its recipients (the account's contact address then), sent through the e-mail channel's sendmail.
 */
export const OWNER_CHANNEL = 'owner';

export interface OwnerMessage {
  /** needed → raised, done → resolved (the outbox's event words). */
  event: 'raised' | 'resolved';
  kind: `owner-${'ds-missing' | 'records-wrong' | 'records-fragile' | 'senders-failing'}`;
  account: string;
  domain: string;
  to: string[];
  subject: string;
  body: string;
}

/** The mail as sendmail reads it: plain text, headers of one line each, no control characters in the body. */
export function composeOwnerMail(m: OwnerMessage): string {
  const headers = [
    `To: ${m.to.map(oneLine).join(', ')}`,
    `Subject: ${encodeHeader(oneLine(m.subject))}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    'Auto-Submitted: auto-generated',
    `X-TLSA-Manager-Kind: ${oneLine(m.kind)}`,
  ];
  return `${headers.join('\n')}\n\n${m.body.split('\n').map(stripControl).join('\n')}\n`;
}

export function sendOwnerMail(sendmail: string[], m: OwnerMessage): Promise<void> {
  if (!Array.isArray(m.to) || m.to.length === 0) return Promise.reject(new Error('no recipient: the account has no contact address'));
  return sendComposed(sendmail, m.to, composeOwnerMail(m));
}
