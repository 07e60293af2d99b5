import type { AppContext } from '../context.js';
import { alertOnTimer } from './evaluate.js';
import { deliverDue, queueReminders } from './notify.js';
import { alertOnTimerHealth } from '../hooks/timer-health.js';

/**
 * What the daemon (`serve`) does every minute: notice a timer that stopped (it cannot report its
 * own absence), send reminders and whatever the outbox holds (hooks queue alerts but never wait
 * for a channel). Never throws: a broken channel or database must not stop the web app.
 */
export async function watchdogTick(ctx: AppContext, since: number): Promise<void> {
  try {
    alertOnTimer(ctx, since);
    alertOnTimerHealth(ctx);
    queueReminders(ctx);
    await deliverDue(ctx);
  } catch (err) {
    ctx.logger.error({ err: (err as Error).message }, 'alert watchdog failed');
  }
}

export function startWatchdog(ctx: AppContext, everyMs = 60_000): { stop(): void } {
  const since = ctx.now();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void watchdogTick(ctx, since).finally(() => (running = false));
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
