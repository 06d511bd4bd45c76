/**
 * The durable engine: runs a runbook as a dependency graph with approvals, evidence and a hash-chained
 * journal, and resumes it after a crash. Start here:
 *
 *   const engine = new Engine({ store, providers, stateDir });
 *   const run = await engine.start({ plan, runbook: 'failover', startedBy: 'alice' });
 *   const outcome = await run.done;
 *
 * The engine talks to stores and providers through their interfaces only (see ARCHITECTURE.md).
 */
export { Engine, newRunId } from './engine.ts';
export { findRunbook } from '../plan/lookup.ts';
export type { EngineOptions, StartRunOptions, ResumeRunOptions, RunDriver, RunOutcome } from './options.ts';
export type { EngineHooks, RunEvent } from './hooks.ts';
export { withActivationGate } from './activation.ts';
export type { ActivationGate } from './activation.ts';
export {
  approveStep,
  rejectStep,
  confirmStep,
  decideStep,
  requestCancel,
  finishCancelled,
  loadRunState,
} from './operator.ts';
export type { OperatorInput } from './operator.ts';
export { runView } from './view.ts';
export type { ChildView, RunView, SiteView, StepView, TierView } from './view.ts';
export { verifyRun, exportRun } from './audit.ts';
export { predictTimeline } from './timeline.ts';
export type { PredictedTimeline, PredictedStep } from './timeline.ts';
export { Redactor, parseSecretsFile, planSecrets } from './redact.ts';
export { RECORD } from './journal.ts';
export type { Decision, WaitingFor, StepSnapshot, RunCreatedData, RunTrigger } from './journal.ts';
export type { StepStatus } from './state.ts';
