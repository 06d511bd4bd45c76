/**
 * What people do to a run from any terminal: approve, reject, confirm a manual step, decide on an
 * escalated or interrupted step, cancel. Each checks the run's journal, then appends its record only if
 * nobody changed the run in between (optimistic concurrency), so two approvers never both count twice
 * and a refused input leaves the recorded state unchanged. The driver turns these records into transitions.
 */
import { DrctlError, runNotFound, UsageError } from '../errors.ts';
import type { JournalInput, RunStore } from '../store/store.ts';
import { FINAL_RUN_STATUSES } from '../store/store.ts';
import { RECORD } from './journal.ts';
import type { Decision } from './journal.ts';
import { replay } from './state.ts';
import type { RunState, StepState } from './state.ts';

export interface OperatorInput {
  runId: string;
  /** Who acts; checked against approvers and four-eyes. */
  by: string;
}

export async function loadRunState(store: RunStore, runId: string): Promise<RunState> {
  const records = await store.readJournal(runId);
  if (records.length === 0) {
    throw runNotFound(runId);
  }
  return replay(records);
}

/** Reads the run, lets `decide` check it and say what to append, and appends only if nothing changed meanwhile. */
async function act(
  store: RunStore,
  runId: string,
  decide: (state: RunState) => JournalInput[],
): Promise<RunState> {
  for (let tries = 0; ; tries += 1) {
    const state = await loadRunState(store, runId);
    const records = decide(state);
    try {
      await store.append(runId, records, { expectHeadSeq: state.lastSeq });
      return state;
    } catch (error) {
      // the driver wrote in between: look again, the input may no longer apply
      if (error instanceof DrctlError && error.code === 'DRCTL_STORE_CONFLICT' && tries < 20) continue;
      throw error;
    }
  }
}

function openRun(state: RunState): void {
  if (FINAL_RUN_STATUSES.includes(state.status)) {
    throw new UsageError('DRCTL_RUN_FINISHED', `run ${state.id} already finished (${state.status})`, {
      hint: 'start a new run with `drctl run`',
    });
  }
}

function stepOf(state: RunState, stepId: string): StepState {
  const step = state.steps.get(stepId);
  if (step === undefined) {
    throw new UsageError('DRCTL_STEP_NOT_FOUND', `run ${state.id} has no step ${stepId}`, {
      hint: `its steps: ${state.order.slice(0, 20).join(', ')}${state.order.length > 20 ? ', …' : ''}`,
    });
  }
  return step;
}

function notWaiting(state: RunState, step: StepState, what: string): UsageError {
  const now = step.status === 'waiting' ? `waits for ${step.waitingFor ?? '?'}` : `is ${step.status}`;
  return new UsageError(
    'DRCTL_STEP_NOT_WAITING',
    `step ${step.snapshot.id} of run ${state.id} does not wait for ${what}: it ${now}`,
    {
      hint: 'see what the run waits for with `drctl status RUN`',
    },
  );
}

function checkApprover(state: RunState, step: StepState, by: string): void {
  const approval = step.snapshot.approval;
  if (step.status !== 'waiting' || step.waitingFor !== 'approval' || approval === undefined)
    throw notWaiting(state, step, 'approval');
  if (approval.fourEyes && by === state.created.startedBy) {
    throw new UsageError(
      'DRCTL_APPROVAL_FOUR_EYES',
      `${by} started run ${state.id} and may not also approve step ${step.snapshot.id}`,
      {
        hint: 'four-eyes: someone else among the approvers must approve',
      },
    );
  }
  if (approval.approvers.length > 0 && !approval.approvers.includes(by)) {
    throw new UsageError(
      'DRCTL_APPROVAL_NOT_ALLOWED',
      `${by} may not approve step ${step.snapshot.id} of run ${state.id}`,
      {
        hint: `approvers: ${approval.approvers.join(', ')}${approval.role ? ` (role ${approval.role})` : ''}`,
      },
    );
  }
  if (step.approvedBy.includes(by)) {
    throw new UsageError(
      'DRCTL_APPROVAL_DUPLICATE',
      `${by} already approved step ${step.snapshot.id} of run ${state.id}`,
      {
        hint: `the quorum is ${approval.quorum}; another approver must approve`,
      },
    );
  }
}

export async function approveStep(
  store: RunStore,
  input: OperatorInput & { step: string; note?: string },
): Promise<RunState> {
  return act(store, input.runId, (state) => {
    openRun(state);
    const step = stepOf(state, input.step);
    checkApprover(state, step, input.by);
    return [
      {
        type: RECORD.approvalGranted,
        step: input.step,
        actor: input.by,
        data: input.note ? { note: input.note } : {},
      },
    ];
  });
}

export async function rejectStep(
  store: RunStore,
  input: OperatorInput & { step: string; reason?: string },
): Promise<RunState> {
  return act(store, input.runId, (state) => {
    openRun(state);
    const step = stepOf(state, input.step);
    checkApprover(state, step, input.by);
    return [
      {
        type: RECORD.approvalRejected,
        step: input.step,
        actor: input.by,
        data: input.reason ? { reason: input.reason } : {},
      },
    ];
  });
}

export async function confirmStep(
  store: RunStore,
  input: OperatorInput & { step: string; note?: string; evidence?: Record<string, string> },
): Promise<RunState> {
  return act(store, input.runId, (state) => {
    openRun(state);
    const step = stepOf(state, input.step);
    if (step.status !== 'waiting' || step.waitingFor !== 'confirmation')
      throw notWaiting(state, step, 'confirmation');
    // an empty text box or file field is no evidence
    const given = Object.entries(input.evidence ?? {}).filter(([, value]) => value.trim() !== '');
    const required = step.snapshot.evidence ?? [];
    if (required.length > 0 && given.length === 0)
      throw new UsageError(
        'DRCTL_EVIDENCE_REQUIRED',
        `step ${step.snapshot.id} needs evidence before it is confirmed done: ${required.join('; ')}`,
        { hint: 'attach it as text or a file (drctl confirm --evidence name=value), then confirm again' },
      );
    const records: JournalInput[] = given.map(([name, value]) => ({
      type: RECORD.evidence,
      step: input.step,
      actor: input.by,
      data: { name, value },
    }));
    records.push({
      type: RECORD.stepConfirmed,
      step: input.step,
      actor: input.by,
      data: input.note ? { note: input.note } : {},
    });
    return records;
  });
}

export async function decideStep(
  store: RunStore,
  input: OperatorInput & { step: string; choice: Decision },
): Promise<RunState> {
  return act(store, input.runId, (state) => {
    openRun(state);
    const step = stepOf(state, input.step);
    if (step.status !== 'waiting' || step.waitingFor !== 'decision')
      throw notWaiting(state, step, 'a decision');
    if (step.decision !== undefined) {
      throw new UsageError(
        'DRCTL_DECISION_DUPLICATE',
        `${step.decision.by} already chose ${step.decision.choice} for step ${step.snapshot.id}`,
        {
          hint: 'resume the run so the decision takes effect: `drctl resume RUN`',
        },
      );
    }
    if (!step.options.includes(input.choice)) {
      throw new UsageError(
        'DRCTL_DECISION_INVALID',
        `step ${step.snapshot.id} cannot be "${input.choice}" now`,
        {
          hint: `choose one of: ${step.options.join(', ')}`,
        },
      );
    }
    return [{ type: RECORD.decision, step: input.step, actor: input.by, data: { choice: input.choice } }];
  });
}

export async function requestCancel(
  store: RunStore,
  input: OperatorInput & { reason?: string },
): Promise<RunState> {
  return act(store, input.runId, (state) => {
    openRun(state);
    return [
      { type: RECORD.cancelRequested, actor: input.by, data: input.reason ? { reason: input.reason } : {} },
    ];
  });
}

/**
 * Ends a run that no live process drives, after a cancel request: steps left in flight or waiting are
 * recorded cancelled. Throws DRCTL_RUN_LOCKED when a live driver holds the run (it handles the cancel itself).
 */
export async function finishCancelled(
  store: RunStore,
  input: OperatorInput & { owner: string; pid: number; host: string },
): Promise<RunState> {
  const lease = await store.acquireLease(input.runId, {
    owner: input.owner,
    pid: input.pid,
    host: input.host,
    ttlMs: 15_000,
  });
  try {
    const state = await loadRunState(store, input.runId);
    if (FINAL_RUN_STATUSES.includes(state.status)) return state;
    const records: JournalInput[] = [];
    for (const step of state.steps.values()) {
      if (step.status === 'running' || step.status === 'waiting' || step.status === 'retrying') {
        records.push({
          type: RECORD.stepCancelled,
          step: step.snapshot.id,
          actor: 'engine',
          data: { reason: 'the run was cancelled' },
        });
      }
    }
    const durationMs = Date.now() - state.createdAt.getTime();
    records.push({
      type: RECORD.runFinished,
      actor: 'engine',
      data: {
        status: 'cancelled',
        durationMs,
        reason: `cancelled by ${state.cancelRequested?.by ?? input.by}`,
      },
    });
    await store.append(input.runId, records, {
      leaseOwner: input.owner,
      fencingToken: lease.token,
      status: 'cancelled',
    });
    return loadRunState(store, input.runId);
  } finally {
    await store.releaseLease(input.runId, input.owner);
  }
}
