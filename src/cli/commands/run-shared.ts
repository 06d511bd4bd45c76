/**
 * What the run commands share: the state directory, who is acting, the engine wired to the provider
 * registry, a redacting log file, and the progress lines people read while a run goes on.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { Engine, Redactor, planSecrets, runView } from '../../engine/index.ts';
import type { EngineHooks, RunDriver, RunView } from '../../engine/index.ts';
import { UsageError } from '../../errors.ts';
import type { Plan } from '../../plan/index.ts';
import { formatDuration } from '../../plan/index.ts';
import { providers } from '../../providers/index.ts';
import { DEFAULT_STATE_DIR, SUPPORTED_STORES, looksLikeUrl, openStore } from '../../store/index.ts';
import type { RunStore } from '../../store/index.ts';
import { printJson, type CommandContext } from '../context.ts';

import type { StateOptions } from '../state-options.ts';

// registering a command needs only these; import them from ../state-options.ts to keep registration light
export { actor, parseDateOption, withStateOptions } from '../state-options.ts';
export type { StateOptions } from '../state-options.ts';

export async function openState(options: StateOptions): Promise<RunStore> {
  return openStore(looksLikeUrl(options.state) ? options.state : resolve(options.state));
}

/**
 * Where this instance keeps its local files (logs, provider files): the state directory, or with a
 * database URL `$DRCTL_STATE_DIR` (default `.drctl`), which is this machine's and not shared.
 */
export function localStateDir(state: string): string {
  return resolve(looksLikeUrl(state) ? (process.env.DRCTL_STATE_DIR ?? DEFAULT_STATE_DIR) : state);
}

/** For commands whose state is local files only (drills, the demo, readiness): a URL is refused. */
export function stateDirectory(state: string, command: string): string {
  if (looksLikeUrl(state)) {
    throw new UsageError(
      'DRCTL_STORE_UNSUPPORTED',
      `drctl ${command} keeps its state in a directory, not at a URL`,
      {
        hint: `pass --state DIR; \`drctl run\`, \`monitor\` and \`serve\` take ${SUPPORTED_STORES}`,
      },
    );
  }
  return resolve(state);
}

/** An engine whose logs go, redacted, to `<state>/logs/drctl.log` (and to stderr with --debug). */
export function engineFor(
  store: RunStore,
  options: StateOptions,
  plan: Plan,
  context: CommandContext,
  hooks: EngineHooks[],
): Engine {
  const stateDir = localStateDir(options.state);
  const redactor = new Redactor(planSecrets(plan));
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const file = pino.destination({ dest: join(stateDir, 'logs', 'drctl.log'), sync: true, mkdir: true });
  const logger = pino(
    { level: context.debug ? 'debug' : 'info' },
    {
      write(line: string) {
        const clean = redactor.text(line);
        file.write(clean);
        if (context.debug) context.err.write(clean);
      },
    },
  );
  return new Engine({ store, providers, stateDir, logger, hooks });
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

export async function viewOf(store: RunStore, runId: string): Promise<RunView> {
  const records = await store.readJournal(runId);
  if (records.length === 0) {
    throw new UsageError('DRCTL_RUN_NOT_FOUND', `run ${runId} is not in this state directory`, {
      hint: 'list runs with `drctl status`, or pass the --state directory the run was started with',
    });
  }
  return runView(records, await store.getLease(runId));
}

export function printView(context: CommandContext, view: RunView): void {
  const out = (line: string): void => void context.out.write(`${line}\n`);
  out(
    `run ${view.id}  ${view.workload}/${view.runbook}  ${view.status}  started by ${view.startedBy} at ${view.startedAt}`,
  );
  out(
    `progress ${view.progress.done}/${view.progress.total} done, ${view.progress.running} running, ${view.progress.waiting} waiting, ${view.progress.failed} failed; ${formatDuration(view.durationMs)}${view.reason ? ` (${view.reason})` : ''}`,
  );
  if (view.driver) out(`driven by pid ${view.driver.pid} on ${view.driver.host}`);
  for (const waiting of view.waiting) {
    const step = view.steps.find((candidate) => candidate.id === waiting.step);
    const choices = step?.options.length
      ? `; choose ${step.options.join(' | ')} with drctl resume ${view.id} --${step.options[0]} ${waiting.step}`
      : '';
    out(
      `waiting: ${waiting.step} for ${waiting.for}${waiting.on.length ? ` from ${waiting.on.join(', ')}` : ''}${choices}`,
    );
  }
  if (view.next.length > 0) out(`next: ${view.next.join(', ')}`);
  for (const step of view.steps) {
    const actual = step.actualMs === undefined ? '-' : formatDuration(step.actualMs);
    const over = step.overrunMs ? ` (+${formatDuration(step.overrunMs)} over)` : '';
    out(
      `  ${step.status.padEnd(11)} ${step.id.padEnd(20)} expected ${formatDuration(step.expectedMs + step.contingencyMs)}, actual ${actual}${over}${step.error ? `  ${step.error.code}: ${step.error.message}` : ''}`,
    );
  }
}

export function exitCodeFor(status: string): number {
  return status === 'succeeded' || status === 'waiting' || status === 'running' ? 0 : 1;
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
