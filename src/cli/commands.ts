import { applyCommand, auditCommand, planCommand, scanCommand } from './plan-commands.js';
import { tlsaCommand } from './tlsa-command.js';
import { checkCommand } from './check-command.js';
import type { Command } from './types.js';

/** Every command of the `tlsa-manager` binary. Commands wire library functions together, nothing more. */
export const commands: Record<string, Command> = {
  tlsa: tlsaCommand,
  scan: scanCommand,
  plan: planCommand,
  apply: applyCommand,
  audit: auditCommand,
  check: checkCommand,
};
