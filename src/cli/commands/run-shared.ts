/**
 * What the commands that drive a run share: the engine wired to the provider registry, a redacting log
 * file, and the progress lines people read while a run goes on (the rest is in run-state.ts).
 */
import { join } from 'node:path';
import { Engine, Redactor, planSecrets } from '../../engine/index.ts';
import type { EngineHooks, RunDriver } from '../../engine/index.ts';
import type { Plan } from '../../plan/index.ts';
import { formatDuration } from '../../plan/duration.ts';
import { providers } from '../../providers/index.ts';
import type { RunStore } from '../../store/index.ts';
import { printJson, type CommandContext } from '../context.ts';
import type { StateOptions } from '../state-options.ts';
import { redactingLogger } from '../../system/logger.ts';
import type { Logger } from 'pino';
import { exitCodeFor, localStateDir, printView, viewOf } from './run-state.ts';

// registering a command needs only these; import them from ../state-options.ts to keep registration light
export { actor, parseDateOption, withStateOptions } from '../state-options.ts';
export type { StateOptions } from '../state-options.ts';
// reading and answering a run needs only these; import them from ./run-state.ts to load less
export { exitCodeFor, localStateDir, openState, printView, stateDirectory, viewOf } from './run-state.ts';

/** An engine whose logs go, redacted, to `<state>/logs/drctl.log` (and to stderr with --debug). */
export function engineFor(
  store: RunStore,
  options: StateOptions,
  plan: Plan,
  context: CommandContext,
  hooks: EngineHooks[],
): Engine {
  const stateDir = localStateDir(options.state);
  const logger = commandLogger(stateDir, 'drctl.log', plan, context);
  return new Engine({ store, providers, stateDir, logger, hooks });
}

/** A command's log: every line redacted with the plan's secrets, to `<state>/logs/<name>` (and stderr with --debug). */
export function commandLogger(stateDir: string, name: string, plan: Plan, context: CommandContext): Logger {
  const redactor = new Redactor(planSecrets(plan));
  return redactingLogger({
    level: context.debug ? 'debug' : 'info',
    redact: (line) => redactor.text(line),
    file: join(stateDir, 'logs', name),
    ...(context.debug ? { echo: (line: string) => void context.err.write(line) } : {}),
  });
}

/** One line per moment, for people watching the terminal. */
export function progressHooks(context: CommandContext, quiet: boolean): EngineHooks {
  const say = (line: string): void => {
    if (!quiet) context.err.write(`${line}\n`);
  };
  return {
    onRunStart: (event) =>
      say(
        `${event.resumed ? 'resuming' : 'running'} ${event.workload}/${event.runbook} as run ${event.runId}`,
      ),
    onStepStart: (event) =>
      say(`▶ ${event.step.id}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`),
    onStepWaiting: (event) =>
      say(
        `⏸ ${event.step.id} waits for ${event.for}${event.escalateTo ? ` (escalated to ${event.escalateTo})` : ''}`,
      ),
    onStepComplete: (event) => say(`✔ ${event.step.id} ${event.status}: ${event.summary}`),
    onStepError: (event) =>
      say(`✖ ${event.step.id} ${event.code}: ${event.message}${event.final ? '' : ' (will retry)'}`),
    onRunComplete: (event) =>
      say(`run ${event.runId} ${event.status} after ${formatDuration(event.durationMs)}`),
  };
}

/**
 * Drives a run to where it stops (finished, or waiting for people), cancelling it cleanly on Ctrl-C or
 * SIGTERM, then prints where it stands and sets the exit code from its status.
 */
export async function driveAndReport(
  context: CommandContext,
  store: RunStore,
  driver: RunDriver,
  options: { by: string; json: boolean | undefined },
): Promise<void> {
  const onSignal = (): void =>
    void driver.cancel(options.by, 'interrupted from the terminal').catch(() => undefined);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    context.exitCode = exitCodeFor((await driver.done).status);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const view = await viewOf(store, driver.runId);
  if (options.json) printJson(context, view);
  else printView(context, view);
}
