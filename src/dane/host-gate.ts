import { RequestBudget } from '../providers/cloudflare/rate-limit.js';

/**
 * Keeps a check run polite to each mail server: at most `concurrent` TLS connections to one
 * address at a time and at most `perSecond` new ones per second (a big server's scheduled check
 * must never flood its own Exim, whose default smtp_accept_max is 20, nor a remote one).
 * One gate per run; addresses are independent.
 */
export class HostGate {
  private readonly budgets = new Map<string, RequestBudget>();
  private readonly active = new Map<string, number>();
  private readonly waiters = new Map<string, (() => void)[]>();
  /** Highest number of simultaneous connections seen per address (benchmarks check the limit). */
  readonly peak = new Map<string, number>();
  /** When each connection was let through, per address (benchmarks check the rate). */
  readonly grants = new Map<string, number[]>();

  constructor(private readonly opts: { concurrent: number; perSecond: number }) {}

  async run<T>(address: string, fn: () => Promise<T>): Promise<T> {
    await this.enter(address);
    try {
      let budget = this.budgets.get(address);
      if (!budget) this.budgets.set(address, (budget = new RequestBudget({ max: this.opts.perSecond, windowMs: 1000 })));
      // The budget's own grant time: the caller resumes a little later (the event loop), and a log
      // taken then could put 101 grants into a one-second window the budget kept at 100.
      const at = await budget.acquire();
      const list = this.grants.get(address);
      if (list) list.push(at);
      else this.grants.set(address, [at]);
      return await fn();
    } finally {
      this.leave(address);
    }
  }

  private async enter(address: string): Promise<void> {
    const n = this.active.get(address) ?? 0;
    if (n >= this.opts.concurrent) {
      await new Promise<void>((resolve) => this.waiters.set(address, [...(this.waiters.get(address) ?? []), resolve]));
    }
    // A waiter woken by leave() inherits the slot the leaver gave up (leave did not decrement).
    else this.active.set(address, n + 1);
    const now = this.active.get(address)!;
    if (now > (this.peak.get(address) ?? 0)) this.peak.set(address, now);
  }

  private leave(address: string): void {
    const queue = this.waiters.get(address);
    const next = queue?.shift();
    if (next) {
      next();
      return;
    }
    this.active.set(address, (this.active.get(address) ?? 1) - 1);
  }
}
