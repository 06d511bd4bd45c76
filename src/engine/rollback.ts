/**
 * Rollback: the declared undo of every finished step, newest first, after a step failed under
 * `on_failure: rollback` (of the whole run, or in a site run of the failed child's own steps).
 */
import { DrctlError } from '../errors.ts';
import { childOfStep } from '../plan/site.ts';
import type { JournalInput } from '../store/store.ts';
import { RECORD } from './journal.ts';
import type { RunOutcome } from './options.ts';
import { ENGINE_ACTOR } from './records.ts';
import type { RunContext } from './run-context.ts';
import type { StepState } from './state.ts';

/** A site run's child failed under `rollback`: undo its own finished steps; the other children go on. */
export async function rollbackChild(run: RunContext, child: string, because: string): Promise<void> {
  await run.write([{ type: RECORD.rollbackStarted, actor: ENGINE_ACTOR, data: { because, child } }]);
  await undo(run, (step) => childOfStep(step.snapshot.id) === child);
}

/** Runs the undo of every finished step, newest first, then ends the run. */
export async function rollback(run: RunContext): Promise<RunOutcome> {
  const state = run.state;
  if (state.rollback === 'none') {
    await run.write([
      {
        type: RECORD.rollbackStarted,
        actor: ENGINE_ACTOR,
        data: { because: state.stoppedBecause ?? null },
      },
    ]);
  }
  const undoFailed = await undo(run, () => true);
  if (state.cancelRequested) return run.finish('cancelled', 'cancelled during rollback');
  return run.finish(
    undoFailed ? 'failed' : 'rolled-back',
    undoFailed
      ? 'an undo failed during rollback'
      : `rolled back after step ${state.stoppedBecause ?? '?'} failed`,
  );
}

/** Undoes the finished steps that `which` picks, newest first; true when an undo failed. */
async function undo(run: RunContext, which: (step: StepState) => boolean): Promise<boolean> {
  const state = run.state;
  const done = [...state.steps.values()]
    .filter(
      (step) =>
        which(step) &&
        step.succeededSeq !== undefined &&
        step.snapshot.hasUndo &&
        (step.undo === 'none' || step.undo === 'running'),
    )
    .sort((a, b) => (b.succeededSeq ?? 0) - (a.succeededSeq ?? 0));
  let undoFailed = false;
  for (const step of done) {
    if (state.cancelRequested) break;
    if (!(await undoStep(run, step))) undoFailed = true;
  }
  return undoFailed;
}

/** Runs one step's undo and writes how it went; false when it failed. */
async function undoStep(run: RunContext, step: StepState): Promise<boolean> {
  const execution = run.executions.get(step.snapshot.id);
  const undo = execution?.undo;
  if (undo === undefined || execution === undefined) return true;
  const id = step.snapshot.id;
  await run.write([{ type: RECORD.undoStarted, step: id, actor: ENGINE_ACTOR, data: { action: undo.name } }]);
  const evidence: JournalInput[] = [];
  const controller = new AbortController();
  run.running.set(id, controller);
  try {
    const result = await undo.definition.run(
      undo.params,
      run.actionContext(execution.step, controller.signal, evidence),
    );
    await run.write([
      ...evidence,
      { type: RECORD.undoSucceeded, step: id, actor: ENGINE_ACTOR, data: { summary: result.summary } },
    ]);
    return true;
  } catch (error) {
    const message = run.redactor.text(error instanceof Error ? error.message : String(error));
    await run.write([
      ...evidence,
      {
        type: RECORD.undoFailed,
        step: id,
        actor: ENGINE_ACTOR,
        data: { code: error instanceof DrctlError ? error.code : 'DRCTL_STEP_FAILED', message },
      },
    ]);
    return false;
  } finally {
    run.running.delete(id);
  }
}
