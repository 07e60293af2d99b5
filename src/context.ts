import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { ServerRoot } from './util/server-root.js';
import { CONFIG_PATH, loadConfig, type Config } from './state/config.js';
import { STATE_DB_PATH, StateDb } from './state/db.js';
import { providerRedactPaths } from './providers/registry.js';

/** Everything a command needs, built once from --root/--config. The outside world enters here. */
export interface AppContext {
  root: ServerRoot;
  configPath: string;
  config: Config;
  logger: Logger;
  /** Opened (and created) on first use, for commands that write: apply, hook, reconcile, serve. */
  state(): StateDb;
  /**
   * For commands that change nothing (plan, scan, audit): the state database if there is one,
   * read without creating or writing any file; the open one when this process already writes.
   */
  readState(): StateDb | null;
  now(): number;
}

/** Provider secrets come from the registry (each module declares its own); the rest are ours. */
export const REDACT_PATHS = [...providerRedactPaths(), 'token', '*.token', 'headers.authorization', 'key_pem', '*.key_pem', 'secret', '*.secret', '*.*.secret', 'webhook.secret', 'alerts.webhook.secret', 'metrics.token', 'config.alerts.webhook.secret', 'config.metrics.token'];

export function createLogger(opts: { level?: string; destination?: string } = {}): Logger {
  const options = { level: opts.level ?? process.env.TLSA_MANAGER_LOG_LEVEL ?? 'warn', redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return opts.destination ? pino(options, pino.destination({ dest: opts.destination, mkdir: true, sync: false })) : pino(options, pino.destination(2));
}

export function createContext(opts: { root?: string; config?: string; logger?: Logger }): AppContext {
  const root = new ServerRoot(opts.root ?? process.env.TLSA_MANAGER_ROOT ?? '/');
  const configPath = opts.config ?? root.path(CONFIG_PATH);
  const config = loadConfig(configPath);
  let state: StateDb | null = null;
  return {
    root,
    configPath,
    config,
    logger: opts.logger ?? createLogger(),
    state: () => (state ??= new StateDb(root.path(STATE_DB_PATH))),
    readState: () => state ?? StateDb.readOnly(root.path(STATE_DB_PATH)),
    now: () => Date.now(),
  };
}

export function logDir(root: ServerRoot): string {
  return join(root.path('/var/log/tlsa-manager'));
}
