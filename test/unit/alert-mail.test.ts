import { describe, expect, it } from 'vitest';
import { composeMail } from '../../src/alerts/channels/email.js';
import { testMessage, type AlertMessage } from '../../src/alerts/message.js';

describe('alert e-mail', () => {
  it('a hostile title cannot add headers: control characters become spaces, non-ASCII is RFC 2047 encoded', () => {
    const m: AlertMessage = { ...testMessage('cp1.example.net', Date.UTC(2026, 10, 29), 'web:root'), title: 'x\r\nBcc: victim@example.org\r\nSubject: owned → yes' };
    const mail = composeMail(m, ['ops@example.net']);
    const [head, body] = mail.split('\n\n', 2) as [string, string];
    const headerNames = head.split('\n').map((l) => l.split(':')[0]);
    expect(headerNames).toEqual(['To', 'Subject', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding', 'Auto-Submitted', 'X-TLSA-Manager-Event', 'X-TLSA-Manager-Kind']);
    const subject = /^Subject: =\?UTF-8\?B\?([^?]+)\?=$/m.exec(head)![1]!;
    expect(Buffer.from(subject, 'base64').toString('utf8')).toBe('[TLSA Manager] TEST: x Bcc: victim@example.org Subject: owned → yes');
    expect(body).toContain('Nothing is wrong.');
  });
});
