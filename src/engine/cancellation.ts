/**
 * Why a step's signal was aborted, told apart by the reason it carries, and the turn of a run that was
 * asked to cancel. Cancellation is cooperative: actions receive the signal and end themselves.
 */
import type { RunOutcome } from './options.ts';
import type { RunContext } from './run-context.ts';

/** Marks an abort that came from a cancel, not from a timeout. */
export class CancelledSignal extends Error {
  override name = 'CancelledSignal';
}

/** Marks an abort that came from stopping the driver: the run goes on later. */
export class StoppedSignal extends Error {
  override name = 'StoppedSignal';
}

/**
 * Marks an abort that came from losing the run (another driver holds its lease, or the driver failed):
 * the step's outcome is not written, the driver that holds the run decides what became of it.
 */
export class AbandonedSignal extends Error {
  override name = 'AbandonedSignal';
}

/** Aborts every step in flight with `reason`. */
export function abortRunning(run: RunContext, reason: Error): void {
  for (const controller of run.running.values()) controller.abort(reason);
}

/** A cancel was asked for: no retry starts, steps in flight are aborted, the run ends once they returned. */
export async function cancelTurn(run: RunContext): Promise<RunOutcome | undefined> {
  if (!run.cancelling) {
    run.cancelling = true;
    for (const timer of run.retryTimers.values()) clearTimeout(timer);
    run.retryTimers.clear();
    abortRunning(run, new CancelledSignal('the run was cancelled'));
  }
  if (run.running.size > 0) return undefined;
  return run.finish('cancelled', `cancelled by ${run.state.cancelRequested?.by ?? '?'}`);
}
