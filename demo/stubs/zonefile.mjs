// A small, self-contained, line-based zone file reader for the whmapi1 stub. Good enough for
// cPanel-format zones (multi-line SOA in parentheses, quoted TXT strings, `;` comments,
// $TTL/$ORIGIN). It keeps the position of every token so the serial can be edited in place.

/**
 * @typedef {{ text: string, quoted: boolean, line: number, start: number, end: number }} Token
 * @typedef {{ type: 'record', lineIndex: number, lastLine: number, owner: string, ttl: number,
 *   recordType: string, data: Token[] }} RecordEntry
 * @typedef {{ type: 'comment' | 'control', lineIndex: number, text: string }} TextEntry
 */

/** Split one physical line into tokens; returns tokens and whether a comment was reached. */
function tokenizeLine(line, lineIndex) {
  const tokens = [];
  let opens = 0;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === ';') break;
    if (c === '(') { opens++; i++; continue; }
    if (c === ')') { opens--; i++; continue; }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) { text += line[j] + line[j + 1]; j += 2; continue; }
        text += line[j++];
      }
      if (j >= line.length) throw new Error(`line ${lineIndex + 1}: unterminated quoted string`);
      tokens.push({ text, quoted: true, line: lineIndex, start: i, end: j + 1 });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < line.length && !' \t\r;()"'.includes(line[j])) j++;
    tokens.push({ text: line.slice(i, j), quoted: false, line: lineIndex, start: i, end: j });
    i = j;
  }
  return { tokens, opens };
}

const CLASSES = new Set(['IN', 'CH', 'HS']);

/** Parse zone text into comment/control/record entries (blank lines are skipped). */
export function parseZone(text) {
  const lines = text.split('\n');
  /** @type {(RecordEntry|TextEntry)[]} */
  const entries = [];
  let defaultTtl = 14400;
  let lastOwner = '@';
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === '') { i++; continue; }
    if (trimmed.startsWith(';')) { entries.push({ type: 'comment', lineIndex: i, text: line }); i++; continue; }
    if (trimmed.startsWith('$')) {
      const [directive, value] = trimmed.split(/\s+/);
      if (directive.toUpperCase() === '$TTL' && /^\d+$/.test(value ?? '')) defaultTtl = Number(value);
      entries.push({ type: 'control', lineIndex: i, text: line });
      i++;
      continue;
    }
    const start = i;
    const inheritsOwner = line[0] === ' ' || line[0] === '\t';
    let { tokens, opens } = tokenizeLine(line, i);
    let depth = opens;
    while (depth > 0) {
      i++;
      if (i >= lines.length) throw new Error(`line ${start + 1}: unbalanced parentheses`);
      const more = tokenizeLine(lines[i], i);
      tokens = tokens.concat(more.tokens);
      depth += more.opens;
    }
    i++;
    let owner = lastOwner;
    if (!inheritsOwner) owner = tokens.shift().text;
    let ttl = defaultTtl;
    for (let k = 0; k < 2 && tokens.length; k++) {
      const t = tokens[0].text;
      if (/^\d+$/.test(t)) { ttl = Number(t); tokens.shift(); } else if (CLASSES.has(t.toUpperCase())) tokens.shift();
    }
    const typeToken = tokens.shift();
    if (!typeToken) throw new Error(`line ${start + 1}: record without a type`);
    lastOwner = owner;
    entries.push({ type: 'record', lineIndex: start, lastLine: i - 1, owner, ttl, recordType: typeToken.text.toUpperCase(), data: tokens });
  }
  return entries;
}

export function findSoa(entries) {
  return entries.find((e) => e.type === 'record' && e.recordType === 'SOA');
}

// ---- writing records -------------------------------------------------------------------

const NAME = /^(@|\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?)$/;
const HOSTNAME = /^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\.)$/;
const INT = /^\d+$/;

function inRange(v, lo, hi) { return INT.test(v) && Number(v) >= lo && Number(v) <= hi; }

/** Checks per type; returns a reason string for bad data, or null. */
const CHECKS = {
  A: (d) => (d.length === 1 && /^(\d{1,3})(\.\d{1,3}){3}$/.test(d[0]) ? null : 'A needs one IPv4 address'),
  AAAA: (d) => (d.length === 1 && /^[0-9A-Fa-f:.]+$/.test(d[0]) && d[0].includes(':') ? null : 'AAAA needs one IPv6 address'),
  CNAME: (d) => (d.length === 1 && HOSTNAME.test(d[0]) ? null : 'CNAME needs one target name'),
  NS: (d) => (d.length === 1 && HOSTNAME.test(d[0]) ? null : 'NS needs one name'),
  PTR: (d) => (d.length === 1 && HOSTNAME.test(d[0]) ? null : 'PTR needs one name'),
  MX: (d) => (d.length === 2 && inRange(d[0], 0, 65535) && HOSTNAME.test(d[1]) ? null : 'MX needs a priority and an exchange name'),
  SRV: (d) => (d.length === 4 && inRange(d[0], 0, 65535) && inRange(d[1], 0, 65535) && inRange(d[2], 0, 65535) && HOSTNAME.test(d[3]) ? null : 'SRV needs priority, weight, port and target'),
  CAA: (d) => (d.length === 3 && inRange(d[0], 0, 255) && /^[a-z0-9]+$/i.test(d[1]) && !/[\n"]/.test(d[2]) ? null : 'CAA needs flags, tag and value'),
  TXT: (d) => (d.length >= 1 && d.every((s) => typeof s === 'string' && Buffer.byteLength(s) <= 255 && !/[\r\n]/.test(s)) ? null : 'TXT needs one or more strings of at most 255 bytes without line breaks'),
  TLSA: (d) => {
    if (d.length !== 4) return 'TLSA needs usage, selector, matching type and hex data';
    const [u, s, m, hex] = d;
    if (!inRange(u, 0, 3) || !inRange(s, 0, 1) || !inRange(m, 0, 2)) return 'TLSA usage must be 0-3, selector 0-1, matching type 0-2';
    if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length % 2) return 'TLSA data must be an even number of hex digits';
    if ((m === '1' && hex.length !== 64) || (m === '2' && hex.length !== 128)) return 'TLSA data length does not match the matching type';
    return null;
  },
};

/** Validate an add/edit item from mass_edit_dns_zone; returns a reason or null. */
export function checkRecordInput(r) {
  if (!r || typeof r !== 'object') return 'record must be a JSON object';
  if (typeof r.dname !== 'string' || !NAME.test(r.dname)) return `invalid dname ${JSON.stringify(r.dname)}`;
  if (r.ttl !== undefined && !(Number.isInteger(Number(r.ttl)) && Number(r.ttl) >= 0 && Number(r.ttl) <= 2147483647)) return `invalid ttl ${JSON.stringify(r.ttl)}`;
  const type = String(r.record_type ?? '').toUpperCase();
  const check = CHECKS[type];
  if (!check) return `unsupported record_type ${JSON.stringify(r.record_type)}`;
  if (!Array.isArray(r.data) || !r.data.every((x) => typeof x === 'string' || typeof x === 'number')) return 'data must be an array of strings';
  const data = r.data.map(String);
  if (type !== 'TXT' && type !== 'CAA' && data.some((x) => /[\s;"()]/.test(x) || x === '')) return 'data items must not contain spaces, quotes, parentheses or semicolons';
  return check(data);
}

function quote(s) { return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`; }

export function renderRecord(r, defaultTtl = 14400) {
  const type = String(r.record_type).toUpperCase();
  const data = r.data.map(String);
  const rdata = type === 'TXT' ? data.map(quote).join(' ') : type === 'CAA' ? `${data[0]} ${data[1]} ${quote(data[2])}` : data.join(' ');
  return `${r.dname}\t${r.ttl ?? defaultTtl}\tIN\t${type}\t${rdata}`;
}
