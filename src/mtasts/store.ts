/**
 * Each mail domain's MTA-STS state in the state database: its mode (a domain starts in the
 * configured mtaSts.mode and keeps its own from then on: one moved to enforce stays there until
 * the admin moves it back), since when, and the policy last proven served over HTTPS (text and
 * id): the `_mta-sts` TXT record publishes only that id, so senders never see an id whose policy
 * is not served yet (RFC 8461 §3.1: the id names the policy a sender should fetch). What we
 * created to serve it (the cPanel subdomain, the policy file) is remembered so that turning
 * MTA-STS off removes exactly that.
 */
import type Database from 'better-sqlite3';
import type { AppContext } from '../context.js';
import { perStateDb, storedOr } from '../state/per-state.js';
import { migrate } from '../state/schema.js';

export const MTA_STS_MODES = ['testing', 'enforce'] as const;
export type MtaStsMode = (typeof MTA_STS_MODES)[number];


export interface MtaStsDomainState {
  domain: string;
  mode: MtaStsMode;
  /** ISO time the domain entered its mode. */
  modeSince: string;
  /** The policy text last fetched back over HTTPS exactly as written, and its id (null: none yet). */
  servedText: string | null;
  servedId: string | null;
  servedAt: string | null;
  /** True when TLSA Manager created the `mta-sts.<domain>` subdomain (so it may remove it). */
  subdomainOurs: boolean;
  /** The policy file we wrote (absolute path), to remove exactly it. */
  policyFile: string | null;
  /**
   * Turned off and being retired (RFC 8461 §8.3; src/mtasts/retire.ts): `heldMaxAge` is the
   * max_age (s) of the last policy senders may still hold; `after` the ISO time from which the
   * records and files may go (set once the `mode: none` policy's id is announced). Null: not retiring.
   */
  retiring: { heldMaxAge: number; after: string | null } | null;
}

interface Row {
  domain: string;
  mode: string;
  mode_since: string;
  served_text: string | null;
  served_id: string | null;
  served_at: string | null;
  subdomain_ours: number;
  policy_file: string | null;
  retire_held_max_age?: number | null;
  retire_after?: string | null;
}

function fromRow(r: Row): MtaStsDomainState {
  return {
    domain: r.domain,
    // A value an older or hand-edited row holds that is no mode reads as the safe one.
    mode: r.mode === 'enforce' ? 'enforce' : 'testing',
    modeSince: r.mode_since,
    servedText: r.served_text,
    servedId: r.served_id,
    servedAt: r.served_at,
    subdomainOurs: r.subdomain_ours === 1,
    policyFile: r.policy_file,
    retiring: typeof r.retire_held_max_age === 'number' ? { heldMaxAge: r.retire_held_max_age, after: r.retire_after ?? null } : null,
  };
}

export class MtaStsStore {
  constructor(
    private readonly db: Database.Database,
    opts: { readOnly?: boolean } = {},
  ) {
    if (!opts.readOnly) migrate(db);
  }

  /** Whether the table exists (a read-only view of an older database may lack it). */
  private has(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mta_sts_domain'").get() !== undefined;
  }

  get(domain: string): MtaStsDomainState | null {
    if (!this.has()) return null;
    const r = this.db.prepare('SELECT * FROM mta_sts_domain WHERE domain = ?').get(domain) as Row | undefined;
    return r ? fromRow(r) : null;
  }

  all(): Map<string, MtaStsDomainState> {
    if (!this.has()) return new Map();
    const rows = this.db.prepare('SELECT * FROM mta_sts_domain ORDER BY domain').all() as Row[];
    return new Map(rows.map((r) => [r.domain, fromRow(r)]));
  }

  /** The domain's state, created in `initialMode` at `now` when it has none (never changes an existing mode). */
  ensure(domain: string, initialMode: MtaStsMode, now: string): MtaStsDomainState {
    this.db.prepare('INSERT INTO mta_sts_domain (domain, mode, mode_since) VALUES (?, ?, ?) ON CONFLICT(domain) DO NOTHING').run(domain, initialMode, now);
    return this.get(domain)!;
  }

  /** Move a domain to a mode (the admin, or auto-enforce on evidence); since is kept when unchanged. */
  setMode(domain: string, mode: MtaStsMode, now: string): void {
    this.db
      .prepare('INSERT INTO mta_sts_domain (domain, mode, mode_since) VALUES (?, ?, ?) ON CONFLICT(domain) DO UPDATE SET mode_since = CASE WHEN mode = excluded.mode THEN mode_since ELSE excluded.mode_since END, mode = excluded.mode')
      .run(domain, mode, now);
  }

  /** The policy was fetched back over HTTPS exactly as written: its id may now be published. */
  markServed(domain: string, text: string, id: string, now: string): void {
    this.db.prepare('UPDATE mta_sts_domain SET served_text = ?, served_id = ?, served_at = ? WHERE domain = ?').run(text, id, now, domain);
  }

  /** What we created to serve the policy (so removal takes exactly that). */
  markCreated(domain: string, what: { subdomainOurs?: boolean; policyFile?: string | null }): void {
    if (what.subdomainOurs !== undefined) this.db.prepare('UPDATE mta_sts_domain SET subdomain_ours = ? WHERE domain = ?').run(what.subdomainOurs ? 1 : 0, domain);
    if (what.policyFile !== undefined) this.db.prepare('UPDATE mta_sts_domain SET policy_file = ? WHERE domain = ?').run(what.policyFile, domain);
  }

  /**
   * Retirement: `heldMaxAge` set starts it (the `after` time is cleared until the none policy is
   * announced again); null ends it (the domain is opted in again).
   */
  setRetiring(domain: string, heldMaxAge: number | null): void {
    this.db.prepare('UPDATE mta_sts_domain SET retire_held_max_age = ?, retire_after = NULL WHERE domain = ?').run(heldMaxAge, domain);
  }

  /** The none policy's id is announced: removal may go on at `afterIso` (kept when already set). */
  markAnnounced(domain: string, afterIso: string): void {
    this.db.prepare('UPDATE mta_sts_domain SET retire_after = COALESCE(retire_after, ?) WHERE domain = ? AND retire_held_max_age IS NOT NULL').run(afterIso, domain);
  }

  remove(domain: string): void {
    this.db.prepare('DELETE FROM mta_sts_domain WHERE domain = ?').run(domain);
  }
}

export const mtaStsStore = perStateDb((db) => new MtaStsStore(db));

/** The stored MTA-STS states, read-only (an unreadable or missing database: none); views never create the table. */
export function storedStates(ctx: Pick<AppContext, 'readState'>): Map<string, MtaStsDomainState> {
  return storedOr(() => {
    const db = ctx.readState();
    return db ? new MtaStsStore(db.db, { readOnly: true }).all() : new Map<string, MtaStsDomainState>();
  }, new Map<string, MtaStsDomainState>());
}
