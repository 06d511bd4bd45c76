/**
 * The journal's vocabulary: every record type a run writes, and what each record's data holds.
 * The reducer in state.ts gives each type its meaning; ARCHITECTURE.md explains the order they come in.
 */
import type { FailurePolicy, StepKind } from '../plan/model.ts';

export const RECORD = {
  /** first record: the run, its plan and a snapshot of its steps */
  runCreated: 'run-created',
  /** a process took the run's lease and drives it (first start or resume) */
  runDriven: 'run-driven',
  stepStarted: 'step-started',
  /** a process acting for the step started: its pid, host and start time, so a driver taking over can wait for it to be gone */
  stepProcess: 'step-process',
  /** the step now waits for people: approval, confirmation (manual) or a decision (escalation, interruption) */
  stepWaiting: 'step-waiting',
  stepSucceeded: 'step-succeeded',
  stepFailed: 'step-failed',
  /** found in flight when a driver took over after a crash */
  stepInterrupted: 'step-interrupted',
  stepSkipped: 'step-skipped',
  stepCancelled: 'step-cancelled',
  evidence: 'evidence',
  check: 'check',
  /** operator inputs; the driver turns them into transitions */
  approvalGranted: 'approval-granted',
  approvalRejected: 'approval-rejected',
  stepConfirmed: 'step-confirmed',
  decision: 'decision',
  cancelRequested: 'cancel-requested',
  rollbackStarted: 'rollback-started',
  undoStarted: 'undo-started',
  undoSucceeded: 'undo-succeeded',
  undoFailed: 'undo-failed',
  runFinished: 'run-finished',
} as const;

/** What an operator may choose for a step waiting on a decision. */
export type Decision = 'retry' | 'skip' | 'done' | 'abort';

/** What a step waits for while it is `waiting`. */
export type WaitingFor = 'approval' | 'confirmation' | 'decision';

/** The part of a plan step the run keeps in its first record, so status and approvals need no plan. */
export interface StepSnapshot {
  id: string;
  name: string;
  kind: StepKind;
  needs: string[];
  expectedMs: number;
  contingencyMs: number;
  idempotent: boolean;
  onFailure: FailurePolicy;
  escalateTo: string | undefined;
  hasUndo: boolean;
  /** Evidence a person must attach when confirming the step; absent in runs journaled before it was kept. */
  evidence?: string[];
  /** Approvers resolved from `by` and `role` when the run started; empty means anyone (four-eyes still applies). */
  approval: { approvers: string[]; role: string | undefined; quorum: number; fourEyes: boolean } | undefined;
}

/** Why a run started; `drill` when a drill started it, so communications know a rehearsal from the real thing. */
export interface RunTrigger {
  automatic: boolean;
  reason: string;
  drill?: { scenario: string; announce: boolean };
}

export interface RunCreatedData {
  workload: string;
  runbook: string;
  planHash: string;
  planFile: string;
  startedBy: string;
  parallel: number;
  steps: StepSnapshot[];
  /** The activation gate put in front of the runbook (its step is in `steps`), when the run has one. */
  activation?: { approvers: string[]; quorum: number; reason: string };
  /** Why the run started, when it was not a person's command (the monitor). */
  trigger?: RunTrigger;
  /** A site run: the lost site and its children, each a workload's failover runbook (steps `<workload>.<step>`). */
  site?: { site: string; children: SiteChildSnapshot[] };
}

/** One child of a site run, as the run started with it. */
export interface SiteChildSnapshot {
  workload: string;
  runbook: string;
  tier: number;
  rtoMs: number;
  /** Children that must finish before it starts. */
  after: string[];
  steps: string[];
}

export interface StepFailureData {
  attempt: number;
  code: string;
  message: string;
  /** No retries left: the step's on_failure policy applies. */
  final: boolean;
  retryInMs?: number;
  timedOut?: boolean;
}
