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

/** The most pages any list can have (100 rows a page: far beyond any server). */
const MAX_PAGE = 1_000_000;

/** A page number from a URL: absent means 1; anything but a whole number 1…1,000,000 is a 400. */
export function pageParam(input: unknown): number {
  const s = formString(input);
  if (s === '') return 1;
  if (!/^[1-9][0-9]{0,6}$/.test(s) || Number(s) > MAX_PAGE) {
    throw new ProblemError(problem('bad-request', `The page number "${printable(s.slice(0, 40))}" is not a whole number from 1 to 1,000,000.`, { fix: 'Use the page links at the bottom of the list.' }));
  }
  return Number(s);
}
