/**
 * BIND's `$GENERATE range lhs [ttl] [class] type rhs`: the substitution of the iterator into lhs
 * and rhs, as lib/dns/master.c does it (checked against named-compilezone in the tests):
 * `$` is the value, `${offset[,width[,base]]}` formats it (base d, o, x, X, n, N; n/N are
 * nibble labels), `$$` is a literal `$`, and a backslash keeps the next character as written.
 */

export interface GenerateRange {
  start: number;
  stop: number;
  step: number;
}

/** `start-stop[/step]`, or throws with the reason (BIND refuses start > stop too). */
export function parseRange(token: string): GenerateRange {
  const m = /^([0-9]{1,10})-([0-9]{1,10})(?:\/([0-9]{1,10}))?$/.exec(token);
  if (!m) throw new Error('the range must be start-stop or start-stop/step');
  const start = Number(m[1]);
  const stop = Number(m[2]);
  const step = m[3] === undefined ? 1 : Number(m[3]);
  if (start > 2147483647 || stop > 2147483647 || step === 0 || step > 2147483647) throw new Error('the range numbers are out of bounds');
  if (start > stop) throw new Error('the range starts after it ends');
  return { start, stop, step };
}

export function rangeCount(r: GenerateRange): number {
  return Math.floor((r.stop - r.start) / r.step) + 1;
}

/** One template, parsed once: literal text and value slots. */
type Part = string | { offset: number; width: number; base: string };

export function compileTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '\\') {
      lit += template.slice(i, i + 2);
      i++;
    } else if (c !== '$') {
      lit += c;
    } else if (template[i + 1] === '$') {
      lit += '$';
      i++;
    } else if (template[i + 1] === '{') {
      const close = template.indexOf('}', i);
      if (close < 0) throw new Error('a "${" modifier is not closed');
      const m = /^([+-]?[0-9]{1,10})(?:,([0-9]{1,3})(?:,([doxXnN]))?)?$/.exec(template.slice(i + 2, close));
      if (!m) throw new Error('a "${offset,width,base}" modifier is not valid');
      if (lit) parts.push(lit);
      lit = '';
      parts.push({ offset: Number(m[1]), width: m[2] === undefined ? 0 : Number(m[2]), base: m[3] ?? 'd' });
      i = close;
    } else {
      if (lit) parts.push(lit);
      lit = '';
      parts.push({ offset: 0, width: 0, base: 'd' });
    }
  }
  if (lit) parts.push(lit);
  return parts;
}

export function expand(parts: Part[], value: number): string {
  let out = '';
  for (const p of parts) out += typeof p === 'string' ? p : format(value + p.offset, p.width, p.base);
  return out;
}

function format(v: number, width: number, base: string): string {
  if (v < 0 || v > 4294967295) throw new Error('a generated value is negative or too large');
  if (base === 'n' || base === 'N') return nibbles(v, width, base === 'N');
  const radix = base === 'o' ? 8 : base === 'd' ? 10 : 16;
  const s = v.toString(radix);
  return (base === 'X' ? s.toUpperCase() : s).padStart(width, '0');
}

/** Reverse nibble labels (`1.0.0`): `width` counts characters, dots included, like BIND. */
function nibbles(value: number, width: number, upper: boolean): string {
  const hex = upper ? '0123456789ABCDEF' : '0123456789abcdef';
  let v = value;
  let w = width;
  let out = '';
  do {
    out += hex[v & 15];
    v = Math.floor(v / 16);
    if (w > 0) w--;
    if (w > 0 || v !== 0) {
      out += '.';
      if (w > 0) w--;
    }
  } while (v !== 0 || w > 0);
  return out;
}
