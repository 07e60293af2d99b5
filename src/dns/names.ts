import { problem, ProblemError } from '../problem.js';

/**
 * Domain names in this project are absolute, lower-case, without the trailing dot, in A-label
 * (LDH) form. Every name that comes from a file, a form or an API passes through `normalizeName`
 * before it reaches a path, a command or a zone file.
 */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const UNDERSCORE_LABEL = /^_[a-z0-9-]{1,62}$/;

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

export function checkName(input: string, opts: { allowWildcard?: boolean; allowUnderscore?: boolean } = {}): NameCheck {
  if (typeof input !== 'string') return { ok: false, reason: 'not a string' };
  let name = input.trim();
  if (name !== input && /[\r\n]/.test(input)) return { ok: false, reason: 'contains a line break' };
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) return { ok: false, reason: 'empty name' };
  if (name.length > 253) return { ok: false, reason: 'longer than 253 characters' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(name)) return { ok: false, reason: 'contains whitespace or control characters' };
  if (/[^\x21-\x7e]/.test(name)) {
    return { ok: false, reason: 'contains non-ASCII characters (internationalised names must be given in xn-- form)' };
  }
  name = name.toLowerCase();
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label === '') return { ok: false, reason: 'has an empty label (two dots in a row)' };
    if (label.length > 63) return { ok: false, reason: `label "${label.slice(0, 20)}…" is longer than 63 characters` };
    if (i === 0 && label === '*' && opts.allowWildcard) continue;
    if (opts.allowUnderscore && UNDERSCORE_LABEL.test(label)) continue;
    if (!LABEL.test(label)) return { ok: false, reason: `label "${label}" is not a valid host name label (letters, digits, hyphens)` };
  }
  return { ok: true, name };
}

/** Normalise or throw a ProblemError naming where the bad name came from. */
export function normalizeName(input: string, where: string, opts: { allowWildcard?: boolean; allowUnderscore?: boolean } = {}): string {
  const r = checkName(input, opts);
  if (r.ok) return r.name;
  throw new ProblemError(problem('name-invalid', `${where}: "${printable(input)}" is not a valid domain name: ${r.reason}.`, {
    subject: printable(input),
  }));
}

/** A safe, single-line rendering of untrusted text for messages. */
export function printable(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const t = String(s).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

export function isSubdomainOf(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * The form names are compared in everywhere: lower case, no trailing dot, the root as ".". Only
 * for names from trusted or already checked sources (DNS answers, provider APIs); input from
 * people goes through checkName/normalizeName.
 */
export function canonicalName(name: string): string {
  const n = name.trim().toLowerCase();
  if (n === '.' || n === '') return '.';
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** A zone-file style name (`@`, relative, or absolute with a dot) as an absolute canonical name. */
export function absoluteName(name: string, zone: string): string {
  if (name === '@' || name === '') return zone;
  return canonicalName(name.endsWith('.') ? name : `${name}.${zone}`);
}

/** `name` relative to `zone` (`@` for the apex); `name` must be inside `zone`. */
export function relativeTo(name: string, zone: string): string {
  if (name === zone) return '@';
  if (!name.endsWith(`.${zone}`)) throw new Error(`${name} is not inside ${zone}`);
  return name.slice(0, -(zone.length + 1));
}

/** The TLSA owner name for a port on an MX host. */
export function tlsaOwner(port: number, host: string): string {
  return `_${port}._tcp.${host}`;
}

/** The host of a TLSA owner name (`_25._tcp.mail.example.com` → `mail.example.com`). */
export function tlsaHost(owner: string): string {
  return owner.replace(/^_\d+\._tcp\./, '');
}
