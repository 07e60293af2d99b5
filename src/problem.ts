import { CODES, type Code, type CodeSpec, type Kind, type Severity } from './problem-codes.js';
import { stateStorageProblem } from './state/storage-problem.js';

export type { Code, Kind, Severity } from './problem-codes.js';

/**
 * Errors are values the UI can explain: a stable code (registered in problem-codes.ts with its
 * kind), one sentence, and the fix. Anything that can go wrong with one domain, file or record
 * becomes a Problem attached to that item; only usage/config errors abort a whole command.
 *
 * One result shape: a function that can fail for a reason the admin should see returns
 * `T | Problem` and callers test it with `isProblem`. One thrown type: `ProblemError` (zone
 * parse and edit errors are ProblemErrors too).
 */
export interface Problem {
  /** Stable machine code from CODES, e.g. `cert-unreadable`, `zone-syntax`, `name-invalid`. */
  code: Code;
  /** One sentence for an admin, naming the file/domain/record at fault. Never contains a secret. */
  message: string;
  /** What to do about it, in plain words. */
  fix?: string;
  /** The domain, host, file or zone the problem is about. */
  subject?: string;
  /** Set only where one code is more or less urgent case by case; otherwise see severityOf. */
  severity?: Severity;
}

/** An exception that carries a Problem; thrown at edges, caught and turned back into a value. */
export class ProblemError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem, options?: { cause?: unknown }) {
    super(problem.message, options);
    this.name = 'ProblemError';
    this.problem = problem;
  }
}

export function problem(code: Code, message: string, extra: Omit<Problem, 'code' | 'message'> = {}): Problem {
  return { code, message, ...extra };
}

/** The `T | Problem` test. Problems are plain objects with a string code and message. */
export function isProblem(v: unknown): v is Problem {
  return typeof v === 'object' && v !== null && typeof (v as Problem).code === 'string' && typeof (v as Problem).message === 'string' && !(v instanceof Error);
}

/** Turn anything thrown into a Problem (unknown errors keep their message, never a stack). */
export function toProblem(err: unknown, fallbackCode: Code = 'internal', subject?: string): Problem {
  if (err instanceof ProblemError) return err.problem;
  const storage = stateStorageProblem(err, null);
  if (storage) return storage;
  const message = err instanceof Error ? err.message : String(err);
  return subject === undefined ? { code: fallbackCode, message } : { code: fallbackCode, message, subject };
}

/** The registry entry of a code; a code that is not registered is a bug by definition. */
export function describe(code: string): CodeSpec {
  return (CODES as Record<string, CodeSpec>)[code] ?? CODES.internal;
}

export function kindOf(p: Problem | string): Kind {
  return describe(typeof p === 'string' ? p : p.code).kind;
}

const SEVERITY: Record<Kind, Severity> = { usage: 'error', config: 'error', transient: 'error', refused: 'error', conflict: 'warning', bug: 'error' };

/** How loudly the UI shows a problem. */
export function severityOf(p: Problem): Severity {
  const spec = describe(p.code);
  return p.severity ?? spec.severity ?? SEVERITY[spec.kind];
}

/**
 * The process exit code when a command stops on this problem: the admin must change how it is
 * called or what is configured (2), or the job did not get done (1).
 */
export function exitCodeOf(p: Problem): 1 | 2 {
  const kind = kindOf(p);
  return kind === 'usage' || kind === 'config' ? 2 : 1;
}

const STATUS: Record<Kind, number> = { usage: 400, config: 500, transient: 503, refused: 403, conflict: 409, bug: 500 };

/** The HTTP status of a request that failed with this problem. */
export function httpStatusOf(p: Problem): number {
  const spec = describe(p.code);
  return spec.status ?? STATUS[spec.kind];
}

/** Whether doing the same again, after re-reading what changed, can succeed right away. */
export function retryable(p: Problem): boolean {
  return kindOf(p) === 'conflict';
}
