import { checkName, printable } from '../dns/names.js';
import { problem, ProblemError } from '../problem.js';

/**
 * A domain or zone name from a URL or form, checked before it reaches a path, a command or a
 * zone. Throws a ProblemError that the error handler turns into a 400 page.
 */
export function domainParam(input: unknown, where = 'domain'): string {
  if (typeof input !== 'string') throw new ProblemError(problem('bad-request', `The ${where} is missing.`));
  const r = checkName(input);
  if (!r.ok) {
    throw new ProblemError(
      problem('name-invalid', `The ${where} "${printable(input)}" is not a valid domain name: ${r.reason}.`, {
        fix: 'Use a plain domain name such as example.com (letters, digits, hyphens and dots only).',
      }),
    );
  }
  return r.name;
}

/** A form field that may repeat, as a list of strings. */
export function formList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export function formString(v: unknown): string {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s : '';
}
