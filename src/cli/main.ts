/**
 * drctl's command line. Each command lives in `commands/<name>.ts` and registers itself on the program;
 * this file is the one place that turns errors into exit codes and messages (no stack unless --debug),
 * and the one place every line a command prints passes through credential redaction.
 */
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import type * as commander from 'commander';
import { DrctlError, PlanInvalidError, formatLocation } from '../errors.ts';
import { redactCredentials } from '../plan/secrets.ts';
import { escapeControls } from '../plan/text.ts';
import { commandsFor } from './commands/index.ts';
import { printJson, type CommandContext } from './context.ts';

// through require, not as an ES module (CommonJS translated, its sources scanned for export names):
// commander loads about 20 ms sooner, and every command starts with it
const { Command, CommanderError } = createRequire(import.meta.url)('commander') as typeof commander;

export interface CliStreams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function main(
  argv: string[],
  streams: CliStreams = { out: process.stdout, err: process.stderr },
): Promise<number> {
  const debug = argv.includes('--debug');
  const context: CommandContext = {
    exitCode: 0,
    debug,
    out: redacting(streams.out),
    err: redacting(streams.err),
  };
  const program = new Command('drctl')
    .description('Disaster recovery as code: plan, prove, render, execute, drill and watch.')
    .option('--debug', 'print stack traces and debug logs')
    .exitOverride()
    .configureOutput({ writeOut: (s) => context.out.write(s), writeErr: (s) => context.err.write(s) });
  for (const register of await commandsFor(argv)) register(program, context);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return context.exitCode;
  } catch (error) {
    const code = reportError(error, context);
    // with --json a failure is an answer too: scripts parse stdout, people read stderr
    if (code !== 0 && argv.includes('--json')) printJson(context, { error: errorAsJson(error) });
    return code;
  }
}

/**
 * Ends the process with `code` once stdout and stderr have handed everything written to them to the
 * operating system. Into a pipe, Node writes what the pipe holds (64 KiB) at once and queues the rest:
 * exiting right away would cut `drctl schema | wc -c` short with exit code 0. Exiting rather than
 * returning means a handle leaked by a dependency never keeps a finished command (a drill, a failover)
 * from returning to its caller. A reader that went away (`| head -1`) ends the wait too.
 */
export async function exitWhenWritten(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map(written));
  process.exit(code);
}

function written(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    stream.once('error', () => resolve());
    // writes complete in order: this empty one's callback runs once all before it are out
    stream.write('', () => resolve());
  });
}

/** The `--json` shape of a failed command (docs/errors.md): its code, message, hint and where. */
function errorAsJson(error: unknown): Record<string, unknown> {
  if (error instanceof CommanderError)
    return { code: 'DRCTL_USAGE', message: error.message.replace(/^error: /, ''), hint: 'see --help' };
  if (error instanceof PlanInvalidError)
    return {
      code: error.code,
      message: error.message,
      hint: error.hint,
      problems: error.problems.map((p) => ({
        code: p.code,
        message: p.message,
        hint: p.hint,
        ...p.location,
      })),
    };
  if (error instanceof DrctlError)
    return { code: error.code, message: error.message, hint: error.hint, ...error.location };
  return { code: 'DRCTL_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

function reportError(error: unknown, context: CommandContext): number {
  if (error instanceof CommanderError) {
    // help and version are "errors" to commander; anything else is a usage error
    return error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.exitCode === 0
      ? 0
      : 2;
  }
  if (error instanceof PlanInvalidError) {
    for (const problem of error.problems) {
      context.err.write(`${formatLocation(problem.location)}: ${problem.code} ${problem.message}\n`);
      if (problem.hint) context.err.write(`  hint: ${problem.hint}\n`);
    }
    context.err.write(`${error.problems.length} problem${error.problems.length === 1 ? '' : 's'} found\n`);
    if (context.debug) context.err.write(`${error.stack}\n`);
    return 1;
  }
  if (error instanceof DrctlError) {
    const where = error.location ? `${formatLocation(error.location)}: ` : '';
    context.err.write(`${where}${error.code} ${error.message}\n`);
    if (error.hint) context.err.write(`  hint: ${error.hint}\n`);
    if (context.debug) context.err.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  context.err.write(
    `DRCTL_INTERNAL ${message}\n  hint: run again with --debug and report it with the output\n`,
  );
  if (context.debug && error instanceof Error) context.err.write(`${error.stack}\n`);
  return 2;
}

/**
 * A stream that writes text to `target` with every URL password replaced: a password written inline in
 * a plan, or given on the command line, never reaches a terminal, a CI log or a `--json` answer; and
 * with control characters escaped, so no text from a plan or a step drives the terminal. Bytes (a PDF
 * on stdout) pass unchanged. Writes are forwarded at once, so nothing is pending when main returns.
 */
function redacting(target: NodeJS.WritableStream): NodeJS.WritableStream {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Uint8Array, _encoding, done) {
      target.write(typeof chunk === 'string' ? escapeControls(redactCredentials(chunk)) : chunk);
      done();
    },
  });
}
