import type { AppContext } from '../context.js';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandInput {
  /** Null for commands that declare needsContext: false. */
  ctx: AppContext | null;
  values: Values;
  args: string[];
  stdin: () => string;
}

export interface CommandResult {
  output?: string;
  /** Output written as it is produced (large --json output); `write` resolves once the chunk is taken. */
  stream?: (write: (chunk: string) => Promise<void>) => Promise<void>;
  exitCode: number;
  /** Exit as soon as the output is written, abandoning work still running (the hook's budget). */
  exitNow?: boolean;
}

export interface Command {
  needsContext?: boolean;
  run(input: CommandInput): Promise<CommandResult>;
}

export function json(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => (Buffer.isBuffer(val) ? undefined : val), 2);
}
