import type { AppContext } from '../context.js';
import type { Providers } from '../provider-instances.js';
import type { Change } from '../providers/contract.js';
import { isProblem, toProblem, type Problem } from '../problem.js';
import type { JournalEntry } from '../state/db.js';
import { describeData, managedKey } from '../dns/records.js';
import { LockBusyError, withLock } from '../util/lock.js';
import { lockPath } from './locks.js';

/** What settling one zone's journalled intent found and did. */
export interface Settled {
  zone: string;
  /** The journalled changes that are in effect now (creates present, deletes gone). */
  applied: Change[];
  /** Set when the zone could not be read or reloaded: the intent stays journalled for the next run. */
  problem?: Problem;
}

/**
 * Settle a zone's journalled intent against what its provider publishes now: the changes in
 * effect become the ledger's truth (creates are ours, deletes forgotten), the provider makes sure
 * the server serves what was written (a zone file is reloaded), and the intent is cleared. Used
 * after a provider failed half-way and by the next writing command after a crash. The caller
 * holds the zone's lock.
 */
export async function settleIntent(ctx: AppContext, providers: Providers, entry: JournalEntry): Promise<Settled> {
  const { zone } = entry;
  const state = ctx.state();
  const provider = await providers.get(entry.provider);
  if (isProblem(provider)) return { zone, applied: [], problem: provider };
  const owners = [...new Set(entry.changes.map((c) => c.record.owner))];
  let present: Set<string>;
  try {
    present = new Set((await provider.populate(zone, owners)).map(managedKey));
  } catch (err) {
    return { zone, applied: [], problem: toProblem(err, 'recover-failed', zone) };
  }
  const applied = entry.changes.filter((c) => present.has(managedKey(c.record)) === (c.kind === 'create'));
  const created = applied.filter((c) => c.kind === 'create').map((c) => c.record);
  const deleted = applied.filter((c) => c.kind === 'delete').map((c) => c.record);
  // Ownership first: even if the reload below fails, what is in the zone is known to be ours.
  state.recordApplied(zone, created, deleted, ctx.now());
  state.bumpZoneGeneration(zone);
  let trouble: Problem | undefined;
  try {
    await provider.recover?.(zone, applied);
  } catch (err) {
    trouble = toProblem(err, 'recover-failed', zone);
  }
  state.finishIntent(zone, [], [], ctx.now(), trouble ? 'reload-failed' : undefined);
  return { zone, applied, ...(trouble ? { problem: trouble } : {}) };
}

/** Activity lines for changes a killed run made and recovery found in effect. */
export function logSettled(ctx: AppContext, entry: JournalEntry, s: Settled, by: string): void {
  const state = ctx.state();
  for (const c of s.applied) {
    state.logActivity({ actor: entry.actor, kind: c.kind, zone: s.zone, subject: c.record.owner, detail: `${describeData(c.record)} (${c.reason}; the run was interrupted, ${by} found it published)`, ok: true });
  }
  if (s.problem) state.logActivity({ actor: by, kind: 'apply-failed', zone: s.zone, subject: s.zone, detail: `finishing an interrupted run: ${s.problem.message}`, ok: false });
}

/**
 * At the start of every command that writes (apply, hook, reconcile, serve; never plan, scan or
 * audit): finish what killed runs left journalled. A zone whose lock a live run holds is that
 * run's business and is skipped.
 */
export async function recoverInterrupted(ctx: AppContext, providers: Providers, by: string, opts: { lockWaitMs?: number } = {}): Promise<Settled[]> {
  const out: Settled[] = [];
  for (const { zone } of ctx.state().journalEntries()) {
    try {
      const s = await withLock(lockPath(ctx, zone), async () => {
        const entry = ctx.state().journalEntries(zone)[0];
        if (!entry) return null; // finished meanwhile
        const settled = await settleIntent(ctx, providers, entry);
        logSettled(ctx, entry, settled, by);
        return settled;
      }, { waitMs: opts.lockWaitMs ?? 2000 });
      if (s) out.push(s);
    } catch (err) {
      if (err instanceof LockBusyError) continue;
      out.push({ zone, applied: [], problem: toProblem(err, 'recover-failed', zone) });
    }
  }
  return out;
}

/** One line per recovered zone, for command output. */
export function describeSettled(list: Settled[]): string[] {
  return list.map((s) =>
    s.problem
      ? `could not finish the interrupted run on ${s.zone}: ${s.problem.message}`
      : `recovered ${s.zone}: an interrupted run had made ${s.applied.length} of its change(s), now recorded as TLSA Manager's`,
  );
}
