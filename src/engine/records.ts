/**
 * The journal records the driver itself writes (as `engine`, so its own records never call for a look
 * the way operator input does): a step started, a check's outcome, a step found or left in flight.
 */
import type { JournalInput } from '../store/store.ts';
import { RECORD } from './journal.ts';
import type { Decision } from './journal.ts';
import type { StepState } from './state.ts';

export const ENGINE_ACTOR = 'engine';

export function startedRecord(step: string, attempt: number): JournalInput {
  return { type: RECORD.stepStarted, step, actor: ENGINE_ACTOR, data: { attempt } };
}

export function checkRecord(
  step: string,
  outcome: { name: string; ok: boolean; message: string; observed?: unknown; durationMs: number },
): JournalInput {
  return {
    type: RECORD.check,
    step,
    actor: ENGINE_ACTOR,
    data: {
      name: outcome.name,
      ok: outcome.ok,
      message: outcome.message,
      durationMs: outcome.durationMs,
      ...(outcome.observed === undefined ? {} : { observed: outcome.observed }),
    },
  };
}

/** A step found or left in flight: re-run when idempotent, else wait for a person's decision. */
export function interruptedRecords(
  step: StepState,
  attempt: number,
  evidence: JournalInput[],
  reason?: string,
  processes?: 'gone' | 'unknown',
): JournalInput[] {
  const rerun = step.snapshot.idempotent;
  const records: JournalInput[] = [
    ...evidence,
    {
      type: RECORD.stepInterrupted,
      step: step.snapshot.id,
      actor: ENGINE_ACTOR,
      data: {
        attempt,
        idempotent: rerun,
        rerun,
        ...(reason === undefined ? {} : { reason }),
        ...(processes === undefined ? {} : { processes }),
      },
    },
  ];
  if (!rerun) {
    records.push({
      type: RECORD.stepWaiting,
      step: step.snapshot.id,
      actor: ENGINE_ACTOR,
      data: {
        for: 'decision',
        reason: 'interrupted',
        options: ['retry', 'done', 'abort'] satisfies Decision[],
      },
    });
  }
  return records;
}
