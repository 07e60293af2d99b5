import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.js';
import { hookAnswer, runHookWithin, withoutKeyMaterial } from '../hooks/hook.js';

/**
 * cPanel hook events handed over by the hook client (plugin/bin/tlsa-manager-hook) on the root-only
 * socket, answered by the running service: no node start, no module loading per event (issue 26).
 * Only requests that say they come from the hook client and carry no WHM user get here: the CGI
 * shim never sends X-TLSA-Hook-Client and always sends X-TLSA-Remote-User, so a browser cannot
 * reach this through WHM (no CSRF path to a hook).
 */
export const HOOK_PATH = '/hook';
const HOOK_BUDGET_MS = 50_000;
/** cPanel's payloads carry a certificate chain and a key: a few kB; the CLI hook reads stdin unbounded, this does not. */
const MAX_EVENT_BYTES = 4 << 20;

export function isHookRequest(req: IncomingMessage): boolean {
  return req.method === 'POST' && req.url === HOOK_PATH && req.headers['x-tlsa-hook-client'] === '1' && req.headers['x-tlsa-remote-user'] === undefined;
}

export function handleHookRequest(ctx: AppContext, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_EVENT_BYTES) {
      refused = true;
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (refused) return;
    void answer(ctx, Buffer.concat(chunks).toString('utf8')).then((line) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(`${line}\n`);
    });
  });
}

async function answer(ctx: AppContext, raw: string): Promise<string> {
  let text = raw;
  try {
    text = JSON.stringify(withoutKeyMaterial(JSON.parse(raw)));
  } catch {
    /* not JSON: runHook says so */
  }
  try {
    return hookAnswer(await runHookWithin(ctx, text, HOOK_BUDGET_MS));
  } catch (err) {
    return hookAnswer({ ok: false, message: `TLSA Manager's service could not run this hook: ${(err as Error).message}` });
  }
}
