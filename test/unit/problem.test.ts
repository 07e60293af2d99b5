import { describe, expect, it } from 'vitest';
import { ProblemError, toProblem } from '../../src/problem.js';
import { parseZone } from '../../src/dns/zonefile.js';

describe('toProblem', () => {
  it('keeps the Problem an error carries, whatever its class', () => {
    let thrown: unknown;
    try {
      parseZone('example.test. IN SOA ( oops\n', 'example.test');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).not.toBeInstanceOf(ProblemError);
    expect(toProblem(thrown, 'apply-failed').code).toBe('zone-syntax');
    expect(toProblem(new ProblemError({ code: 'x', message: 'y' })).code).toBe('x');
    expect(toProblem(new Error('plain'), 'apply-failed', 'z.test')).toEqual({ code: 'apply-failed', message: 'plain', subject: 'z.test' });
  });
});
