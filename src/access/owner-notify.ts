import type Database from 'better-sqlite3';
import type { AppContext } from '../context.js';
import { readAccounts } from '../cpanel/accounts.js';
import { keyValue, usersFile } from '../cpanel/users-file.js';
import { closestStatus } from '../dnssec/summary.js';
import { dnssecStore } from '../dnssec/watch.js';
import { alertStore, serverName } from '../alerts/notify.js';
import { OWNER_CHANNEL, type OwnerMessage } from '../alerts/channels/owner.js';
import { oneLine } from '../alerts/message.js';
import { isMailAddress } from '../state/config.js';
import { migrate } from '../state/schema.js';
import { perStateDb } from '../state/per-state.js';
import { stripControl } from '../util/text.js';
import { isProblem } from '../problem.js';
import { accountIdentity } from './identity.js';
import { accountStatus, type DomainStatus } from './status.js';

/**
 * Telling the account owner (issue 28 item 5): one e-mail to the account's contact address when
 * something only they can do is needed, and one when it is done. Never a daily flood: what was
 * last told is kept per (account, domain, condition) in the state database, and a message is
 * queued only when that changes. The messages go through the alert outbox (channel `owner`, with
 * its per-run and per-day caps and retries) and the e-mail channel's sendmail.
 */

/** What only the owner can fix. */
export type OwnerCondition = 'ds-missing' | 'records-wrong' | 'records-fragile' | 'senders-failing';
export const OWNER_CONDITIONS: readonly OwnerCondition[] = ['ds-missing', 'records-wrong', 'records-fragile', 'senders-failing'];
export type NoticeState = 'needed' | 'done';


/** A signed zone whose DS the registrar has not published this long is worth a message (a registrar takes hours to days). */
export const DS_WAIT_MS = 7 * 24 * 3_600_000;
/** The owners' part of the timer's run: a run that has used this much stops; the rest wait for the next run. */
export const OWNER_RUN_BUDGET_MS = 60_000;

/** Pure: which conditions hold for one domain as the owner sees it (`check`: its latest stored check result). */
export function ownerConditions(d: DomainStatus, dsSince: number | null, now: number): Set<OwnerCondition> {
  const out = new Set<OwnerCondition>();
  if (d.dnssec.state === 'signed-no-ds' && dsSince !== null && now - dsSince >= DS_WAIT_MS) out.add('ds-missing');
  if (d.dnsHost === 'elsewhere' && d.dane.category === 'broken') out.add('records-wrong');
  else if (d.renewalBreaks !== null) out.add('records-fragile');
  if (d.tlsrpt && d.tlsrpt.failed7d > 0) out.add('senders-failing');
  return out;
}

/**
 * Pure: the messages to send for one domain. A condition that starts holding is 'needed' (unless
 * already told); one that stops after 'needed' was told is 'done'. A condition that never held
 * sends nothing: "done" is only news after "needed".
 */
export function ownerTransitions(told: Map<OwnerCondition, NoticeState>, active: Set<OwnerCondition>): { condition: OwnerCondition; to: NoticeState }[] {
  const out: { condition: OwnerCondition; to: NoticeState }[] = [];
  for (const c of OWNER_CONDITIONS) {
    if (active.has(c) && told.get(c) !== 'needed') out.push({ condition: c, to: 'needed' });
    else if (!active.has(c) && told.get(c) === 'needed') out.push({ condition: c, to: 'done' });
  }
  return out;
}

const PAGE = 'cPanel » Email » Email Security (DANE)';

/** The words, per condition and direction: the owner's, each technical term explained once. */
function wording(c: OwnerCondition, to: NoticeState, domain: string, d: DomainStatus): { subject: string; text: string } {
  if (c === 'ds-missing') {
    return to === 'needed'
      ? { subject: `Action needed: finish protecting mail to ${domain}`, text: `Your domain ${domain} is signed on this server with DNSSEC (a digital signature on its DNS records, so nobody can forge them). For the signature to count, your domain registrar (where you bought the domain) must publish a "DS record" (a short fingerprint of the signature key). It has been missing for more than 7 days, so mail to ${domain} is not protected yet.\n\nWhat to do: open ${PAGE}. It shows the DS record and the fields most registrars ask for, with copy buttons. Add it in your registrar's control panel; the page turns green when it is there.` }
      : { subject: `Done: mail to ${domain} can now be protected`, text: `Your registrar now publishes the DS record for ${domain}, so the signature on its DNS records counts. Nothing more to do.` };
  }
  if (c === 'records-wrong') {
    return to === 'needed'
      ? { subject: `Action needed: the records for ${domain} at your DNS host are wrong`, text: `The DNS of ${domain} is kept by another company (your DNS host), not by this server. The TLSA records there (records that tell other mail servers which certificate to expect from your mail server) do not match, so mail servers that check them may refuse to deliver mail to ${domain}.\n\nWhat to do: open ${PAGE}. It lists the exact records to add at your DNS host${d.recordsByHand.length > 0 ? ` (${d.recordsByHand.length} record(s))` : ''}; they stay right when your certificate is renewed. Remove the old TLSA records there.` }
      : { subject: `Done: the records for ${domain} at your DNS host are right`, text: `The TLSA records at your DNS host match your mail server again. Nothing more to do.` };
  }
  if (c === 'records-fragile') {
    return to === 'needed'
      ? { subject: `Action needed: the records for ${domain} at your DNS host will break at the next certificate renewal`, text: `The DNS of ${domain} is kept by another company (your DNS host), not by this server. The TLSA records there (records that tell other mail servers which certificate to expect) name your mail server's current key only. Your certificate is renewed within the next 30 days, with a new key, and from then on mail servers that check these records may refuse to deliver mail to ${domain}.\n\nWhat to do: open ${PAGE}. It lists the records to add at your DNS host instead; they name the certificate authority, so they stay right across renewals. Add them, then remove the old TLSA records there.` }
      : { subject: `Done: the records for ${domain} at your DNS host survive renewals`, text: `The TLSA records at your DNS host no longer depend on your mail server's current key alone. Nothing more to do.` };
  }
  return to === 'needed'
    ? { subject: `Action needed: senders report failures delivering to ${domain}`, text: `Mail servers that send to ${domain} reported ${d.tlsrpt?.failed7d ?? 0} failed secure connection(s) in the last 7 days (they mail daily "TLS reports": summaries of how their connections to your mail server went). Some mail may have been delayed or not delivered.\n\nWhat to do: open ${PAGE} to see the reports and the latest check, and press "Check now". If the page does not say what to fix, forward this message to your hosting provider.` }
    : { subject: `Done: no more failures reported for ${domain}`, text: `No sender has reported a failed secure connection to ${domain} in the last 7 days. Nothing more to do.` };
}

/** Pure: the message for one transition; every value from outside is stripped of control characters. */
export function ownerMessage(account: string, to: string[], d: DomainStatus, t: { condition: OwnerCondition; to: NoticeState }, server: string): OwnerMessage {
  const domain = stripControl(d.domain);
  const w = wording(t.condition, t.to, domain, d);
  const body = [
    `Hello,`,
    '',
    w.text,
    '',
    '-- ',
    `You get one message when something needs you and one when it is done, never more. To stop these messages, untick "E-mail me when I need to act" on ${PAGE}.`,
    `TLSA Manager on ${stripControl(server)}, for the cPanel account ${stripControl(account)}.`,
  ].join('\n');
  return { event: t.to === 'needed' ? 'raised' : 'resolved', kind: `owner-${t.condition}`, account, domain, to, subject: oneLine(w.subject), body };
}

/**
 * The account's contact address: `CONTACTEMAIL` in /var/cpanel/users/<user> (the key cPanel's
 * contact settings write, Cpanel/Config/LoadCpUserFile.pm reads the file). A list of several is
 * split; anything that is not an address is left out. Empty: nobody to tell.
 */
export function contactOf(ctx: AppContext, account: string): string[] {
  const raw = keyValue(usersFile(ctx.root, account), 'CONTACTEMAIL') ?? '';
  return [...new Set(raw.split(/[\s,;]+/).filter((a) => isMailAddress(a)).map((a) => a.toLowerCase()))];
}

/** The owners' notice state and opt-outs (state database, migration 5). */
export class OwnerNoticeStore {
  constructor(private readonly db: Database.Database) {
    migrate(db);
  }

  /** The owner's own switch; on unless they turned it off. */
  notifyOn(account: string): boolean {
    const r = this.db.prepare('SELECT notify FROM owner_prefs WHERE account = ?').get(account) as { notify: number } | undefined;
    return r ? r.notify === 1 : true;
  }

  setNotify(account: string, on: boolean, now: number): void {
    this.db.prepare('INSERT INTO owner_prefs (account, notify, time) VALUES (?, ?, ?) ON CONFLICT(account) DO UPDATE SET notify = excluded.notify, time = excluded.time').run(account, on ? 1 : 0, now);
  }

  told(account: string): Map<string, Map<OwnerCondition, NoticeState>> {
    const rows = this.db.prepare('SELECT domain, condition, state FROM owner_notices WHERE account = ?').all(account) as { domain: string; condition: OwnerCondition; state: NoticeState }[];
    const out = new Map<string, Map<OwnerCondition, NoticeState>>();
    for (const r of rows) out.set(r.domain, (out.get(r.domain) ?? new Map()).set(r.condition, r.state));
    return out;
  }

  setTold(account: string, domain: string, condition: OwnerCondition, state: NoticeState, now: number): void {
    this.db.prepare('INSERT INTO owner_notices (account, domain, condition, state, time) VALUES (?, ?, ?, ?, ?) ON CONFLICT(account, domain, condition) DO UPDATE SET state = excluded.state, time = excluded.time').run(account, domain, condition, state, now);
  }
}

export const ownerNoticeStore = perStateDb((db) => new OwnerNoticeStore(db));

export interface OwnerRun {
  /** Accounts looked at. */
  accounts: number;
  /** Messages queued. */
  queued: number;
  /** One line per account that failed (the others went on). */
  failures: string[];
  /** Accounts left for the next run (the budget ran out). */
  deferred: number;
}

/**
 * The timer's owners' phase: for every account whose owner wants messages, its domains as the
 * account page shows them (accountStatus), the conditions, and one queued message per
 * transition. One account failing (an unreadable users file, no contact address, a broken stored
 * result) fails alone; a run past `budgetMs` leaves the remaining accounts to the next run.
 */
export async function notifyOwners(ctx: AppContext, opts: { now?: number; budgetMs?: number } = {}): Promise<OwnerRun> {
  const run: OwnerRun = { accounts: 0, queued: 0, failures: [], deferred: 0 };
  const view = ctx.config.accountView;
  if (!view.enabled || !view.notify) return run;
  const now = opts.now ?? ctx.now();
  const started = Date.now();
  const budget = opts.budgetMs ?? OWNER_RUN_BUDGET_MS;
  const store = ownerNoticeStore(ctx);
  const outbox = alertStore(ctx);
  const stored = dnssecStore(ctx).all();
  const statuses = new Map([...stored].map(([z, s]) => [z, s.status]));
  const server = serverName(ctx);
  const sorted = [...new Set(readAccounts(ctx.root).domains.map((d) => d.owner))].sort();
  // A run cut short by the budget leaves a cursor: the next run starts after the last account
  // looked at, so on a large server every account gets its turn.
  const cursor = ctx.state().getMeta(CURSOR_KEY) ?? '';
  const from = sorted.findIndex((a) => a > cursor);
  const accounts = from <= 0 ? sorted : [...sorted.slice(from), ...sorted.slice(0, from)];
  for (const [i, account] of accounts.entries()) {
    // At least one account per run, so even a tiny budget moves the cursor on.
    if (i > 0 && Date.now() - started > budget) {
      run.deferred = accounts.length - i;
      ctx.state().setMeta(CURSOR_KEY, accounts[i - 1] ?? '');
      ctx.logger.warn({ deferred: run.deferred }, "account owners' notices: the run's budget is used; the other accounts wait for the next run");
      break;
    }
    try {
      if (!store.notifyOn(account)) continue;
      const who = accountIdentity(ctx.root, account);
      if (typeof who === 'string' || who.kind !== 'account') throw new Error(`no account ${account} (${typeof who === 'string' ? who : who.kind})`);
      run.accounts++;
      const status = await accountStatus(ctx, who);
      if (isProblem(status)) throw new Error(status.message);
      const told = store.told(account);
      const due = status.domains.flatMap((d) => {
        const s = closestStatus(d.domain, null, statuses);
        const since = s ? Date.parse(stored.get(s.zone)?.since ?? '') : NaN;
        return ownerTransitions(told.get(d.domain) ?? new Map(), ownerConditions(d, Number.isNaN(since) ? null : since, now)).map((t) => ({ d, t }));
      });
      if (due.length === 0) continue;
      const to = contactOf(ctx, account);
      // Nothing is marked told without somebody to tell: the message goes out once an address is set.
      if (to.length === 0) throw new Error(`account ${account} has no contact address (CONTACTEMAIL in /var/cpanel/users/${account})`);
      outbox.transaction(() => {
        for (const { d, t } of due) {
          const m = ownerMessage(account, to, d, t, server);
          outbox.enqueue({ alertId: null, channel: OWNER_CHANNEL, event: m.event, payload: JSON.stringify(m) }, now);
          store.setTold(account, d.domain, t.condition, t.to, now);
          run.queued++;
        }
      });
    } catch (err) {
      const message = `${account}: ${(err as Error).message}`;
      run.failures.push(message);
      ctx.logger.warn({ account, err: (err as Error).message }, "account owners' notices: this account failed; the others go on");
    }
  }
  if (run.deferred === 0) ctx.state().setMeta(CURSOR_KEY, '');
  return run;
}

const CURSOR_KEY = 'ownerNoticesCursor';
