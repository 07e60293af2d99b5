/**
 * Domain names in master-file presentation. Results are canonical: absolute, lower-case (ASCII
 * only, as DNS compares), no trailing dot, root = ''. Bytes that are not plain name characters
 * are written as `\DDD`, so `\095` and `_` give the same owner and a dot inside a label can never
 * be confused with a label separator.
 */

/** Characters kept literally in canonical form (besides letters and digits). */
const PLAIN = new Uint8Array(128);
for (let c = 48; c <= 57; c++) PLAIN[c] = 1;
for (let c = 65; c <= 90; c++) PLAIN[c] = 1;
for (let c = 97; c <= 122; c++) PLAIN[c] = 1;
for (const ch of '-_*/+=!#%&\',:<>?[]^`{|}~') PLAIN[ch.charCodeAt(0)] = 1;

const MAX_LABEL = 63;
const MAX_WIRE = 255;

/** Throws a plain Error with the reason; the parser turns it into a ZoneSyntaxError with the line. */
export function absoluteName(raw: string, origin: string): string {
  if (raw === '@') return origin;
  if (raw === '.') return '';
  const fast = fastPath(raw);
  const rel = fast ?? slowPath(raw);
  if (rel.absolute) return checkWire(rel.name, rel.wire);
  if (origin === '') return checkWire(rel.name, rel.wire);
  return checkWire(`${rel.name}.${origin}`, rel.wire + wireLength(origin) - 1);
}

interface Decoded {
  name: string;
  absolute: boolean;
  /** Wire length of `name` as an absolute name (labels + lengths + root byte). */
  wire: number;
}

/** Names made only of plain characters and dots: validate labels and lower-case, no allocation per char. */
function fastPath(raw: string): Decoded | null {
  let labelLen = 0;
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 46) {
      if (labelLen === 0) throw new Error(`"${raw}" has an empty label`);
      labelLen = 0;
    } else if (c < 128 && PLAIN[c] === 1) {
      if (++labelLen > MAX_LABEL) throw new Error(`"${raw}" has a label longer than 63 characters`);
    } else {
      return null;
    }
  }
  const absolute = raw.charCodeAt(n - 1) === 46;
  const name = (absolute ? raw.slice(0, -1) : raw).toLowerCase();
  return { name, absolute, wire: name.length + 2 };
}

const encoder = new TextEncoder();

function slowPath(raw: string): Decoded {
  const labels: string[] = [];
  let label = '';
  let labelLen = 0;
  let wire = 1;
  let absolute = false;
  const n = raw.length;
  const push = (byte: number) => {
    if (++labelLen > MAX_LABEL) throw new Error(`"${raw}" has a label longer than 63 characters`);
    label += encodeByte(byte);
  };
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c === 46) {
      if (labelLen === 0) throw new Error(`"${raw}" has an empty label`);
      labels.push(label);
      wire += labelLen + 1;
      label = '';
      labelLen = 0;
      if (i === n - 1) absolute = true;
    } else if (c === 92) {
      const d = raw.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new Error(`"${raw}" has an escape \\${d} above 255`);
        push(v);
        i += 3;
      } else if (/^[0-9]/.test(d)) {
        throw new Error(`"${raw}" has an incomplete \\DDD escape`);
      } else if (i + 1 < n) {
        const next = raw.codePointAt(i + 1)!;
        if (next > 127) throw new Error(`"${raw}" escapes a non-ASCII character`);
        push(next);
        i += 1;
      } else {
        throw new Error(`"${raw}" ends with a backslash`);
      }
    } else if (c > 127) {
      const cp = raw.codePointAt(i)!;
      for (const b of encoder.encode(String.fromCodePoint(cp))) push(b);
      if (cp > 0xffff) i++;
    } else {
      push(c);
    }
  }
  if (labelLen > 0) {
    labels.push(label);
    wire += labelLen + 1;
  }
  return { name: labels.join('.'), absolute, wire };
}

function encodeByte(b: number): string {
  if (b >= 65 && b <= 90) return String.fromCharCode(b + 32);
  if (b < 128 && PLAIN[b] === 1) return String.fromCharCode(b);
  return `\\${String(b).padStart(3, '0')}`;
}

function checkWire(name: string, wire: number): string {
  if (wire > MAX_WIRE) throw new Error(`"${name.slice(0, 40)}…" is longer than 255 octets`);
  return name;
}

/** Wire length of a canonical absolute name. */
export function wireLength(name: string): number {
  if (name === '') return 1;
  if (name.indexOf('\\') < 0) return name.length + 2;
  let len = 2;
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) === 92) i += name.charCodeAt(i + 1) >= 48 && name.charCodeAt(i + 1) <= 57 ? 3 : 1;
    len++;
  }
  return len;
}

/** Decode an uncompressed wire-format name starting at `off`; returns the canonical name and the next offset. */
export function nameFromWire(bytes: Uint8Array, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let i = off;
  for (;;) {
    if (i >= bytes.length) throw new Error('name runs past the end of the data');
    const len = bytes[i]!;
    if (len === 0) return { name: labels.join('.'), next: i + 1 };
    if (len > MAX_LABEL) throw new Error('compressed or invalid label in wire-format name');
    if (i + 1 + len > bytes.length) throw new Error('label runs past the end of the data');
    let label = '';
    for (let k = i + 1; k <= i + len; k++) label += encodeByte(bytes[k]!);
    labels.push(label);
    i += len + 1;
    if (i - off > MAX_WIRE) throw new Error('name is longer than 255 octets');
  }
}
