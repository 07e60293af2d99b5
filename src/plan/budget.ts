import type { PublishedTlsa } from '../providers/contract.js';
import { problem, type Problem } from '../problem.js';
import { recordKey } from '../tlsa/types.js';
import { PRIORITY, type DesiredRecord } from './desired.js';

/**
 * The record budget of one owner (issue 9): senders see the whole TLSA RRset, and the biggest
 * of them (Exchange Online) handle only about 12 records per MX host, so an owner never holds
 * more than `policy.maxRecordsPerOwner`, counting everything at it: our records, foreign ones,
 * records kept for rollover and records pre-published for the next certificate.
 */

export interface BudgetChoice {
  /** Desired records the budget holds, highest priority first (deduplicated by record key). */
  kept: DesiredRecord[];
  /** Desired records left out: named to the admin, never dropped silently. */
  left: DesiredRecord[];
}

/**
 * Which desired records of one owner fit, in priority order. Foreign records stay whatever we
 * want, so they use up room first. Unless a next key is already among them, room for one next
 * `3 x x` per served one is kept free, so the renewal hook can pre-publish the next key without
 * going over (default 10: 1 served key + 8 issuer pins + 1 next key).
 */
export function chooseWithinBudget(desired: DesiredRecord[], published: PublishedTlsa[], isOurs: (p: PublishedTlsa) => boolean, budget: number): BudgetChoice {
  const byKey = new Map<string, DesiredRecord>();
  for (const d of desired) {
    const k = recordKey(d);
    const prev = byKey.get(k);
    if (!prev || d.priority < prev.priority) byKey.set(k, d);
  }
  const sorted = [...byKey.values()].sort((a, b) => a.priority - b.priority);
  const foreignKeys = new Set(published.filter((p) => !isOurs(p)).map(recordKey));
  const foreign = foreignKeys.size;
  const served = sorted.filter((d) => d.priority === PRIORITY.served).length;
  const next = sorted.filter((d) => d.priority === PRIORITY.next).length;
  const reserve = Math.max(0, served - next);
  const kept: DesiredRecord[] = [];
  const left: DesiredRecord[] = [];
  let used = foreign;
  for (const d of sorted) {
    if (foreignKeys.has(recordKey(d))) {
      kept.push(d); // already there and counted
      continue;
    }
    const room = d.priority <= PRIORITY.next ? budget : budget - reserve;
    if (used < room) {
      kept.push(d);
      used++;
    } else left.push(d);
  }
  return { kept, left };
}

/**
 * The problems that name what the budget left out, one per host: issuer pins (info: a
 * certificate from one of them still validates through its pre-published `3 1 1`) and, rarer,
 * the host's own key records (warning: the owner is full of records we may not delete).
 */
export function leftOutProblems(left: DesiredRecord[], budget: number): Problem[] {
  const out: Problem[] = [];
  const hosts = [...new Set(left.map((d) => d.host))];
  for (const host of hosts) {
    const mine = left.filter((d) => d.host === host);
    const issuers = [...new Set(mine.filter((d) => d.priority >= PRIORITY.servedIssuer).map((d) => d.issuer ?? d.data))];
    const keys = mine.filter((d) => d.priority < PRIORITY.servedIssuer);
    if (issuers.length > 0) {
      out.push(
        problem('issuers-over-budget', `${host}: ${issuers.length} issuer(s) that may sign its next certificate are not pinned, to keep each TLSA owner within ${budget} records (policy.maxRecordsPerOwner): ${issuers.join('; ')}.`, {
          subject: host,
          fix: 'Nothing breaks: a renewal from one of them validates through the 3 1 1 record the renewal hook publishes first. A larger policy.maxRecordsPerOwner (at most 12) pins more of them.',
          severity: 'info',
        }),
      );
    }
    if (keys.length > 0) {
      out.push(
        problem('records-over-budget', `${host}: ${keys.length} record(s) for the certificate Exim presents do not fit in ${budget} TLSA records per owner, because records TLSA Manager did not create fill the owners.`, {
          subject: host,
          fix: 'Remove the records you no longer need at these owners, or let TLSA Manager manage them (apply --takeover OWNER).',
          severity: 'warning',
        }),
      );
    }
  }
  return out;
}
