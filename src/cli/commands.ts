import type { ParseArgsConfig } from 'node:util';
import type { Command } from './types.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command takes. */
export const GLOBAL_OPTIONS: Options = {
  root: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const domain = { type: 'string', multiple: true } as const;
const force = { type: 'boolean' } as const;

/**
 * Every command of the `tlsa-manager` binary with the options it takes (any other option is a
 * usage error), loaded on demand: a hook must not pay for loading express, and `tlsa` must not
 * open a database. Commands wire library functions together, nothing more.
 */
export const commands: Record<string, { options: Options; load: () => Promise<Command> }> = {
  tlsa: {
    options: { cert: { type: 'string' }, host: { type: 'string' }, port: { type: 'string', multiple: true }, usage: { type: 'string' }, selector: { type: 'string' }, matching: { type: 'string' } },
    load: async () => (await import('./tlsa-command.js')).tlsaCommand,
  },
  scan: { options: {}, load: async () => (await import('./plan-commands.js')).scanCommand },
  plan: { options: { domain, force }, load: async () => (await import('./plan-commands.js')).planCommand },
  apply: {
    options: { domain, force, yes: { type: 'boolean', short: 'y' }, takeover: { type: 'string', multiple: true } },
    load: async () => (await import('./plan-commands.js')).applyCommand,
  },
  audit: { options: { format: { type: 'string' } }, load: async () => (await import('./plan-commands.js')).auditCommand },
  check: {
    options: {
      all: { type: 'boolean' },
      resolver: { type: 'string' },
      concurrency: { type: 'string' },
      nagios: { type: 'boolean' },
      'mta-sts': { type: 'boolean' },
      warning: { type: 'string' },
      critical: { type: 'string' },
    },
    load: async () => (await import('./check-command.js')).checkCommand,
  },
  hook: { options: { describe: { type: 'boolean' }, budget: { type: 'string' } }, load: async () => (await import('./hook-command.js')).hookCommand },
  reconcile: { options: { force, 'metrics-file': { type: 'string' } }, load: async () => (await import('./hook-command.js')).reconcileCommand },
  metrics: { options: {}, load: async () => (await import('./metrics-command.js')).metricsCommand },
  alerts: { options: {}, load: async () => (await import('./alerts-command.js')).alertsCommand },
  dnssec: {
    options: { all: { type: 'boolean' }, resolver: { type: 'string' }, force, yes: { type: 'boolean', short: 'y' }, 'after-ds-gone': { type: 'boolean' } }, load: async () => (await import('./dnssec-command.js')).dnssecCommand },
  tlsrpt: { options: { domain }, load: async () => (await import('./tlsrpt-command.js')).tlsrptCommand },
  'mta-sts': { options: { all: { type: 'boolean' } }, load: async () => (await import('./mtasts-command.js')).mtaStsCommand },
  serve: {
    options: { listen: { type: 'string' }, socket: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, insecure: { type: 'boolean' } },
    load: async () => (await import('./serve-command.js')).serveCommand,
  },
  account: { options: { user: { type: 'string' }, domain: { type: 'string' } }, load: async () => (await import('./account-command.js')).accountCommand },
  'login-link': { options: {}, load: async () => (await import('./serve-command.js')).loginLinkCommand },
};
