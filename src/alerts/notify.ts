import { hostname as osHostname } from 'node:os';
import type { AppContext } from '../context.js';
import { readHostname } from '../cpanel/accounts.js';
import { icontactAvailable, notifyCpanel } from './channels/cpanel.js';
import { mailRecipients, sendMail } from './channels/email.js';
import { OWNER_CHANNEL, sendOwnerMail, type OwnerMessage } from './channels/owner.js';
import { postWebhook } from './channels/webhook.js';
import { alertMessage, summaryMessage, testMessage, type AlertMessage } from './message.js';
import { AlertStore, type Alert, type DeliveryEvent } from './store.js';
import type { AlertEvent } from './transitions.js';
import { perStateDb } from '../state/per-state.js';

export type ChannelId = 'cpanel' | 'email' | 'webhook';
export const CHANNELS: readonly ChannelId[] = ['cpanel', 'email', 'webhook'];

/** The alert tables live in the state database (created on first use). */
export const alertStore = perStateDb((db) => new AlertStore(db));

export function serverName(ctx: AppContext): string {
  return readHostname(ctx.root) ?? osHostname();
}

/** The channels the configuration turns on (and that can work on this server). */
export function enabledChannels(ctx: AppContext): ChannelId[] {
  const a = ctx.config.alerts;
  const out: ChannelId[] = [];
  if (a.cpanelNotifications && icontactAvailable(ctx.root)) out.push('cpanel');
  if (a.email.length > 0) out.push('email');
  if (a.webhook) out.push('webhook');
  return out;
}

/** Sends one message on one channel; throws with a message safe to show (no secrets). */
export async function sendOn(ctx: AppContext, channel: ChannelId, m: AlertMessage, opts: { webhookSleep?: (ms: number) => Promise<void> } = {}): Promise<void> {
  const a = ctx.config.alerts;
  if (channel === 'cpanel') {
    if (!icontactAvailable(ctx.root)) throw new Error('cPanel iContact is not available on this server (/usr/local/cpanel/Cpanel/iContact.pm is missing)');
    return notifyCpanel(ctx.root, m);
  }
  if (channel === 'email') return sendMail(a.sendmail, mailRecipients(ctx.root, a.email), m);
  if (!a.webhook) throw new Error('no webhook is configured (alerts.webhook.url)');
  return postWebhook(m, { url: a.webhook.url, secret: a.webhook.secret, ...(opts.webhookSleep ? { sleep: opts.webhookSleep } : {}) });
}

/**
 * Store the events: a raise opens an incident (unless one with its key is open: dedupe) and queues
 * one message per channel; a resolve closes it and queues the resolve message. Returns the
 * incidents that changed.
 */
export function recordEvents(ctx: AppContext, events: AlertEvent[], now = ctx.now()): { raised: Alert[]; resolved: Alert[] } {
  const store = alertStore(ctx);
  const channels = enabledChannels(ctx);
  const server = serverName(ctx);
  const raised: Alert[] = [];
  const resolved: Alert[] = [];
  store.transaction(() => {
    for (const e of events) {
      const alert = e.type === 'raise' ? store.raise(e.incident, now) : store.resolve(e.key, e.detail, now, e.verdictTo);
      if (!alert) continue;
      (e.type === 'raise' ? raised : resolved).push(alert);
      queue(store, alert, e.type === 'raise' ? 'raised' : 'resolved', channels, server, now);
    }
  });
  for (const a of raised) ctx.state().logActivity({ actor: 'alerts', kind: 'alert', zone: null, subject: a.subject, detail: `raised: ${a.title}`, ok: false, time: new Date(now).toISOString() });
  for (const a of resolved) ctx.state().logActivity({ actor: 'alerts', kind: 'alert', zone: null, subject: a.subject, detail: `resolved: ${a.title}`, ok: true, time: new Date(now).toISOString() });
  return { raised, resolved };
}

function queue(store: AlertStore, alert: Alert, event: Exclude<DeliveryEvent, 'test' | 'summary'>, channels: ChannelId[], server: string, now: number): void {
  const payload = JSON.stringify(alertMessage(alert, event, server, now));
  for (const channel of channels) store.enqueue({ alertId: alert.id, channel, event, payload }, now);
}

/** Open incidents not notified for `renotifyHours` get a reminder on every channel. */
export function queueReminders(ctx: AppContext, now = ctx.now()): number {
  const store = alertStore(ctx);
  const every = ctx.config.alerts.renotifyHours * 3_600_000;
  // An acknowledged alert is not repeated: the admin knows (it is sent again if it gets worse, and when it resolves).
  // News (info) is told once, not repeated.
  const due = store.open().filter((a) => a.ackedAt === null && a.severity !== 'info' && now - (a.lastNotifiedAt ?? a.openedAt) >= every);
  if (due.length === 0) return 0;
  const channels = enabledChannels(ctx);
  const server = serverName(ctx);
  store.transaction(() => {
    for (const a of due) {
      queue(store, a, 'reminder', channels, server, now);
      store.markNotified(a.id, now);
    }
  });
  return due.length;
}

/** How long a claimed message is left to its sender before another process may try it. */
const SEND_LEASE_MS = 10 * 60_000;

/** Back-off between delivery attempts of one message: 1, 2, 4 … minutes, at most an hour. */
export function retryDelayMs(attempts: number): number {
  return Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

/**
 * Send what is due in the outbox. A failing channel never throws out of here: the message stays
 * queued with its error (shown on the overview) and is tried again later. Channels run side by
 * side so a slow one does not hold the others.
 */
/**
 * What one channel may send (issue 21: a forged report once opened 300 alerts and the first run
 * sent 200 mails): at most OUTBOX_PER_RUN messages per delivery run (the rest wait for the next
 * run) and OUTBOX_PER_DAY in 24 hours; past that, messages are held back and the channel gets one
 * summary message a day instead. Held messages stay in the history (shown as held).
 */
export const OUTBOX_PER_RUN = 50;
export const OUTBOX_PER_DAY = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

export async function deliverDue(ctx: AppContext, opts: { now?: number; webhookSleep?: (ms: number) => Promise<void> } = {}): Promise<{ delivered: number; failed: number; held: number }> {
  const store = alertStore(ctx);
  const now = opts.now ?? ctx.now();
  const due = store.dueDeliveries(now, 1000);
  const byChannel = new Map<string, typeof due>();
  for (const d of due) byChannel.set(d.channel, [...(byChannel.get(d.channel) ?? []), d]);
  let delivered = 0;
  let failed = 0;
  let heldTotal = 0;
  const send = async (channel: string, d: (typeof due)[number]): Promise<void> => {
    if (!store.claim(d, now + SEND_LEASE_MS)) return;
    try {
      if (channel === OWNER_CHANNEL) await sendOwnerMail(ctx.config.alerts.sendmail, JSON.parse(d.payload) as OwnerMessage);
      else if (!CHANNELS.includes(channel as ChannelId)) throw new Error(`unknown channel ${channel}`);
      else await sendOn(ctx, channel as ChannelId, JSON.parse(d.payload) as AlertMessage, opts);
      store.delivered(d.id, ctx.now());
      delivered++;
    } catch (err) {
      const message = (err as Error).message;
      store.failed(d.id, message, now + retryDelayMs(d.attempts + 1));
      ctx.logger.warn({ channel, delivery: d.id, error: message }, 'alert delivery failed; will retry');
      failed++;
    }
  };
  await Promise.all(
    [...byChannel].map(async ([channel, list]) => {
      let sentToday = store.sentSince(channel, now - DAY_MS);
      let thisRun = 0;
      const held: typeof due = [];
      for (const d of list) {
        if (d.event === 'test' || d.event === 'summary') {
          await send(channel, d);
          continue;
        }
        if (sentToday >= OUTBOX_PER_DAY) {
          held.push(d);
          continue;
        }
        if (thisRun >= OUTBOX_PER_RUN) break;
        thisRun++;
        sentToday++;
        await send(channel, d);
      }
      if (held.length === 0) return;
      store.hold(held.map((d) => d.id), now, `held back: ${OUTBOX_PER_DAY} messages in 24 hours on this channel; counted in the day's summary`);
      heldTotal += held.length;
      ctx.logger.warn({ channel, held: held.length }, 'alert messages held back by the daily cap');
      // One summary per channel and day, sent now; later holds of the same day are only counted.
      // Account owners' messages have no admin to summarise to: the log line and the history say it.
      if (channel === OWNER_CHANNEL) return;
      if (store.sentSince(channel, now - DAY_MS, 'summary') > 0) return;
      const kinds = new Map<string, number>();
      for (const d of held) {
        const k = (JSON.parse(d.payload) as AlertMessage).kind;
        kinds.set(k, (kinds.get(k) ?? 0) + 1);
      }
      const m = summaryMessage(serverName(ctx), now, held.length, OUTBOX_PER_DAY, [...kinds].map(([kind, n]) => `${kind} ×${n}`).join(', '));
      const id = store.enqueue({ alertId: null, channel, event: 'summary', payload: JSON.stringify(m) }, now);
      const queued = store.delivery(id);
      if (queued) await send(channel, queued);
    }),
  );
  return { delivered, failed, held: heldTotal };
}

/** The settings page's "send a test alert" button: sends now, records the attempt, reports. */
export async function sendTest(ctx: AppContext, channel: ChannelId, by: string): Promise<{ ok: boolean; error?: string }> {
  const now = ctx.now();
  const m = testMessage(serverName(ctx), now, by);
  const store = alertStore(ctx);
  const id = store.enqueue({ alertId: null, channel, event: 'test', payload: JSON.stringify(m) }, now);
  try {
    await sendOn(ctx, channel, m);
    store.delivered(id, ctx.now());
    return { ok: true };
  } catch (err) {
    // A failed test is not retried: the admin is looking at the answer.
    store.failed(id, (err as Error).message, Number.MAX_SAFE_INTEGER);
    return { ok: false, error: (err as Error).message };
  }
}
