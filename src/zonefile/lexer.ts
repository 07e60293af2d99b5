/**
 * Single-pass tokenizer for RFC 1035 master files, following BIND's lexer: `;` comments (not
 * inside quotes), `(`/`)` join physical lines into one logical entry, `"` starts a quoted string
 * (and also ends an unquoted token, as `(`, `)` and `;` do), backslash escapes the next character.
 * Each logical entry keeps its exact character span so an editor can cut it out byte for byte.
 */

export interface Token {
  /** Raw text as written (quotes and escapes kept). */
  text: string;
  quoted: boolean;
  /** Offset of the token's first character. */
  pos: number;
}

export interface Entry {
  tokens: Token[];
  /** Offset of the first character of the entry's first physical line. */
  start: number;
  /** Offset just after the line ending of its last physical line (or the end of the text). */
  end: number;
  /** 1-based line of `start`. */
  line: number;
  /** The entry began with a space or tab: its owner is the previous one. */
  initialWs: boolean;
}

export type LexFail = (message: string, line: number) => never;

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;
const QUOTE = 34;
const SEMI = 59;
const LPAREN = 40;
const RPAREN = 41;
const BACKSLASH = 92;

/** Characters that end an unquoted token. */
const ENDS_TOKEN = new Uint8Array(128);
for (const c of [LF, CR, SP, TAB, QUOTE, SEMI, LPAREN, RPAREN]) ENDS_TOKEN[c] = 1;

export class Lexer {
  private pos = 0;
  private lineNo = 1;

  constructor(
    private readonly text: string,
    private readonly fail: LexFail,
  ) {}

  /** The next entry that has tokens, or null at the end of the text. */
  next(): Entry | null {
    const t = this.text;
    const n = t.length;
    while (this.pos < n) {
      const start = this.pos;
      const line = this.lineNo;
      const c0 = t.charCodeAt(start);
      const initialWs = c0 === SP || c0 === TAB;
      const tokens: Token[] = [];
      let depth = 0;
      let i = start;
      while (i < n) {
        const c = t.charCodeAt(i);
        if (c === LF) {
          this.lineNo++;
          i++;
          if (depth === 0) break;
        } else if (c === SP || c === TAB || c === CR) {
          i++;
        } else if (c === SEMI) {
          const nl = t.indexOf('\n', i);
          i = nl < 0 ? n : nl;
        } else if (c === LPAREN) {
          depth++;
          i++;
        } else if (c === RPAREN) {
          if (depth === 0) this.fail('")" without a matching "("', this.lineNo);
          depth--;
          i++;
        } else if (c === QUOTE) {
          i = this.quoted(i, tokens);
        } else {
          i = this.unquoted(i, tokens);
        }
      }
      if (depth > 0) this.fail(`"(" opened on line ${line} is never closed`, line);
      this.pos = i;
      if (tokens.length > 0) return { tokens, start, end: i, line, initialWs };
    }
    return null;
  }

  private quoted(open: number, out: Token[]): number {
    const t = this.text;
    const n = t.length;
    // Fast path for the common string without escapes (long DKIM keys): searches bounded by the line.
    const close = t.indexOf('"', open + 1);
    const nl = t.indexOf('\n', open + 1);
    if (close > 0 && (nl < 0 || close < nl)) {
      const text = t.slice(open, close + 1);
      if (text.indexOf('\\') < 0) {
        out.push({ text, quoted: true, pos: open });
        return close + 1;
      }
    }
    let j = open + 1;
    for (;;) {
      if (j >= n) this.fail('quoted string is not closed before the end of the file', this.lineNo);
      const c = t.charCodeAt(j);
      if (c === BACKSLASH) {
        if (j + 1 >= n || t.charCodeAt(j + 1) === LF || t.charCodeAt(j + 1) === CR) this.fail('backslash at the end of a line inside a quoted string', this.lineNo);
        j += 2;
      } else if (c === QUOTE) {
        break;
      } else if (c === LF) {
        this.fail('quoted string is not closed on its line', this.lineNo);
      } else {
        j++;
      }
    }
    out.push({ text: t.slice(open, j + 1), quoted: true, pos: open });
    return j + 1;
  }

  private unquoted(from: number, out: Token[]): number {
    const t = this.text;
    const n = t.length;
    let j = from;
    while (j < n) {
      const c = t.charCodeAt(j);
      if (c === BACKSLASH) {
        if (j + 1 >= n || t.charCodeAt(j + 1) === LF || t.charCodeAt(j + 1) === CR) this.fail('backslash at the end of a line', this.lineNo);
        j += 2;
      } else if (c < 128 && ENDS_TOKEN[c] === 1) {
        break;
      } else {
        j++;
      }
    }
    out.push({ text: t.slice(from, j), quoted: false, pos: from });
    return j;
  }
}
