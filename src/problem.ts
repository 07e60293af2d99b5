/**
 * Errors are values the UI can explain: a stable code, one sentence, and the fix.
 * Anything that can go wrong with one domain, file or record becomes a Problem attached to
 * that item; only usage/config errors abort a whole command.
 */
export interface Problem {
  /** Stable machine code, e.g. `cert-unreadable`, `zone-syntax`, `name-invalid`. */
  code: string;
  /** One sentence for an admin, naming the file/domain/record at fault. Never contains a secret. */
  message: string;
  /** What to do about it, in plain words. */
  fix?: string;
  /** The domain, host, file or zone the problem is about. */
  subject?: string;
  severity?: 'error' | 'warning' | 'info';
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

export function problem(code: string, message: string, extra: Omit<Problem, 'code' | 'message'> = {}): Problem {
  return { code, message, ...extra };
}

/** Turn anything thrown into a Problem (unknown errors keep their message, never a stack). */
export function toProblem(err: unknown, fallbackCode = 'internal', subject?: string): Problem {
  if (err instanceof ProblemError) return err.problem;
  // Other errors that carry a Problem (ZoneSyntaxError, ZoneEditError) keep it too.
  const carried = (err as { problem?: Partial<Problem> } | null)?.problem;
  if (carried && typeof carried.code === 'string' && typeof carried.message === 'string') return carried as Problem;
  const message = err instanceof Error ? err.message : String(err);
  return subject === undefined ? { code: fallbackCode, message } : { code: fallbackCode, message, subject };
}
