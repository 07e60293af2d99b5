import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { problem, ProblemError } from '../problem.js';
import type { ServerRoot } from '../util/server-root.js';

const run = promisify(execFile);
export const WHMAPI1 = '/usr/local/cpanel/bin/whmapi1';

/**
 * mass_edit_dns_zone's answer when the serial we sent is no longer the zone's: `data.type` is
 * `Stale` (Whostmgr/API/1/DNS.pm mass_edit_dns_zone lines 722-727, Cpanel/APICommon/Error.pm
 * convert_to_payload), whatever the language of the reason; the English reason ("The given serial
 * number (X) does not match the DNS zone’s serial number (Y). …") is still recognised too.
 */
const STALE_SERIAL = /^The given serial number \(.*\) does not match the DNS zone.s serial number/;

function isStale(env: Envelope<unknown>): boolean {
  const data = env.data as { type?: unknown } | null | undefined;
  return (data !== null && typeof data === 'object' && data.type === 'Stale') || STALE_SERIAL.test(env.metadata?.reason ?? '');
}

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
      throw new ProblemError(problem('whmapi-failed', `whmapi1 ${fn} could not run: ${(err as Error).message.split('\n')[0]}`, { fix: 'Check that cPanel is healthy (/usr/local/cpanel/bin/whmapi1 version).' }));
    }
    let env: Envelope<T>;
    try {
      env = JSON.parse(stdout) as Envelope<T>;
    } catch {
      throw new ProblemError(problem('whmapi-failed', `whmapi1 ${fn} did not answer with JSON.`));
    }
    if (env.metadata?.result !== 1) {
      const reason = env.metadata?.reason ?? 'no reason given';
      if (isStale(env)) throw new ProblemError(problem('zone-serial-stale', `whmapi1 ${fn} failed: ${reason}`));
      throw new ProblemError(problem('whmapi-error', `whmapi1 ${fn} failed: ${reason}`));
    }
    return (env.data ?? {}) as T;
  }
}
