import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppContext } from '../context.js';
import { cannotRun, hookAnswer, runHookWithin, withoutKeyMaterial } from '../hooks/hook.js';
import { loadConfig } from '../state/config.js';
import { changeStamp, trustedStamp } from '../util/change-stamp.js';

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
    freshConfig(ctx);
  } catch (err) {
    // What today's hook answers when it cannot read the config (cli/hook-command.ts).
    return hookAnswer(cannotRun(text, err));
  }
  try {
    return hookAnswer(await runHookWithin(ctx, text, HOOK_BUDGET_MS));
  } catch (err) {
    return hookAnswer({ ok: false, message: `TLSA Manager's service could not run this hook: ${(err as Error).message}` });
  }
}

/**
 * The config as its file says now, as today's hook (one process per event) reads it: an edit by
 * `tlsa-manager` commands or by hand is seen by the next event. Read again only when the file's
 * change stamp differs from the one of the config the service holds (taken when the socket
 * opened, see watchConfig; a stamp too recent to trust is not kept, so the next event reads it).
 * The settings page writes the file as well as replacing ctx.config, so it reads back the same.
 */
const configStamps = new WeakMap<AppContext, string | null>();

/** The config file's stamp as the service holds it now (called when the service starts listening). */
export function watchConfig(ctx: AppContext): void {
  configStamps.set(ctx, trustedStamp(ctx.configPath));
}

function freshConfig(ctx: AppContext): void {
  if (!configStamps.has(ctx)) return watchConfig(ctx);
  const stamp = changeStamp(ctx.configPath);
  if (stamp === configStamps.get(ctx)) return;
  const next = trustedStamp(ctx.configPath);
  ctx.config = loadConfig(ctx.configPath);
  configStamps.set(ctx, next);
}
