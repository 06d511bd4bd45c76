/**
 * The options every run command shares (state directory, who acts, --json), kept apart from run-shared.ts
 * so that registering a command loads neither the engine nor the store.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { DEFAULT_STATE_DIR } from '../store/state-dir.ts';

export interface StateOptions {
  state: string;
  json?: boolean;
  as?: string;
}

/**
 * The `--state` option of every command that keeps its state in the store, as `.option(...stateFlag())`
 * takes it: --state, else $DRCTL_STATE_URL, else $DRCTL_STATE, else `.drctl`. Open it with `openState`
 * (commands/run-state.ts), which tells a URL from a directory: never `resolve()` it, which would make
 * `postgres://…` a directory named `postgres:`.
 */
export function stateFlag(
  description = 'state directory (SQLite) or postgres:// URL',
): [flags: string, description: string, defaultValue: string] {
  return [
    '--state <dir|url>',
    description,
    process.env.DRCTL_STATE_URL ?? process.env.DRCTL_STATE ?? DEFAULT_STATE_DIR,
  ];
}

export function withStateOptions(command: Command): Command {
  return command
    .option(...stateFlag())
    .option('--as <person>', 'who is acting (default: $DRCTL_USER or the OS user)')
    .option('--json', 'print the result as JSON');
}

/** The person acting: --as, else $DRCTL_USER, else the OS user. */
export function actor(as: string | undefined): string {
  const who = as ?? process.env.DRCTL_USER ?? safeUser();
  if (!who)
    throw new UsageError('DRCTL_RUN_WHO', 'cannot tell who is acting', {
      hint: 'pass --as PERSON or set DRCTL_USER',
    });
  return who;
}

function safeUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** A date option (`--now`, `--since`) as a Date; absent means `fallback`. */
export function parseDateOption(flag: string, text: string | undefined, fallback = new Date()): Date {
  if (text === undefined) return fallback;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new UsageError('DRCTL_USAGE_DATE', `${flag} "${text}" is not a date`, {
      hint: 'write it like 2026-03-01 or 2026-03-01T12:00:00Z',
    });
  return date;
}
