import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** Whether `cmd` (a name looked up in PATH, or an absolute path) can be executed. */
function executable(cmd: string): boolean {
  const dirs = isAbsolute(cmd) ? [''] : [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => {
    try {
      accessSync(d ? join(d, cmd) : cmd, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Real components a suite needs. A missing one fails the suite loudly with its name and the fix,
 * instead of a launch error deep inside a beforeAll (or, worse, tests silently not running).
 */
export function requireComponents(suite: string, cmds: string[]): void {
  const missing = cmds.filter((c) => !executable(c));
  if (missing.length > 0) throw new Error(`${suite}: missing component(s): ${missing.join(', ')}. Install them with scripts/setup-tests.sh; these tests never skip.`);
}
