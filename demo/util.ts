/**
 * The demo is a tool beside the product, not part of it: it imports nothing from src/, so it
 * compiles on its own (demo/tsconfig.json) and nothing of it ships in dist/ or the release.
 */

/** A refusal the demo tools explain to whoever ran them: what is wrong and what to do. */
export class DemoError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'DemoError';
  }
}

/** One line for stderr: the message, then the fix when there is one. */
export function explain(err: unknown): string {
  if (err instanceof DemoError) return `${err.message}${err.fix ? ` ${err.fix}` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** Map with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
