/**
 * Lifecycle hooks: where notifications, metrics and the console attach to a run. Each is named for the
 * moment it fires; all are optional, awaited in order, and a hook that throws is logged and ignored —
 * a broken notifier must never stop a recovery.
 */
import type { Step } from '../plan/model.ts';
import type { RunStatus } from '../store/store.ts';
import type { WaitingFor } from './journal.ts';

export interface RunEvent {
  runId: string;
  workload: string;
  runbook: string;
  startedBy: string;
}

export interface EngineHooks {
  /** A process starts driving the run (`resumed` after a crash or a pause). */
  onRunStart?(event: RunEvent & { resumed: boolean }): void | Promise<void>;
  onStepStart?(event: RunEvent & { step: Step; attempt: number }): void | Promise<void>;
  /** The step now waits for people: an approval, a confirmation, or a decision after an escalation. */
  onStepWaiting?(
    event: RunEvent & { step: Step; for: WaitingFor; escalateTo: string | undefined },
  ): void | Promise<void>;
  onStepComplete?(
    event: RunEvent & { step: Step; status: 'succeeded' | 'skipped'; summary: string; actualMs: number },
  ): void | Promise<void>;
  /** An attempt failed; `final` when no retry is left and the step's on_failure policy applies. */
  onStepError?(
    event: RunEvent & {
      step: Step;
      attempt: number;
      code: string;
      message: string;
      final: boolean;
      escalateTo: string | undefined;
    },
  ): void | Promise<void>;
  /**
   * The run ended, or this process stopped driving it: until people act (`status: 'waiting'`), or because
   * the driver was stopped (`running` or `waiting`, to be resumed).
   */
  onRunComplete?(event: RunEvent & { status: RunStatus; durationMs: number }): void | Promise<void>;
}
