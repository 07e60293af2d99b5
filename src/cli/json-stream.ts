/**
 * `--json` output written piece by piece: the same bytes as `json(value)` (2-space indent, Buffers
 * dropped), but a top-level array is serialised one element at a time, so a 10,000-zone plan never
 * exists as one 30 MB string (issue 10 §7). The arrays may be iterables that build each element
 * only when it is written.
 */

export type Write = (chunk: string) => void | Promise<void>;

const dropBuffers = (_k: string, val: unknown): unknown => (Buffer.isBuffer(val) ? undefined : val);

/** Stringify at a nesting depth: JSON.stringify's own output with every line break indented. */
function at(value: unknown, indent: string): string | undefined {
  const s = JSON.stringify(value, dropBuffers, 2) as string | undefined;
  // JSON.stringify escapes line breaks inside strings, so every '\n' here is layout.
  return s === undefined ? undefined : s.replaceAll('\n', `\n${indent}`);
}

function isStreamed(v: unknown): v is Iterable<unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Symbol.iterator in v;
}

/**
 * Write `{ key: value, ... }` as `json()` would. A value that is a non-array iterable is written as
 * the array it yields, element by element; other values go through JSON.stringify whole. Chunks
 * are gathered to about 64 kB per write.
 */
export async function writeJsonObject(fields: Record<string, unknown>, write: Write): Promise<void> {
  let buf = '';
  const flush = async (force: boolean) => {
    if (buf.length >= 65536 || (force && buf.length > 0)) {
      const chunk = buf;
      buf = '';
      await write(chunk);
    }
  };
  let first = true;
  for (const [key, value] of Object.entries(fields)) {
    let body: string | undefined;
    if (isStreamed(value)) {
      buf += `${first ? '{\n' : ',\n'}  ${JSON.stringify(key)}: `;
      first = false;
      let n = 0;
      for (const el of value) {
        buf += `${n === 0 ? '[\n' : ',\n'}    ${at(el, '    ') ?? 'null'}`;
        n++;
        await flush(false);
      }
      buf += n === 0 ? '[]' : '\n  ]';
      continue;
    }
    body = at(value, '  ');
    if (body === undefined) continue; // JSON.stringify leaves such keys out too
    buf += `${first ? '{\n' : ',\n'}  ${JSON.stringify(key)}: ${body}`;
    first = false;
    await flush(false);
  }
  buf += first ? '{}\n' : '\n}\n';
  await flush(true);
}
