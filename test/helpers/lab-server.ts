import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Lab } from '../lab/lab.js';
import { testContext } from './context.js';
import type { AppContext } from '../../src/context.js';

/**
 * Turn a lab into "this server": its fake cPanel root gets the lab's zone directory as
 * /var/named, the given zones as customer domains, and a config that reloads through rndc and
 * confirms at the lab's named.
 */
export function labServer(l: Lab, zones: string[], config: Record<string, unknown> = {}): AppContext {
  const root = l.cpanelRoot;
  try {
    symlinkSync(dirname(l.zoneFile(zones[0]!)), join(root, 'var/named'));
  } catch {
    /* linked already */
  }
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/userdomains'), zones.map((z) => `${z}: user1\n`).join(''));
  writeFileSync(join(root, 'etc/localdomains'), zones.join('\n'));
  const reload = l.rndcArgv(zones[0]!).map((a) => (a === zones[0] ? '{zone}' : a));
  return testContext({ ...config, resolver: l.resolver, resolverProbeName: l.parent, cpanel: { reloadCommand: reload, authoritative: l.authoritative, useWhmApi: false } }, root);
}

/** posttls-finger against `target` about once a second until stopped; every verdict is kept. */
export function fingerLoop(l: Lab, target: string, port: 25 | 465 | 587 = 25) {
  const results: { at: number; verified: boolean; output: string }[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = Date.now();
      const r = await l.posttlsFinger(target, { port, timeoutSec: 10 });
      results.push({ at: started, verified: r.verified, output: r.output });
      const rest = 1000 - (Date.now() - started);
      if (rest > 0 && running) await new Promise((res) => setTimeout(res, rest));
    }
  })();
  return {
    results,
    async stop() {
      running = false;
      await done;
      return results;
    },
  };
}
