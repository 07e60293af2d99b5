/**
 * MTA-STS (RFC 8461) as pure functions: the policy text TLSA Manager serves for a mail domain,
 * the id derived from it, the `_mta-sts` TXT record that announces it, and the readers a sender
 * uses (TXT record, policy text, MX pattern match) for `mta-sts status`. No I/O here.
 */
import { createHash } from 'node:crypto';
import type { MtaStsMode } from './store.js';

/** Senders accept at most this much policy (RFC 8461 §3.3 lets them bound it; 64 KiB is common). */
export const MAX_POLICY_BYTES = 64 * 1024;
/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT = 31_557_600;

/** The max_age of a `mode: none` policy (RFC 8461 §8.3 suggests a small one, e.g. a day). */
export const NONE_POLICY_MAX_AGE = 86400;

export interface PolicySettings {
  maxAgeTesting: number;
  maxAgeEnforce: number;
  mxWildcard: boolean;
}

export interface MtaStsPolicy {
  mode: 'testing' | 'enforce' | 'none';
  mx: string[];
  maxAge: number;
}

/**
 * The `mx:` patterns for a domain's MX hosts: each host exactly as the MX records give it
 * (lower case, no trailing dot, duplicates once, sorted so the text does not change with the
 * order DNS answers in). With `wildcard`, one `*.<parent>` pattern when every host is exactly one
 * label below the same parent and that parent has at least two labels (`*.com` would cover every
 * host under a TLD); RFC 8461 §4.1: a wildcard matches only the leftmost label.
 */
export function mxPatterns(mxHosts: string[], wildcard: boolean): string[] {
  const hosts = [...new Set(mxHosts.map((h) => h.toLowerCase().replace(/\.$/, '')))].filter((h) => h !== '').sort();
  if (!wildcard || hosts.length === 0) return hosts;
  const parents = new Set(hosts.map((h) => h.slice(h.indexOf('.') + 1)));
  const [parent] = [...parents];
  if (parents.size !== 1 || !parent || !hosts.every((h) => h.includes('.')) || parent.split('.').length < 2) return hosts;
  return [`*.${parent}`];
}

/**
 * The policy text (RFC 8461 §3.2): `version`, `mode`, one `mx` per pattern, `max_age` by mode,
 * each line ending CRLF. Null when the domain has no MX host (a policy with no mx line is not
 * valid for testing or enforce).
 */
export function policyText(mode: MtaStsMode | 'none', mxHosts: string[], settings: PolicySettings): string | null {
  const mx = mxPatterns(mxHosts, settings.mxWildcard);
  if (mx.length === 0) return null;
  // A none policy (a domain being turned off, RFC 8461 §8.3) is held a day: see retire.ts.
  const maxAge = mode === 'enforce' ? settings.maxAgeEnforce : mode === 'none' ? NONE_POLICY_MAX_AGE : settings.maxAgeTesting;
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAge}`].map((l) => `${l}\r\n`).join('');
}

/**
 * The policy id (RFC 8461 §3.1: 1 to 32 letters or digits): the first 32 hex digits of the
 * SHA-256 of the policy text, so it changes exactly when the text changes and the same text
 * always has the same id (a re-run, another process, a restore: no spurious change).
 */
export function policyId(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

/** The `_mta-sts` TXT text announcing a policy id (RFC 8461 §3.1). */
export function stsTxtText(id: string): string {
  return `v=STSv1; id=${id};`;
}

/** Whether TXT text is an MTA-STS record: senders keep only records beginning `v=STSv1;` (§3.1). */
export function isStsTxtText(text: string): boolean {
  return /^v=STSv1(?:[;\s]|$)/.test(text);
}

/**
 * An MTA-STS TXT record read as a sender reads it (§3.1 ABNF): `v=STSv1`, then `;`-separated
 * fields, exactly one `id=` of 1-32 letters and digits; other fields (`key=value`) ignored.
 * Returns the id or the reason it is not valid.
 */
export function parseStsTxt(text: string): { id: string } | { fault: string } {
  const fields = text.split(';').map((f) => f.trim());
  if (fields[0] !== 'v=STSv1') return { fault: 'it does not begin with v=STSv1' };
  if (fields.at(-1) === '') fields.pop();
  const ids: string[] = [];
  for (const f of fields.slice(1)) {
    const m = /^([A-Za-z0-9._-]{1,32})=([\x21-\x3a\x3c\x3e-\x7e]{1,})$/.exec(f);
    if (!m) return { fault: `the field "${f.slice(0, 40)}" is not key=value` };
    if (m[1] === 'id') ids.push(m[2]!);
  }
  if (ids.length !== 1) return { fault: ids.length === 0 ? 'it has no id= field' : 'it has more than one id= field' };
  if (!/^[A-Za-z0-9]{1,32}$/.test(ids[0]!)) return { fault: `the id "${ids[0]!.slice(0, 40)}" is not 1 to 32 letters and digits` };
  return { id: ids[0]! };
}

/**
 * A policy body read as a sender reads it (§3.2): lines end LF or CRLF, `key: value`, unknown
 * keys ignored; `version: STSv1`, a `mode`, a `max_age` of at most 10 digits up to
 * 31557600, and (unless mode is none) at least one `mx`. The first of a repeated single field counts.
 */
export function parsePolicy(body: string): MtaStsPolicy | { fault: string } {
  if (Buffer.byteLength(body, 'utf8') > MAX_POLICY_BYTES) return { fault: `it is larger than ${MAX_POLICY_BYTES} bytes` };
  const fields = new Map<string, string>();
  const mx: string[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9_-]{1,32}):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) return { fault: `the line "${line.slice(0, 60)}" is not "key: value"` };
    const key = m[1]!;
    if (key === 'mx') mx.push(m[2]!);
    else if (!fields.has(key)) fields.set(key, m[2]!);
  }
  if (fields.get('version') !== 'STSv1') return { fault: 'it has no "version: STSv1" line' };
  const mode = fields.get('mode');
  if (mode !== 'testing' && mode !== 'enforce' && mode !== 'none') return { fault: `its mode is ${mode === undefined ? 'missing' : `"${mode.slice(0, 20)}"`} (enforce, testing or none)` };
  const age = fields.get('max_age');
  if (age === undefined || !/^\d{1,10}$/.test(age) || Number(age) > MAX_AGE_LIMIT) return { fault: `its max_age is ${age === undefined ? 'missing' : `"${age.slice(0, 20)}"`} (whole seconds up to ${MAX_AGE_LIMIT})` };
  for (const p of mx) if (!/^(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(p)) return { fault: `the mx pattern "${p.slice(0, 60)}" is not a host name or *.parent` };
  if (mode !== 'none' && mx.length === 0) return { fault: 'it has no mx line' };
  return { mode, mx, maxAge: Number(age) };
}

/** Whether an MX host matches a policy pattern (§4.1: case-insensitive; `*.` covers exactly one leftmost label). */
export function mxMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** The MX hosts no pattern of the policy covers. */
export function uncoveredMx(patterns: string[], mxHosts: string[]): string[] {
  return mxHosts.filter((h) => !patterns.some((p) => mxMatches(p, h)));
}
