import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ProblemError } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';

const run = promisify(execFile);
export const WHMAPI1 = '/usr/local/cpanel/bin/whmapi1';

interface Envelope<T> {
  data?: T;
  metadata?: { command?: string; reason?: string; result?: number };
}

/** WHM API 1 through its CLI (`whmapi1 --output=json fn key=value …`); argv only, never a shell. */
export class WhmApi {
  constructor(private readonly root: ServerRoot) {}

  static available(root: ServerRoot): boolean {
    return root.exists(WHMAPI1);
  }

  async call<T>(fn: string, args: [string, string][] = []): Promise<T> {
    const argv = ['--output=json', fn, ...args.map(([k, v]) => `${k}=${v}`)];
    let stdout: string;
    try {
      ({ stdout } = await run(this.root.path(WHMAPI1), argv, { maxBuffer: 64 << 20, timeout: 120_000 }));
    } catch (err) {
      throw new ProblemError({ code: 'whmapi-failed', message: `whmapi1 ${fn} could not run: ${(err as Error).message.split('\n')[0]}`, fix: 'Check that cPanel is healthy (/usr/local/cpanel/bin/whmapi1 version).' });
    }
    let env: Envelope<T>;
    try {
      env = JSON.parse(stdout) as Envelope<T>;
    } catch {
      throw new ProblemError({ code: 'whmapi-failed', message: `whmapi1 ${fn} did not answer with JSON.` });
    }
    if (env.metadata?.result !== 1) {
      throw new ProblemError({ code: 'whmapi-error', message: `whmapi1 ${fn} failed: ${env.metadata?.reason ?? 'no reason given'}` });
    }
    return (env.data ?? {}) as T;
  }
}
