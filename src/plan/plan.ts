import { retireAfterMs } from './retire-after.js';
import type { Change, PublishedRecord, PublishedTlsa, PublishedTxt } from '../providers/contract.js';
import { problem, type Problem } from '../problem.js';
import { tlsaHost } from '../dns/names.js';
import { isManagedTxt, isMtaSts, isTlsrpt, managedKey, mtaStsDomain, tlsrptDomain, type TxtKind } from '../dns/records.js';
import { recordKey, type TlsaRecord } from '../tlsa/types.js';
import type { DesiredRecord, DesiredTlsrpt } from './desired.js';
import type { DesiredMtaSts } from '../mtasts/desired.js';
import type { LedgerView } from '../state/ledger.js';
import { chooseWithinBudget, leftOutProblems } from './budget.js';

export interface ZonePlanInput {
  zone: string;
  provider: string;
  desired: DesiredRecord[];
  /** TLSRPT policies wanted in this zone, at most one per owner (desired.ts). */
  tlsrpt?: DesiredTlsrpt[];
  /** MTA-STS TXT records wanted in this zone, at most one per owner (mtasts/desired.ts). */
  mtaSts?: DesiredMtaSts[];
  /** Every managed record at the owners read (TLSA, TLSRPT, MTA-STS). */
  published: PublishedRecord[];
  ledger: LedgerView;
  /** Whether a published record still matches a certificate the server presents at its owner. */
  stillServed: (r: TlsaRecord) => boolean;
  /** Owners the admin asked us to take over: records there are ours to delete even if we did not create them. */
  takeover?: Set<string>;
  now: number;
  ttl: number;
  maxDeleteShare: number;
  /** Zones with fewer managed records than this are not held to maxDeleteShare (octoDNS's rule). */
  minRecordsForDeleteLimit: number;
  /** Most TLSA records one owner may hold, everything counted (policy.maxRecordsPerOwner). */
  maxRecordsPerOwner: number;
  force?: boolean;
}

export interface HeldRecord {
  record: PublishedRecord;
  reason: string;
  /** When it may be retired, if waiting on time. */
  until?: string;
}

/** A desired record not published in this run, and why. */
export interface HeldBackRecord {
  record: DesiredRecord;
  reason: string;
}

export interface ZonePlan {
  zone: string;
  provider: string;
  changes: Change[];
  /** Ours, no longer desired, but kept for now (rollover rules). */
  waiting: HeldRecord[];
  /** Not created by us: never touched. */
  foreign: PublishedRecord[];
  /** Desired but outside the owner's record budget: not published (see budget.ts). */
  overBudget: HeldBackRecord[];
  /** Desired and within the budget, but the owner is full until older records retire. */
  deferred: HeldBackRecord[];
  /** Set when the safety limit stopped the deletes; creates still go ahead. */
  blocked?: Problem;
  /** Owners that lose every record of ours without a successor (counted by the safety limit). */
  ownersGone: string[];
  /** Owners holding records of ours. */
  managedOwners: number;
  /** Warnings about this zone's records (e.g. an issuer the published set did not cover). */
  warnings: Problem[];
}

/** The part of a zone plan one record kind contributes. */
interface KindPlan {
  creates: Change[];
  deletes: Change[];
  /** Owners that lose every record of ours without a successor. */
  gone: string[];
}

/**
 * Desired vs published → changes, under the rollover rules (RFC 7671 §8.1) and the record budget
 * per owner. A record leaves only once every record kept at its owner has been published for
 * 2×TTL, never while it still matches a certificate the server presents (unless the budget left
 * it out), and never if we did not create it. An owner never grows beyond the budget: what does
 * not fit now waits for older records to retire (deferred) or is left out (overBudget).
 */
export function planZone(input: ZonePlanInput): ZonePlan {
  const { zone, ledger, now } = input;
  const budget = input.maxRecordsPerOwner;
  const ours = (p: PublishedRecord) => ledger.createdByUs(zone, managedKey(p)) || p.markedOurs === true || input.takeover?.has(p.owner) === true;
  const tlsaPublished = input.published.filter((p): p is PublishedTlsa => !isManagedTxt(p));
  const owners = [...new Set([...input.desired.map((d) => d.owner), ...tlsaPublished.map((p) => p.owner)])];
  const publishedAt = groupBy(tlsaPublished, (p) => p.owner);
  const desiredAt = groupBy(input.desired, (d) => d.owner);

  const createKeys = new Set<string>();
  const deleteReasons = new Map<string, string>();
  const waiting: HeldRecord[] = [];
  const foreign: PublishedRecord[] = [];
  const overBudget: HeldBackRecord[] = [];
  const deferred: HeldBackRecord[] = [];
  // Owners (record sets, as octoDNS counts) that would lose all our records without a successor.
  const ownersGone = new Set<string>();

  for (const owner of owners) {
    const published = publishedAt.get(owner) ?? [];
    const desired = desiredAt.get(owner) ?? [];
    const publishedKeys = new Set(published.map(recordKey));
    const { kept, left } = chooseWithinBudget(desired, published, ours, budget);
    const keptKeys = new Set(kept.map(recordKey));
    const leftKeys = new Set(left.map(recordKey));
    for (const d of left) overBudget.push({ record: d, reason: `outside the budget of ${budget} TLSA records per owner (policy.maxRecordsPerOwner)` });

    // Creates in priority order while the RRset stays within the budget.
    let room = budget - published.length;
    const creating: DesiredRecord[] = [];
    const held: DesiredRecord[] = [];
    for (const d of kept) {
      if (publishedKeys.has(recordKey(d))) continue;
      if (room > 0) {
        creating.push(d);
        room--;
      } else held.push(d);
    }
    for (const d of creating) createKeys.add(recordKey(d));
    for (const d of held) deferred.push({ record: d, reason: `the owner already holds ${published.length} of ${budget} records; published once older records retire` });

    // When every record kept here will have been visible to resolvers for 2×TTL. A create in
    // this run starts the clock again; a deferred one cannot (it waits for this retirement),
    // except that a replaced key record waits for every kept key record: an Exim process not
    // yet reloaded may still present the old key.
    const since = (d: DesiredRecord) => (publishedKeys.has(recordKey(d)) ? ledger.publishedSince(zone, recordKey(d)) ?? now : Infinity);
    const placed = kept.filter((d) => !held.includes(d));
    const readyAt = desired.length === 0 ? undefined : placed.length === 0 ? Infinity : Math.max(...placed.map((d) => since(d) + retireAfterMs(input.ttl)));
    const keysReadyAt = Math.max(readyAt ?? 0, ...held.filter(isKeyRecord).map(() => Infinity));

    for (const p of published) {
      const key = recordKey(p);
      if (keptKeys.has(key)) continue;
      if (!ours(p)) {
        foreign.push(p);
        continue;
      }
      if (!leftKeys.has(key) && input.stillServed(p)) {
        waiting.push({ record: p, reason: 'still matches a certificate the server presents' });
        continue;
      }
      const ready = readyAt === undefined ? undefined : isKeyRecord(p) ? keysReadyAt : readyAt;
      if (ready === undefined) ownersGone.add(owner);
      else if (ready > now) {
        waiting.push({
          record: p,
          reason: ready === Infinity ? 'its replacement is not published yet' : 'its replacement has not been published for 2×TTL yet',
          ...(ready !== Infinity ? { until: new Date(ready).toISOString() } : {}),
        });
        continue;
      }
      deleteReasons.set(
        key,
        ready === undefined
          ? `no certificate is served for ${tlsaHost(p.owner)} any more`
          : leftKeys.has(key)
            ? `outside the budget of ${budget} TLSA records per owner; the records kept have been published for more than 2×TTL`
            : 'replaced by a record published for more than 2×TTL',
      );
    }
  }

  // Creates in the order the desired records came (per owner, per port), deletes in published order.
  const changes: Change[] = [];
  for (const d of input.desired) {
    const key = recordKey(d);
    if (!createKeys.delete(key)) continue;
    const { host: _h, port: _p, reason, priority: _r, issuer: _i, ...record } = d;
    changes.push({ kind: 'create', zone, record, reason });
  }
  const deletes: Change[] = [];
  for (const p of tlsaPublished) {
    const reason = deleteReasons.get(recordKey(p));
    if (reason === undefined) continue;
    const { id: _id, markedOurs: _m, ...record } = p;
    deletes.push({ kind: 'delete', zone, record, existing: p, reason });
  }

  const warnings = leftOutProblems(overBudget.map((o) => o.record), budget);
  for (const kind of TXT_KINDS) {
    const part = planTxt(TXT_WORDS[kind], zone, kind === 'TLSRPT' ? (input.tlsrpt ?? []) : (input.mtaSts ?? []), input.published.filter((p): p is PublishedTxt => isManagedTxt(p) && p.kind === kind), ours, foreign, warnings);
    changes.push(...part.creates);
    deletes.push(...part.deletes);
    for (const o of part.gone) ownersGone.add(o);
  }
  const wanted = new Set([...desiredAt.keys(), ...(input.tlsrpt ?? []).map((t) => t.owner), ...(input.mtaSts ?? []).map((t) => t.owner)]);

  // The safety limit counts record sets (owners, TLSA and TLSRPT alike), as octoDNS does, and
  // applies only from minRecordsForDeleteLimit of them: a zone losing its one mail host (3 owners) is routine.
  const managedOwners = new Set(input.published.filter(ours).map((p) => p.owner)).size;
  const limited = managedOwners >= input.minRecordsForDeleteLimit && ownersGone.size > input.maxDeleteShare * managedOwners;
  const plan: ZonePlan = { zone, provider: input.provider, changes, waiting, foreign, overBudget, deferred, ownersGone: [...ownersGone], managedOwners, warnings };
  if (ownersGone.size > 0 && !input.force && limited) {
    plan.blocked = problem(
      'safety-limit',
      `The plan for ${zone} would remove every record of ${ownersGone.size} of its ${managedOwners} managed owners (TLSA record sets, TLS-RPT policies, MTA-STS records) without a replacement (limit ${Math.round(input.maxDeleteShare * 100)}% in zones with ${input.minRecordsForDeleteLimit} or more owners).`,
      { subject: zone, fix: 'Check that the scan is right (an unreadable certificate or zone looks like a removed host), then run apply with --force.', severity: 'warning' },
    );
    changes.push(...deletes.filter((d) => wanted.has(d.record.owner)));
  } else changes.push(...deletes);
  return plan;
}

const TXT_KINDS: TxtKind[] = ['TLSRPT', 'MTASTS'];

/** How the planner names a managed TXT kind to the admin, and the settings key and RFC rule behind it. */
interface TxtWords {
  what: string;
  code: 'tlsrpt-foreign' | 'mta-sts-foreign';
  setting: string;
  rule: string;
  domainOf: (owner: string) => string | null;
  /** What a foreign record at the name means for senders. */
  theirs: string;
}

const TXT_WORDS: Record<TxtKind, TxtWords> = {
  TLSRPT: { what: 'TLS-RPT policy', code: 'tlsrpt-foreign', setting: 'tlsrpt.publish', rule: 'RFC 8460 §3', domainOf: tlsrptDomain, theirs: 'reports go where that policy says' },
  MTASTS: { what: 'MTA-STS record', code: 'mta-sts-foreign', setting: 'mtaSts.publish', rule: 'RFC 8461 §3.1', domainOf: mtaStsDomain, theirs: 'senders fetch the policy that record announces' },
};

/**
 * Managed TXT kinds (TLSRPT policies, RFC 8460; MTA-STS records, RFC 8461): one per name, so no
 * rollover. A wanted record replaces ours in the same apply (create and delete together) when
 * its text changed; a record of ours nobody wants any more is retired (counted by the safety
 * limit like a TLSA owner). A record we did not create is never touched and blocks ours at that
 * name: the admin is told, with the fix; a record of ours beside it goes, since two at a name
 * mean none (both RFCs).
 */
function planTxt(words: TxtWords, zone: string, desired: (DesiredTlsrpt | DesiredMtaSts)[], published: PublishedTxt[], ours: (p: PublishedRecord) => boolean, foreign: PublishedRecord[], warnings: Problem[]): KindPlan {
  const out: KindPlan = { creates: [], deletes: [], gone: [] };
  const desiredAt = groupBy(desired, (d) => d.owner);
  const publishedAt = groupBy(published, (p) => p.owner);
  const del = (p: PublishedTxt, reason: string) => {
    const { id: _id, markedOurs: _m, ...record } = p;
    out.deletes.push({ kind: 'delete', zone, record, existing: p, reason });
  };
  for (const owner of new Set([...desiredAt.keys(), ...publishedAt.keys()])) {
    const want = desiredAt.get(owner)?.[0];
    const here = publishedAt.get(owner) ?? [];
    const theirs = here.filter((p) => !ours(p));
    const mine = here.filter(ours);
    if (theirs.length > 0) {
      foreign.push(...theirs);
      if (want && !theirs.some((t) => t.text === want.text)) {
        warnings.push(
          problem(words.code, `${owner} already holds a ${words.what} TLSA Manager did not create ("${theirs[0]!.text}"), so TLSA Manager publishes none there (one per name, ${words.rule}); ${words.theirs}.`, {
            subject: want.domain,
            fix: `Remove that TXT record so TLSA Manager publishes "${want.text}", or let TLSA Manager manage it (apply --takeover ${owner}), or leave ${want.domain} out of ${words.setting}.`,
            severity: 'info',
          }),
        );
      }
      for (const p of mine) del(p, `a ${words.what} TLSA Manager did not create is at the same name (two count as none, ${words.rule})`);
      continue;
    }
    if (!want) {
      for (const p of mine) del(p, `no ${words.what} is wanted for ${words.domainOf(owner) ?? owner} any more (${words.setting}, or its mail is no longer served here)`);
      if (mine.length > 0) out.gone.push(owner);
      continue;
    }
    const keep = mine.find((p) => p.text === want.text);
    if (!keep) {
      const { domain: _d, reason, ...record } = want;
      out.creates.push({ kind: 'create', zone, record, reason });
    }
    for (const p of mine) if (p !== keep) del(p, `replaced by "${want.text}" (one ${words.what} per name)`);
  }
  return out;
}

/**
 * The same limit over a whole run (every zone of the server): one domain moving its MX away is
 * routine, every zone losing its hosts at once is a scan gone wrong (a damaged account list, an
 * unreadable certificate directory), even when each zone is below the per-zone minimum.
 */
export function serverWideLimit(zones: ZonePlan[], limits: { maxDeleteShare: number; minRecordsForDeleteLimit: number }): Problem | null {
  const gone = zones.reduce((n, z) => n + (z.blocked ? 0 : z.ownersGone.length), 0);
  const managed = zones.reduce((n, z) => n + z.managedOwners, 0);
  if (gone === 0 || managed < limits.minRecordsForDeleteLimit || gone <= limits.maxDeleteShare * managed) return null;
  return problem(
    'safety-limit',
    `This run would remove every record of ${gone} of the server's ${managed} managed owners (TLSA record sets, TLS-RPT policies, MTA-STS records) without a replacement (limit ${Math.round(limits.maxDeleteShare * 100)}% from ${limits.minRecordsForDeleteLimit} owners on).`,
    { fix: 'Check that the scan is right (a damaged account list or an unreadable certificate directory looks like removed hosts), then run apply with --force.', severity: 'warning' },
  );
}

/** Keep a zone's deletes of owners without a successor back, under `reason`. */
export function holdBackGone(plan: ZonePlan, reason: Problem): void {
  if (plan.ownersGone.length === 0) return;
  const gone = new Set(plan.ownersGone);
  plan.changes = plan.changes.filter((c) => !(c.kind === 'delete' && gone.has(c.record.owner)));
  plan.blocked ??= { ...reason, subject: plan.zone };
}

/** A record that pins a key of the host itself (DANE-EE / PKIX-EE), not an issuer. */
function isKeyRecord(r: { usage: number }): boolean {
  return r.usage === 1 || r.usage === 3;
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
