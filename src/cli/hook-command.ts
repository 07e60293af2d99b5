import { hookRegistrations } from '../hooks/registrations.js';
import { runHook } from '../hooks/hook.js';
import { reconcile } from '../hooks/reconcile.js';
import { createContext } from '../context.js';
import { ProblemError } from '../problem.js';
import { json, type Command } from './types.js';

/**
 * `hook`: cPanel's protocol. Answers `1 <msg>` or `0 <msg>` on stdout, never BAILOUT, and exits 0
 * even when the work failed: an install must never be blocked by DNS trouble.
 */
export const hookCommand: Command = {
  needsContext: false,
  async run({ values, stdin }) {
    if (values.describe) return { output: json(hookRegistrations()), exitCode: 0 };
    let ctx;
    try {
      ctx = createContext({ root: values.root as string | undefined, config: values.config as string | undefined });
    } catch (err) {
      return { output: `0 TLSA Manager cannot start: ${(err as Error).message}`, exitCode: 0 };
    }
    const outcome = await runHook(ctx, stdin());
    return { output: `${outcome.ok ? 1 : 0} ${outcome.message.replace(/[\r\n]+/g, ' ')}`, exitCode: 0 };
  },
};

export const reconcileCommand: Command = {
  async run({ ctx, values }) {
    const r = await reconcile(ctx!, { force: values.force === true });
    const file = values['metrics-file'] as string | undefined;
    if (file) {
      const { writeMetricsFile } = await import('../metrics/metrics.js');
      try {
        await writeMetricsFile(ctx!, file);
      } catch (err) {
        throw new ProblemError({ code: 'metrics-file-unwritable', message: `--metrics-file ${file}: cannot be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, subject: file, fix: 'Point it at a directory node_exporter reads (--collector.textfile.directory) that exists.' });
      }
    }
    return { output: values.json ? json(r) : r.summary, exitCode: r.failed ? 1 : 0 };
  },
};
