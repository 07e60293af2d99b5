import { createHmac } from 'node:crypto';
import type { AlertMessage } from '../message.js';

export const SIGNATURE_HEADER = 'X-TLSA-Manager-Signature';

/** `sha256=<hex HMAC-SHA256 of the raw body with the shared secret>` (what receivers recompute). */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export interface WebhookOptions {
  url: string;
  secret: string;
  /** Attempts within one delivery (the outbox retries later again). */
  attempts?: number;
  /** First pause between attempts; doubles each time. */
  backoffMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

class PermanentError extends Error {}

/**
 * JSON POST of the message. Retries network errors, 429 and 5xx with back-off; a 4xx other than
 * 429 fails at once (retrying the same body cannot help). Errors never contain the secret.
 */
export async function postWebhook(m: AlertMessage, o: WebhookOptions): Promise<void> {
  const body = JSON.stringify(m);
  const headers = { 'content-type': 'application/json', 'user-agent': 'tlsa-manager', [SIGNATURE_HEADER]: signature(body, o.secret) };
  const attempts = o.attempts ?? 3;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let pause = o.backoffMs ?? 1000;
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      await sleep(pause);
      pause *= 2;
    }
    try {
      const res = await fetch(o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000), redirect: 'manual' });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      last = `HTTP ${res.status} from ${hostOf(o.url)}`;
      if (res.status !== 429 && res.status < 500) throw new PermanentError(last);
    } catch (err) {
      if (err instanceof PermanentError) throw err;
      last = `${hostOf(o.url)}: ${(err as Error).name === 'TimeoutError' ? 'timed out' : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message)}`;
    }
  }
  throw new Error(`${last} (after ${attempts} attempts)`);
}

/** Only the host goes into messages: a URL may carry a token in its path or query. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the webhook';
  }
}
