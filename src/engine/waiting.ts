/**
 * Steps that wait for people: an approval (granted by its quorum, or rejected), a confirmation that a
 * manual step is done, or a decision about an escalated or interrupted step (retry, done, skip, abort).
 * Operators write their input into the journal; the driver turns it into the step's next transition.
 */
import { DrctlError } from '../errors.ts';
import { RECORD } from './journal.ts';
import type { StepFailureData } from './journal.ts';
import { ENGINE_ACTOR } from './records.ts';
import type { RunContext } from './run-context.ts';
import type { StepState } from './state.ts';
import { failStep, startAttempt, succeed } from './step-execution.ts';

/** Acts on the input a waiting step got, if it is enough to go on. */
export async function answerWaiting(run: RunContext, step: StepState): Promise<void> {
  const id = step.snapshot.id;
  const execution = run.executions.get(id);
  if (step.waitingFor === 'approval') {
    if (step.rejectedBy !== undefined) {
      await failStep(
        run,
        step,
        1,
        new DrctlError('DRCTL_APPROVAL_REJECTED', `step ${id} was rejected by ${step.rejectedBy}`),
        [],
        true,
      );
    } else if (step.approvedBy.length >= (step.snapshot.approval?.quorum ?? 1)) {
      await succeed(run, step, [], `approved by ${step.approvedBy.join(', ')}`);
    }
  } else if (step.waitingFor === 'confirmation') {
    if (step.confirmedBy !== undefined) await succeed(run, step, [], `confirmed done by ${step.confirmedBy}`);
  } else if (step.waitingFor === 'decision' && step.decision !== undefined && execution) {
    const { choice, by } = step.decision;
    if (choice === 'retry') startAttempt(run, step);
    else if (choice === 'done') await succeed(run, step, [], `marked done by ${by}`);
    else if (choice === 'skip') {
      await run.write([{ type: RECORD.stepSkipped, step: id, actor: ENGINE_ACTOR, data: { by } }]);
      await run.hook('onStepComplete', {
        ...run.event,
        step: execution.step,
        status: 'skipped',
        summary: `skipped by ${by}`,
        actualMs: step.activeMs,
      });
    } else if (choice === 'abort') {
      await run.write([
        {
          type: RECORD.stepFailed,
          step: id,
          actor: ENGINE_ACTOR,
          data: {
            attempt: step.attempts,
            code: 'DRCTL_STEP_ABORTED',
            message: `aborted by ${by}`,
            final: true,
            aborted: true,
          } satisfies StepFailureData & { aborted: true },
        },
      ]);
    }
  }
}
