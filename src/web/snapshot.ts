import type { PlanView } from '../plan/view.js';
import { auditRows, type AuditRow, type PublishMarks, type TlsrptTotals } from '../report/audit.js';
import type { DnssecStatus } from '../dnssec/status.js';
import type { MtaStsDomainState } from '../mtasts/store.js';
import { stsListState, type StsListState, type StsLatest } from './mtasts-view.js';

/** The overview's buckets are the product's one vocabulary (src/dane/category.ts). */
export { CATEGORIES, type Category } from '../dane/category.js';

export interface StoredCheck {
  time: string;
  verdict: string;
  result: unknown;
}

/** An audit row plus what the list page filters and sorts on, computed once per snapshot. */
export interface ListRow extends AuditRow {
  /** Lower-case haystack for the search box. */
  haystack: string;
  /** The MTA-STS column and filter: the stored mode, or broken when the latest check says so (mtasts-view.ts). */
  sts: StsListState;
}

export interface SnapshotData {
  /** The plan as pages show it (src/plan/view.ts): the RunPlan itself is not kept. */
  plan: PlanView;
  rows: ListRow[];
  byDomain: Map<string, ListRow>;
  checks: Map<string, StoredCheck>;
  owners: string[];
  providers: string[];
  builtAt: string;
  /** How long the scan + plan took, for the page footer. */
  buildMs: number;
  /** The DNSSEC chain watcher's last status per zone (the domain page's DNSSEC panel). */
  dnssec: Map<string, DnssecStatus>;
  /** Each domain's stored MTA-STS state (mode, since, the policy proven served). */
  mtaSts: Map<string, MtaStsDomainState>;
  /** Each domain's latest MTA-STS check (empty until checks are stored). */
  stsChecks: Map<string, StsLatest>;
}

/** What the rows are built from besides the plan (each optional: none known without it). */
export interface SnapshotInputs {
  checks: Map<string, StoredCheck>;
  dnssec?: Map<string, DnssecStatus>;
  tlsrpt?: TlsrptTotals;
  published?: PublishMarks;
  mtaSts?: Map<string, MtaStsDomainState>;
  stsChecks?: Map<string, StsLatest>;
}

export function buildData(plan: PlanView, inputs: SnapshotInputs, buildMs: number, now = new Date()): SnapshotData {
  const { checks, dnssec = new Map(), tlsrpt = new Map(), published = new Map(), mtaSts = new Map(), stsChecks = new Map() } = inputs;
  const rows = auditRows(plan, checks, dnssec, tlsrpt, published, mtaSts).map((r): ListRow => {
    const row = r as ListRow;
    row.haystack = [r.domain, r.owner, ...r.mxHosts, r.zone ?? ''].join(' ').toLowerCase();
    row.sts = stsListState(r.mtaSts, stsChecks.get(r.domain) ?? null);
    return row;
  });
  rows.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0));
  return {
    plan,
    rows,
    byDomain: new Map(rows.map((r) => [r.domain, r])),
    checks,
    owners: [...new Set(rows.map((r) => r.owner))].sort(),
    providers: [...new Set(rows.map((r) => r.provider).filter((p): p is string => !!p))].sort(),
    builtAt: now.toISOString(),
    buildMs,
    dnssec,
    mtaSts,
    stsChecks,
  };
}

export interface SnapshotSource {
  /** Every domain's plan as pages show it (src/plan/view.ts). */
  view(): Promise<PlanView>;
  checks(): Map<string, StoredCheck>;
  /** Last DNSSEC status per zone (optional: none known without it). */
  dnssec?(): Map<string, DnssecStatus>;
  /** TLS report session totals of the last 7 days per domain (optional). */
  tlsrpt?(): TlsrptTotals;
  /** When a publish last changed each domain's records (optional: none known without it). */
  published?(): PublishMarks;
  /** Each domain's stored MTA-STS state (optional). */
  mtaSts?(): Map<string, MtaStsDomainState>;
  /** Each domain's latest MTA-STS check (optional). */
  stsChecks?(): Map<string, StsLatest>;
}

/**
 * The latest scan + plan + audit rows, kept in memory so list pages never rescan. Refreshed after
 * publish/check/settings changes or on "Rescan"; requests during a run share one follow-up run.
 */
export class Snapshot {
  private data: SnapshotData | null = null;
  private inFlight: Promise<SnapshotData> | null = null;
  private queued: Promise<SnapshotData> | null = null;
  private lastError: Error | null = null;

  constructor(private readonly source: SnapshotSource) {}

  current(): SnapshotData | null {
    return this.data;
  }

  error(): Error | null {
    return this.lastError;
  }

  /** The data, building it on first use. */
  async get(): Promise<SnapshotData> {
    return this.data ?? this.refresh();
  }

  /**
   * Rebuild. A request that arrives while a build runs must see the world as it is now (the
   * build in flight may predate a settings change), so it waits for that build and runs one
   * more; any number of such requests share that one follow-up run.
   */
  refresh(): Promise<SnapshotData> {
    if (this.inFlight) {
      this.queued ??= this.inFlight.catch(() => undefined).then(() => {
        this.queued = null;
        return this.refresh();
      });
      return this.queued;
    }
    this.inFlight = (async () => {
      const t0 = performance.now();
      try {
        const view = await this.source.view();
        this.data = buildData(view, this.inputs(), Math.round(performance.now() - t0));
        this.lastError = null;
        return this.data;
      } catch (err) {
        this.lastError = err as Error;
        throw err;
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  /** After a check run: only the verdicts changed, so re-derive rows from the plan we have. */
  refreshChecks(): SnapshotData | null {
    if (!this.data) return null;
    this.data = buildData(this.data.plan, this.inputs(), this.data.buildMs);
    return this.data;
  }

  private inputs(): SnapshotInputs {
    const s = this.source;
    return { checks: s.checks(), ...(s.dnssec ? { dnssec: s.dnssec() } : {}), ...(s.tlsrpt ? { tlsrpt: s.tlsrpt() } : {}), ...(s.published ? { published: s.published() } : {}), ...(s.mtaSts ? { mtaSts: s.mtaSts() } : {}), ...(s.stsChecks ? { stsChecks: s.stsChecks() } : {}) };
  }
}
