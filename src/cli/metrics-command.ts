import { metricsText } from '../metrics/metrics.js';
import type { Command } from './types.js';

/** `tlsa-manager metrics`: the Prometheus exposition on stdout (same text as /metrics and --metrics-file). */
export const metricsCommand: Command = {
  async run({ ctx }) {
    return { output: await metricsText(ctx!), exitCode: 0 };
  },
};
