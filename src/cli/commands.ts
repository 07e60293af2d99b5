import type { Command } from './types.js';

/**
 * Every command of the `tlsa-manager` binary, loaded on demand: a hook must not pay for loading
 * express, and `tlsa` must not open a database. Commands wire library functions together,
 * nothing more.
 */
export const commands: Record<string, () => Promise<Command>> = {
  tlsa: async () => (await import('./tlsa-command.js')).tlsaCommand,
  scan: async () => (await import('./plan-commands.js')).scanCommand,
  plan: async () => (await import('./plan-commands.js')).planCommand,
  apply: async () => (await import('./plan-commands.js')).applyCommand,
  audit: async () => (await import('./plan-commands.js')).auditCommand,
  check: async () => (await import('./check-command.js')).checkCommand,
  hook: async () => (await import('./hook-command.js')).hookCommand,
  reconcile: async () => (await import('./hook-command.js')).reconcileCommand,
  dnssec: async () => (await import('./dnssec-command.js')).dnssecCommand,
  serve: async () => (await import('./serve-command.js')).serveCommand,
  metrics: async () => (await import('./metrics-command.js')).metricsCommand,
};
