import type { Change, PublishedRecord } from '../dns/provider.js';
import { problem, type Problem } from '../problem.js';
import { tlsaHost } from '../dns/names.js';
import { recordKey, type TlsaRecord } from '../tlsa/types.js';
import type { DesiredRecord } from './desired.js';
import type { LedgerView } from '../state/ledger.js';

export interface ZonePlanInput {
  zone: string;
  provider: string;
  desired: DesiredRecord[];
  published: PublishedRecord[];
  ledger: LedgerView;
  /** Whether a published record still matches a certificate the server presents at its owner. */
  stillServed: (r: TlsaRecord) => boolean;
  /** Owners the admin asked us to take over: records there are ours to delete even if we did not create them. */
  takeover?: Set<string>;
  now: number;
  ttl: number;
  maxDeleteShare: number;
  force?: boolean;
}

export interface HeldRecord {
  record: PublishedRecord;
  reason: string;
  /** When it may be retired, if waiting on time. */
  until?: string;
}

export interface ZonePlan {
  zone: string;
  provider: string;
  changes: Change[];
  /** Ours, no longer desired, but kept for now (rollover rules). */
  waiting: HeldRecord[];
  /** Not created by us: never touched. */
  foreign: PublishedRecord[];
  /** Set when the safety limit stopped the deletes; creates still go ahead. */
  blocked?: Problem;
  /** Warnings about this zone's records (e.g. an issuer the published set did not cover). */
  warnings: Problem[];
}

/**
 * Desired vs published → changes, under the rollover rules (RFC 7671 §8.1): a record leaves only
 * once every desired record at its owner has been published for 2×TTL, never while it still
 * matches a certificate the server presents, and never if we did not create it.
 */
export function planZone(input: ZonePlanInput): ZonePlan {
  const { zone, ledger, now } = input;
  const publishedKeys = new Set(input.published.map(recordKey));
  const desiredKeys = new Set(input.desired.map(recordKey));
  const changes: Change[] = [];
  const waiting: HeldRecord[] = [];
  const foreign: PublishedRecord[] = [];

  const seen = new Set<string>();
  for (const d of input.desired) {
    const key = recordKey(d);
    if (publishedKeys.has(key) || seen.has(key)) continue;
    seen.add(key);
    const { host: _h, port: _p, reason, ...record } = d;
    changes.push({ kind: 'create', zone, record, reason });
  }

  // When each owner's desired records will all have been visible to resolvers for 2×TTL.
  const readyAt = new Map<string, number>();
  for (const d of input.desired) {
    const since = publishedKeys.has(recordKey(d)) ? ledger.publishedSince(zone, recordKey(d)) ?? now : Infinity;
    readyAt.set(d.owner, Math.max(readyAt.get(d.owner) ?? 0, since + 2 * input.ttl * 1000));
  }

  const deletes: Change[] = [];
  let withoutSuccessor = 0;
  for (const p of input.published) {
    const key = recordKey(p);
    if (desiredKeys.has(key)) continue;
    const ours = ledger.createdByUs(zone, key) || p.markedOurs === true || input.takeover?.has(p.owner) === true;
    if (!ours) {
      foreign.push(p);
      continue;
    }
    if (input.stillServed(p)) {
      waiting.push({ record: p, reason: 'still matches a certificate the server presents' });
      continue;
    }
    const ready = readyAt.get(p.owner);
    if (ready === undefined) withoutSuccessor++;
    else if (ready > now) {
      waiting.push({
        record: p,
        reason: ready === Infinity ? 'its replacement is not published yet' : 'its replacement has not been published for 2×TTL yet',
        ...(ready !== Infinity ? { until: new Date(ready).toISOString() } : {}),
      });
      continue;
    }
    const { id: _id, markedOurs: _m, ...record } = p;
    deletes.push({
      kind: 'delete',
      zone,
      record,
      existing: p,
      reason: ready === undefined ? `no certificate is served for ${tlsaHost(p.owner)} any more` : 'replaced by a record published for more than 2×TTL',
    });
  }

  const managedCount = input.published.length - foreign.length;
  const plan: ZonePlan = { zone, provider: input.provider, changes, waiting, foreign, warnings: [] };
  if (withoutSuccessor > 0 && !input.force && withoutSuccessor > input.maxDeleteShare * managedCount) {
    plan.blocked = problem(
      'safety-limit',
      `The plan for ${zone} would delete ${withoutSuccessor} of ${managedCount} managed TLSA records without a replacement (limit ${Math.round(input.maxDeleteShare * 100)}%).`,
      { subject: zone, fix: 'Check that the scan is right (an unreadable certificate or zone looks like a removed host), then run apply with --force.', severity: 'warning' },
    );
    changes.push(...deletes.filter((d) => readyAt.has(d.record.owner)));
  } else changes.push(...deletes);
  return plan;
}
