/**
 * A run's state is what its journal says: `applyRecord` folds one record into the state, and both the
 * driver (as it writes) and `drctl status` (as it reads) use the same fold, so what is shown is exactly
 * what a resumed driver would act on.
 */
import type { JournalRecord, RunStatus } from '../store/store.ts';
import { childOfStep } from '../plan/site.ts';
import type { StepProcess } from '../system/guarded-spawn.ts';
import { RECORD } from './journal.ts';
import type { Decision, RunCreatedData, StepFailureData, StepSnapshot, WaitingFor } from './journal.ts';

/** Where one step is. */
export type StepStatus =
  /** not started yet */
  | 'pending'
  /** an attempt is in flight */
  | 'running'
  /** waits for people (approval, confirmation, a decision) */
  | 'waiting'
  /** an attempt failed and another is scheduled */
  | 'retrying'
  | 'succeeded'
  /** failed for good (its on_failure policy applied) */
  | 'failed'
  /** skipped by an operator's decision */
  | 'skipped'
  /** stopped by a cancel, or never finished because the run ended */
  | 'cancelled'
  /** succeeded, then undone by a rollback */
  | 'rolled-back';

export interface StepState {
  snapshot: StepSnapshot;
  status: StepStatus;
  /** Attempts started so far. */
  attempts: number;
  /** Failed attempts so far (retries are counted against these). */
  failures: number;
  waitingFor: WaitingFor | undefined;
  /** Choices open to the operator while waiting for a decision. */
  options: Decision[];
  escalatedTo: string | undefined;
  approvedBy: string[];
  rejectedBy: string | undefined;
  confirmedBy: string | undefined;
  decision: { choice: Decision; by: string } | undefined;
  firstStartedAt: Date | undefined;
  attemptStartedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** Time spent in attempts (not in waiting for retries). */
  activeMs: number;
  /** When the scheduled retry is due. */
  retryAt: Date | undefined;
  error: { code: string; message: string } | undefined;
  /** Sequence number of its success record: rollback undoes in reverse of this. */
  succeededSeq: number | undefined;
  undo: 'none' | 'running' | 'succeeded' | 'failed';
  summary: string | undefined;
  /** Processes the current attempt (or undo) started, from `step-process` records. */
  processes: StepProcess[];
}

export interface RunState {
  id: string;
  created: RunCreatedData;
  steps: Map<string, StepState>;
  /** Steps in plan order. */
  order: string[];
  status: RunStatus;
  createdAt: Date;
  finishedAt: Date | undefined;
  cancelRequested: { by: string; reason: string | undefined } | undefined;
  /** Set when a failure policy (or a decision) stops the run: no new step starts. */
  stopping: 'abort' | 'rollback' | undefined;
  stoppedBecause: string | undefined;
  rollback: 'none' | 'running' | 'done';
  /** A step failed under on_failure: continue; the run still ends failed. */
  toleratedFailure: boolean;
  /**
   * Site runs: children stopped by a failure policy, with how. Only they stop; the rest of the run goes
   * on, and children that need a stopped one never start.
   */
  stoppedChildren: Map<string, { how: 'abort' | 'rollback'; because: string; rolledBack: boolean }>;
  lastSeq: number;
  lastAt: Date;
}

export function initialState(record: JournalRecord): RunState {
  if (record.type !== RECORD.runCreated)
    throw new Error(`journal of run ${record.runId} does not start with run-created`);
  const created = record.data as unknown as RunCreatedData;
  const steps = new Map<string, StepState>();
  for (const snapshot of created.steps) {
    steps.set(snapshot.id, {
      snapshot,
      status: 'pending',
      attempts: 0,
      failures: 0,
      waitingFor: undefined,
      options: [],
      escalatedTo: undefined,
      approvedBy: [],
      rejectedBy: undefined,
      confirmedBy: undefined,
      decision: undefined,
      firstStartedAt: undefined,
      attemptStartedAt: undefined,
      finishedAt: undefined,
      activeMs: 0,
      retryAt: undefined,
      error: undefined,
      succeededSeq: undefined,
      undo: 'none',
      summary: undefined,
      processes: [],
    });
  }
  return {
    id: record.runId,
    created,
    steps,
    order: created.steps.map((step) => step.id),
    status: 'running',
    createdAt: record.at,
    finishedAt: undefined,
    cancelRequested: undefined,
    stopping: undefined,
    stoppedBecause: undefined,
    rollback: 'none',
    toleratedFailure: false,
    stoppedChildren: new Map(),
    lastSeq: record.seq,
    lastAt: record.at,
  };
}

function endAttempt(step: StepState, at: Date): void {
  if (step.attemptStartedAt !== undefined)
    step.activeMs += Math.max(0, at.getTime() - step.attemptStartedAt.getTime());
  step.attemptStartedAt = undefined;
}

function clearWaiting(step: StepState): void {
  step.waitingFor = undefined;
  step.options = [];
}

/** Folds one record into the state (records must come in sequence order). */
export function applyRecord(state: RunState, record: JournalRecord): void {
  state.lastSeq = record.seq;
  state.lastAt = record.at;
  const step = record.step === undefined ? undefined : state.steps.get(record.step);
  const data = record.data;
  switch (record.type) {
    case RECORD.stepStarted:
      if (!step) break;
      step.status = 'running';
      step.attempts = data.attempt as number;
      step.firstStartedAt ??= record.at;
      step.attemptStartedAt = record.at;
      step.retryAt = undefined;
      step.decision = undefined;
      step.error = undefined;
      step.processes = [];
      clearWaiting(step);
      break;
    case RECORD.stepProcess:
      if (step) step.processes.push(data as unknown as StepProcess);
      break;
    case RECORD.stepWaiting:
      if (!step) break;
      if (step.status !== 'running') endAttempt(step, record.at);
      step.status = 'waiting';
      step.waitingFor = data.for as WaitingFor;
      step.options = (data.options as Decision[] | undefined) ?? [];
      step.escalatedTo = data.escalateTo as string | undefined;
      step.decision = undefined;
      if (step.waitingFor === 'approval') {
        step.approvedBy = [];
        step.rejectedBy = undefined;
      }
      break;
    case RECORD.stepSucceeded:
      if (!step) break;
      endAttempt(step, record.at);
      clearWaiting(step);
      step.status = 'succeeded';
      step.finishedAt = record.at;
      step.succeededSeq = record.seq;
      step.summary = data.summary as string | undefined;
      break;
    case RECORD.stepFailed: {
      if (!step) break;
      const failure = data as unknown as StepFailureData;
      endAttempt(step, record.at);
      clearWaiting(step);
      step.failures += 1;
      step.error = { code: failure.code, message: failure.message };
      if (failure.final) {
        step.status = 'failed';
        step.finishedAt = record.at;
      } else {
        step.status = 'retrying';
        step.retryAt = new Date(record.at.getTime() + (failure.retryInMs ?? 0));
      }
      break;
    }
    case RECORD.stepInterrupted:
      if (!step) break;
      endAttempt(step, record.at);
      step.status = 'pending';
      break;
    case RECORD.stepSkipped:
      if (!step) break;
      endAttempt(step, record.at);
      clearWaiting(step);
      step.status = 'skipped';
      step.finishedAt = record.at;
      break;
    case RECORD.stepCancelled:
      if (!step) break;
      endAttempt(step, record.at);
      clearWaiting(step);
      step.status = 'cancelled';
      step.finishedAt = record.at;
      break;
    case RECORD.approvalGranted:
      if (step && !step.approvedBy.includes(record.actor)) step.approvedBy.push(record.actor);
      break;
    case RECORD.approvalRejected:
      if (step) step.rejectedBy = record.actor;
      break;
    case RECORD.stepConfirmed:
      if (step) step.confirmedBy = record.actor;
      break;
    case RECORD.decision:
      if (step) step.decision = { choice: data.choice as Decision, by: record.actor };
      break;
    case RECORD.cancelRequested:
      state.cancelRequested ??= { by: record.actor, reason: data.reason as string | undefined };
      break;
    case RECORD.rollbackStarted: {
      const child = typeof data.child === 'string' ? state.stoppedChildren.get(data.child) : undefined;
      if (child !== undefined) {
        child.rolledBack = true;
        break;
      }
      state.rollback = 'running';
      state.stopping = 'rollback';
      break;
    }
    case RECORD.undoStarted:
      if (step) {
        step.undo = 'running';
        step.processes = [];
      }
      break;
    case RECORD.undoSucceeded:
      if (step) {
        step.undo = 'succeeded';
        step.status = 'rolled-back';
      }
      break;
    case RECORD.undoFailed:
      if (step) step.undo = 'failed';
      break;
    case RECORD.runFinished:
      state.status = data.status as RunStatus;
      state.finishedAt = record.at;
      if (state.rollback === 'running') state.rollback = 'done';
      break;
    default:
      break;
  }
  if (record.type === RECORD.stepFailed && step?.status === 'failed') {
    const child = state.created.site === undefined ? undefined : childOfStep(step.snapshot.id);
    const policy = data.aborted === true ? 'abort' : step.snapshot.onFailure;
    if (child !== undefined && (policy === 'abort' || policy === 'rollback')) {
      if (!state.stoppedChildren.has(child))
        state.stoppedChildren.set(child, { how: policy, because: step.snapshot.id, rolledBack: false });
    } else if (data.aborted === true) stop(state, 'abort', step.snapshot.id);
    else if (step.snapshot.onFailure === 'continue') state.toleratedFailure = true;
    else if (step.snapshot.onFailure === 'abort') stop(state, 'abort', step.snapshot.id);
    else if (step.snapshot.onFailure === 'rollback') stop(state, 'rollback', step.snapshot.id);
  }
  if (state.finishedAt === undefined) state.status = liveStatus(state);
}

function stop(state: RunState, how: 'abort' | 'rollback', because: string): void {
  if (state.stopping === 'rollback') return;
  state.stopping = how;
  state.stoppedBecause ??= because;
}

function liveStatus(state: RunState): RunStatus {
  let waiting = false;
  for (const step of state.steps.values()) {
    if (step.status === 'running' || step.status === 'retrying') return 'running';
    if (step.status === 'waiting') waiting = true;
  }
  return waiting ? 'waiting' : 'running';
}

export function replay(records: readonly JournalRecord[]): RunState {
  const [first, ...rest] = records;
  if (first === undefined) throw new Error('an empty journal has no run');
  const state = initialState(first);
  for (const record of rest) applyRecord(state, record);
  return state;
}

/** A step's needs are met when each one succeeded, was skipped, or failed under on_failure: continue. */
export function needsMet(state: RunState, step: StepState): boolean {
  return step.snapshot.needs.every((id) => {
    const need = state.steps.get(id);
    return (
      need !== undefined &&
      (need.status === 'succeeded' ||
        need.status === 'skipped' ||
        (need.status === 'failed' && need.snapshot.onFailure === 'continue'))
    );
  });
}

export function isFinal(status: StepStatus): boolean {
  return (
    status === 'succeeded' ||
    status === 'failed' ||
    status === 'skipped' ||
    status === 'cancelled' ||
    status === 'rolled-back'
  );
}
