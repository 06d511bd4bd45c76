/** What the engine, a run and its driver are given, and what a run's driver offers its caller. */
import type { Logger } from 'pino';
import type { Plan } from '../plan/model.ts';
import type { Provider } from '../providers/provider.ts';
import type { RunStatus, RunStore } from '../store/store.ts';
import type { ActivationGate } from './activation.ts';
import type { EngineHooks } from './hooks.ts';
import type { RunTrigger } from './journal.ts';

export interface EngineOptions {
  store: RunStore;
  /** The providers steps and checks may use (the CLI passes the registry). */
  providers: readonly Provider[];
  /** Directory providers may keep files in between runs. */
  stateDir: string;
  /** @default a silent logger */
  logger?: Logger;
  hooks?: EngineHooks | readonly EngineHooks[];
  /** Steps running at once. @default 8 */
  parallel?: number;
  /** Largest piece of evidence kept, in bytes of JSON; larger ones are cut. @default 65536 */
  evidenceLimitBytes?: number;
  /** How often operator input (approvals, decisions, cancel) written by other processes is read. @default 200 */
  pollMs?: number;
  /**
   * How long the lease lasts without renewal; renewed every third of it. Another process may take the
   * run over once it expired, so a driver that stops renewing is replaced within about this long.
   * @default 5000
   */
  leaseTtlMs?: number;
  /** Where secret environment variables are read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface StartRunOptions {
  plan: Plan;
  /** The runbook to run; ignored when `site` is given. */
  runbook: string;
  /**
   * Recover every workload the site serves in one run (plan/site.ts): their failover runbooks as children,
   * behind one declaration (the plan's activation approvers and quorum unless `activation` says otherwise).
   */
  site?: string;
  /** Needed only when several workloads have a runbook of that name. */
  workload?: string;
  /** Who starts the run; four-eyes approvals refuse this person. */
  startedBy: string;
  /** @default the engine's parallel */
  parallel?: number;
  /** The plan's root file, so `resume` can load it again. @default plan.files[0] */
  planFile?: string;
  /** Stop driving (and release the run) when nothing can go on until people act. @default false */
  returnWhenWaiting?: boolean;
  /** Put an approval step in front of the runbook: nothing runs until activation is approved. @default no gate */
  activation?: ActivationGate;
  /** Why the run started and whether a person asked for it (the monitor starts runs by itself). Kept in the first record. */
  trigger?: RunTrigger;
  /**
   * Steps not to run, each with the reason people read (a rehearsal of part of the runbook, a step that
   * would reach production from an isolated copy). They are journaled `step-skipped` before anything
   * starts, so what needs them goes on as after an operator's skip. @default every step runs
   */
  skip?: ReadonlyMap<string, string>;
}

export interface ResumeRunOptions {
  plan: Plan;
  runId: string;
  by: string;
  returnWhenWaiting?: boolean;
}

export interface RunOutcome {
  runId: string;
  /** `waiting` when the driver returned because the run waits for people (returnWhenWaiting). */
  status: RunStatus;
  durationMs: number;
}

export interface RunDriver {
  runId: string;
  /** Settles when the run ends (or waits, with returnWhenWaiting); rejects when the store fails. */
  done: Promise<RunOutcome>;
  /** Cooperative cancel: running steps get their signal aborted, the run ends `cancelled`. */
  cancel(by: string, reason?: string): Promise<void>;
  /**
   * Stops driving without ending the run (a server shutting down): no new step starts, steps in flight
   * get `graceMs` to finish, then are aborted and journaled `step-interrupted` as after a crash. The lease
   * is released and `done` settles with the run's live status; a later resume goes on from there.
   */
  stop(graceMs?: number): Promise<RunOutcome>;
}

/** How a driver takes up its run. */
export interface DriverMode {
  resumed: boolean;
  by: string;
  returnWhenWaiting: boolean;
  /** Steps journaled skipped before the first turn (a fresh start only). */
  skip?: ReadonlyMap<string, string>;
}
