import { VERDICTS, type Verdict } from '../dane/verdict.js';
import type { Alert, DeliveryEvent } from './store.js';
import { stripControl } from '../util/text.js';

/**
 * What every channel sends, the webhook payload verbatim (documented in README "Alerts").
 * Field names are an interface: receivers parse them.
 */
export interface AlertMessage {
  /** raised | reminder (still open, daily) | resolved | test */
  event: DeliveryEvent;
  /** Alert kind: domain-degraded, domain-broken, dnssec-bogus, ds-missing, issuer-not-covered, publish-failed, timer-stalled, timer-failed, ta-cert-expiring, server-checks, tlsrpt-dane-failure, test. */
  kind: string;
  severity: 'critical' | 'warning' | 'info';
  /** The incident id (same for its raise, reminders and resolve). */
  alertId: number | null;
  title: string;
  detail: string;
  domain: string | null;
  host: string | null;
  verdict: { old: Verdict | null; new: Verdict | null; oldLabel: string | null; newLabel: string | null };
  /** When this message was made (ISO 8601 UTC). */
  time: string;
  /** When the incident opened. */
  openedAt: string | null;
  /** The server's host name. */
  server: string;
  /** One line for chat (Slack/Teams/Matrix `text`). */
  text: string;
}

const EVENT_WORD: Record<DeliveryEvent, string> = { raised: 'ALERT', reminder: 'STILL OPEN', resolved: 'RESOLVED', test: 'TEST', summary: 'HELD BACK' };

export function alertMessage(alert: Alert, event: Exclude<DeliveryEvent, 'test' | 'summary'>, server: string, now: number): AlertMessage {
  const oldV = event === 'resolved' ? alert.verdictTo ?? null : alert.verdictFrom ?? null;
  const newV = event === 'resolved' ? alert.resolvedVerdict ?? alert.baseline?.verdict ?? null : alert.verdictTo ?? null;
  const detail = event === 'resolved' ? alert.resolvedDetail ?? 'Cleared.' : alert.detail;
  return {
    event,
    kind: alert.kind,
    severity: event === 'resolved' ? 'info' : alert.severity,
    alertId: alert.id,
    title: alert.title,
    detail,
    domain: alert.domain ?? null,
    host: alert.host ?? null,
    verdict: { old: oldV, new: newV, oldLabel: oldV ? VERDICTS[oldV].label : null, newLabel: newV ? VERDICTS[newV].label : null },
    time: new Date(now).toISOString(),
    openedAt: new Date(alert.openedAt).toISOString(),
    server,
    text: chatLine(EVENT_WORD[event], server, alert.title, detail),
  };
}

export function testMessage(server: string, now: number, by: string): AlertMessage {
  const title = 'Test alert from TLSA Manager';
  const detail = `Sent on request of ${by} to check that this channel works. Nothing is wrong.`;
  return { event: 'test', kind: 'test', severity: 'info', alertId: null, title, detail, domain: null, host: null, verdict: { old: null, new: null, oldLabel: null, newLabel: null }, time: new Date(now).toISOString(), openedAt: null, server, text: chatLine('TEST', server, title, detail) };
}

/** The day's one message on a channel past its daily cap: how many were held back, of which kinds. */
export function summaryMessage(server: string, now: number, held: number, cap: number, kinds: string): AlertMessage {
  const title = `${held} alert message(s) held back`;
  const detail = `This channel already carried ${cap} alert messages in the last 24 hours, so ${held} more were not sent (${kinds}). Later ones today are held back too, without another summary. Open alerts are listed on the overview and by: tlsa-manager alerts list`;
  return { event: 'summary', kind: 'summary', severity: 'warning', alertId: null, title, detail, domain: null, host: null, verdict: { old: null, new: null, oldLabel: null, newLabel: null }, time: new Date(now).toISOString(), openedAt: null, server, text: chatLine('HELD BACK', server, title, detail) };
}

function chatLine(word: string, server: string, title: string, detail: string): string {
  return `[TLSA Manager on ${server}] ${word}: ${title}. ${detail}`;
}

/** Subject line for mail and cPanel notifications (one line, no control characters). */
export function subjectOf(m: AlertMessage): string {
  return oneLine(`[TLSA Manager] ${EVENT_WORD[m.event]}: ${m.title}`);
}

/** Plain-text body for mail and cPanel notifications. */
export function bodyOf(m: AlertMessage): string {
  // Detail can quote report text (anyone can mail a report): no control characters in a body.
  const lines = [m.detail.split('\n').map(stripControl).join('\n'), ''];
  if (m.domain) lines.push(`Domain:  ${m.domain}`);
  if (m.host) lines.push(`MX host: ${m.host}`);
  if (m.verdict.old || m.verdict.new) lines.push(`Verdict: ${m.verdict.oldLabel ?? '?'} → ${m.verdict.newLabel ?? '?'}`);
  lines.push(`Server:  ${m.server}`, `Kind:    ${m.kind}`, `Time:    ${m.time}`);
  if (m.openedAt && m.event !== 'raised') lines.push(`Opened:  ${m.openedAt}`);
  if (m.event === 'raised' || m.event === 'reminder') lines.push('', 'You get a reminder every day while it stays open, and one message when it clears.');
  lines.push('', '-- ', `TLSA Manager (WHM » Plugins » TLSA Manager) on ${m.server}`);
  return lines.join('\n');
}

export function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}
