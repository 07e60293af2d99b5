import { hookRegistrations } from '../hooks/registrations.js';
import { cannotRun, hookAnswer, runHook, type HookOutcome } from '../hooks/hook.js';
import { reconcile } from '../hooks/reconcile.js';
import { createContext } from '../context.js';
import { problem, ProblemError } from '../problem.js';
import { json, type Command, type Values } from './types.js';

/**
 * `hook`: cPanel's protocol. Answers `1 <msg>` on stdout whatever happened (hookAnswer: a `0` can
 * fail a cPanel action), never BAILOUT, and exits 0: an install must never be blocked by DNS trouble.
 */
export const hookCommand: Command = {
  needsContext: false,
  async run({ values, stdin }) {
    if (values.describe) return { output: json(hookRegistrations()), exitCode: 0 };
    const budget = hookBudgetMs(values.budget);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<HookOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: true, message: `deferred: still working after ${budget / 1000} s; the periodic reconcile finishes the work` }), budget);
    });
    const outcome = await Promise.race([answer(values, stdin), late]);
    clearTimeout(timer);
    // Past the budget the work is abandoned mid-way, like a kill: the journal lets the next run finish it.
    const exitNow = outcome.message.startsWith('deferred: still working');
    return { output: hookAnswer(outcome), exitCode: 0, ...(exitNow ? { exitNow } : {}) };
  },
};

/** cPanel waits for its hooks; ours answers within this many seconds (--budget, default 50). */
const DEFAULT_HOOK_BUDGET_S = 50;

function hookBudgetMs(v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : DEFAULT_HOOK_BUDGET_S;
  return (Number.isFinite(n) && n > 0 && n <= 3600 ? n : DEFAULT_HOOK_BUDGET_S) * 1000;
}

/** Whatever happens (bad input, unreadable stdin, a broken config, a bug), an answer. */
async function answer(values: Values, stdin: () => string): Promise<HookOutcome> {
  let raw = '';
  try {
    raw = stdin();
    const ctx = createContext({ root: values.root as string | undefined, config: values.config as string | undefined });
    return await runHook(ctx, raw);
  } catch (err) {
    return cannotRun(raw, err);
  }
}


export const reconcileCommand: Command = {
  async run({ ctx, values }) {
    const r = await reconcile(ctx!, { force: values.force === true });
    const file = values['metrics-file'] as string | undefined;
    if (file) {
      const { writeMetricsFile } = await import('../metrics/metrics.js');
      try {
        await writeMetricsFile(ctx!, file);
      } catch (err) {
        throw new ProblemError(problem('metrics-file-unwritable', `--metrics-file ${file}: cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, { subject: file, fix: 'Point it at a directory node_exporter reads (--collector.textfile.directory) that exists.' }));
      }
    }
    return { output: values.json ? json(r) : r.summary, exitCode: r.failed ? 1 : 0 };
  },
};
