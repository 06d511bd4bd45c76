import type { Command } from 'commander';

/** What every command shares: where to write, and the exit code it decides. */
export interface CommandContext {
  exitCode: number;
  debug: boolean;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export type RegisterCommand = (program: Command, context: CommandContext) => void;

/** Print `value` as JSON (for --json) with a trailing newline. */
export function printJson(context: CommandContext, value: unknown): void {
  context.out.write(`${JSON.stringify(value, null, 2)}\n`);
}
