import { createHash } from 'node:crypto';

/**
 * Cloudflare allows 1,200 requests per 5 minutes per user token, across all clients; beyond
 * that every call gets 429 for up to 5 minutes. Going over is far worse than slowing down, so
 * every HTTP request (SDK retries included) first takes a slot from a sliding-window budget and
 * waits for one when the window is full. Nothing is ever refused here: the budget only delays.
 */
export interface RequestBudgetOptions {
  /** Requests allowed within `windowMs`. */
  max: number;
  windowMs: number;
  /** Injectable clock and sleep so tests can drive time deterministically. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const CLOUDFLARE_BUDGET: Readonly<{ max: number; windowMs: number }> = { max: 1200, windowMs: 5 * 60_000 };

export interface BudgetStats {
  granted: number;
  /** Grants that were not immediate: the window was full, a pause was on, or others queued first. */
  delayed: number;
  totalWaitMs: number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RequestBudget {
  readonly max: number;
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Grant times within the current window, oldest first. */
  private readonly grants: number[] = [];
  /** A 429's Retry-After applies to every client of the token, so it pauses the whole budget. */
  private pausedUntil = 0;
  /** Acquisitions are serialised so waiters are served in arrival order. */
  private queue: Promise<void> = Promise.resolve();
  /** How many times the budget made someone sleep; tells throttling apart from scheduling noise. */
  private sleeps = 0;
  private readonly counters: BudgetStats = { granted: 0, delayed: 0, totalWaitMs: 0 };
  /** Grant timestamps for inspection (bounded; tests and benchmarks read it). */
  readonly grantLog: number[] = [];

  constructor(opts: RequestBudgetOptions) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new RangeError('request budget max must be a positive integer');
    if (!(opts.windowMs > 0)) throw new RangeError('request budget windowMs must be positive');
    this.max = opts.max;
    this.windowMs = opts.windowMs;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** Wait until a request may be sent, then count it; resolves to the time it was granted. */
  acquire(): Promise<number> {
    const asked = { at: this.now(), sleeps: this.sleeps };
    const turn = this.queue.then(() => this.waitForSlot(asked));
    // A failure in one acquisition must not wedge the queue for everyone after it.
    this.queue = turn.then(() => undefined, () => undefined);
    return turn;
  }

  /** Stop granting until `ms` from now (e.g. the server answered 429 with Retry-After). */
  pauseFor(ms: number): void {
    if (!(ms > 0)) return;
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  stats(): BudgetStats {
    return { ...this.counters };
  }

  private async waitForSlot(asked: { at: number; sleeps: number }): Promise<number> {
    for (;;) {
      const now = this.now();
      while (this.grants.length > 0 && this.grants[0]! <= now - this.windowMs) this.grants.shift();
      const untilPause = this.pausedUntil - now;
      const untilSlot = this.grants.length < this.max ? 0 : this.grants[0]! + this.windowMs - now;
      const wait = Math.max(untilPause, untilSlot, 0);
      if (wait === 0) break;
      this.sleeps++;
      await this.sleep(wait);
    }
    const at = this.now();
    this.grants.push(at);
    if (this.grantLog.length < 100_000) this.grantLog.push(at);
    this.counters.granted++;
    // Time spent queued behind a waiting request counts too: that is the delay the caller saw.
    if (this.sleeps !== asked.sleeps) {
      this.counters.delayed++;
      this.counters.totalWaitMs += at - asked.at;
    }
    return at;
  }
}

/**
 * The limit belongs to the token, not to a client object: every provider in this process using
 * the same token shares one budget. Keyed by a hash so the token itself is not kept as a key.
 */
const shared = new Map<string, RequestBudget>();

export function sharedBudgetFor(apiToken: string): RequestBudget {
  const key = createHash('sha256').update(apiToken).digest('hex');
  let b = shared.get(key);
  if (!b) {
    b = new RequestBudget(CLOUDFLARE_BUDGET);
    shared.set(key, b);
  }
  return b;
}
