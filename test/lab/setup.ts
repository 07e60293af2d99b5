// vitest helper: one lab per test file, started in beforeAll and stopped in afterAll.
import { afterAll, beforeAll } from 'vitest';
import { startLab, type Lab, type LabOptions } from './lab.js';

/** Returns a getter; call it inside tests (the lab exists only after beforeAll ran). */
export function useLab(opts: LabOptions = {}): () => Lab {
  let lab: Lab | undefined;
  beforeAll(async () => {
    lab = await startLab(opts);
  });
  afterAll(async () => {
    await lab?.stop();
    lab = undefined;
  });
  return () => {
    if (!lab) throw new Error('useLab: lab not started (use the getter inside a test or hook)');
    return lab;
  };
}
