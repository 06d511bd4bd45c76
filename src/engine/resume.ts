/**
 * Taking up a run another driver left: steps that were in flight are journaled `step-interrupted` once
 * the processes they started are known to be gone, then re-run when idempotent or put to a person;
 * retries that were scheduled are scheduled again. See ARCHITECTURE.md, invariant 3.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { endProcessGroup, processGroupGone } from '../system/guarded-spawn.ts';
import { interruptedRecords } from './records.ts';
import type { RunContext } from './run-context.ts';
import type { StepState } from './state.ts';

/** How long a former driver's step process group gets between SIGTERM and SIGKILL when a driver takes over. */
const GUARD_GRACE_MS = 500;

/**
 * Steps that were in flight when the previous driver died: re-run when idempotent, else ask. Neither
 * happens before the processes the step had started are known to be gone (see `endOldProcesses`).
 */
export async function recoverInFlight(run: RunContext): Promise<void> {
  for (const step of run.state.steps.values()) {
    if (step.status === 'running') {
      const processes = await endOldProcesses(run, step);
      await run.write(interruptedRecords(step, step.attempts, [], undefined, processes));
      if (!step.snapshot.idempotent) await run.notifyWaiting(step.snapshot.id);
    } else if (step.status === 'retrying') {
      run.scheduleRetry(step);
    }
  }
}

/**
 * The former driver's step processes die with it (their guard, src/system/guarded-spawn.ts), but that
 * driver may only be paused, or its guard may still be ending them: on this host, end what is left of
 * each group and wait until it is gone; on another host nothing can be seen from here, so wait out the
 * guard's grace and say so in the journal.
 */
async function endOldProcesses(run: RunContext, step: StepState): Promise<'gone' | 'unknown' | undefined> {
  if (step.processes.length === 0) return undefined;
  let unknown = false;
  for (const old of step.processes) {
    if (processGroupGone(old) === undefined) unknown = true;
    else if (await endProcessGroup(old, GUARD_GRACE_MS))
      run.log.info({ step: step.snapshot.id, pid: old.pid }, "the former driver's step process is gone");
  }
  if (unknown) await sleep(2 * GUARD_GRACE_MS);
  return unknown ? 'unknown' : 'gone';
}
