/**
 * What every part of driving one run shares: the run's plan and resolved steps, its state (the fold of
 * its journal), the journal it writes, and the dependency graph that says which steps may start. The
 * run loop (driver.ts), step attempts (step-execution.ts), people's answers (waiting.ts), resume
 * (resume.ts), rollback (rollback.ts) and cancellation (cancellation.ts) all work on one of these.
 */
import type { Logger } from 'pino';
import type { Plan, Step } from '../plan/model.ts';
import type { ActionContext } from '../providers/provider.ts';
import type { JournalInput, JournalRecord, RunStatus } from '../store/store.ts';
import { childOfStep } from '../plan/site.ts';
import type { Execution } from './execution.ts';
import type { EngineHooks, RunEvent } from './hooks.ts';
import { RECORD } from './journal.ts';
import type { EngineOptions, DriverMode, RunOutcome } from './options.ts';
import { ENGINE_ACTOR } from './records.ts';
import { capEvidence } from './redact.ts';
import type { Redactor } from './redact.ts';
import { RunJournal } from './run-journal.ts';
import { applyRecord } from './state.ts';
import type { RunState, StepState } from './state.ts';

const DEFAULT_LEASE_TTL_MS = 5_000;
const DEFAULT_EVIDENCE_LIMIT = 64 * 1024;

export interface RunContextOptions {
  engine: EngineOptions;
  hooks: readonly EngineHooks[];
  log: Logger;
  plan: Plan;
  executions: Execution[];
  state: RunState;
  redactor: Redactor;
  mode: DriverMode;
}

export class RunContext {
  readonly runId: string;
  readonly engine: EngineOptions;
  readonly plan: Plan;
  readonly executions: Map<string, Execution>;
  readonly state: RunState;
  readonly redactor: Redactor;
  readonly mode: DriverMode;
  readonly log: Logger;
  readonly journal: RunJournal;
  readonly parallel: number;
  readonly event: RunEvent;
  readonly #hooks: readonly EngineHooks[];
  readonly #evidenceLimit: number;

  /** Attempts (and undos) in flight, or reserved to start once an append is written. */
  readonly running = new Map<string, AbortController>();
  /** Steps whose needs are met, in the order they became ready. */
  readonly ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #unmet = new Map<string, number>();
  readonly #dependents = new Map<string, string[]>();
  readonly #satisfied = new Set<string>();
  /** Steps that got operator input or whose retry fell due: looked at on the next turn. */
  readonly attention = new Set<string>();
  readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Wakes the run loop from its wait for the next turn. */
  wake: (() => void) | undefined;
  /** What ends the run loop: the driver lost the run, or the store failed. */
  fatal: unknown;
  cancelling = false;
  finished = false;
  stopping = false;

  constructor(options: RunContextOptions) {
    const { state } = options;
    this.engine = options.engine;
    this.#hooks = options.hooks;
    this.plan = options.plan;
    this.executions = new Map(options.executions.map((execution) => [execution.step.id, execution]));
    this.state = state;
    this.runId = state.id;
    this.redactor = options.redactor;
    this.mode = options.mode;
    this.log = options.log.child({ run: state.id });
    this.journal = new RunJournal({
      store: options.engine.store,
      state,
      redactor: options.redactor,
      log: this.log,
      leaseTtlMs: this.leaseTtlMs,
      apply: (record) => this.#apply(record),
    });
    this.parallel = state.created.parallel;
    this.#evidenceLimit = options.engine.evidenceLimitBytes ?? DEFAULT_EVIDENCE_LIMIT;
    this.event = {
      runId: state.id,
      workload: state.created.workload,
      runbook: state.created.runbook,
      startedBy: state.created.startedBy,
    };
    for (const step of state.steps.values()) {
      for (const need of step.snapshot.needs) {
        const list = this.#dependents.get(need);
        if (list === undefined) this.#dependents.set(need, [step.snapshot.id]);
        else list.push(step.snapshot.id);
      }
    }
    for (const step of state.steps.values()) {
      if (satisfies(step)) this.#satisfied.add(step.snapshot.id);
    }
    for (const step of state.steps.values()) {
      const unmet = step.snapshot.needs.filter((need) => !this.#satisfied.has(need)).length;
      this.#unmet.set(step.snapshot.id, unmet);
      if (unmet === 0 && step.status === 'pending') this.#enqueue(step.snapshot.id);
      this.attention.add(step.snapshot.id);
    }
  }

  get leaseTtlMs(): number {
    return this.engine.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  /** Hands records to the journal; they are folded into the state once written. */
  write(records: JournalInput[], status?: RunStatus): Promise<JournalRecord[]> {
    return this.journal.append(records, status);
  }

  /** Steps that need `id` and wait for nothing else. */
  unblockedBy(id: string): string[] {
    return (this.#dependents.get(id) ?? []).filter((dependent) => this.#unmet.get(dependent) === 1);
  }

  /** Takes the next ready step off the queue. */
  nextReady(): string | undefined {
    const id = this.ready.shift();
    if (id !== undefined) this.#queued.delete(id);
    return id;
  }

  #enqueue(id: string): void {
    if (this.#queued.has(id)) return;
    this.#queued.add(id);
    this.ready.push(id);
  }

  #apply(record: JournalRecord): void {
    applyRecord(this.state, record);
    const step = record.step === undefined ? undefined : this.state.steps.get(record.step);
    if (step === undefined) return;
    if (record.actor !== ENGINE_ACTOR) this.attention.add(step.snapshot.id);
    if (!this.#satisfied.has(step.snapshot.id) && satisfies(step)) {
      this.#satisfied.add(step.snapshot.id);
      for (const dependent of this.#dependents.get(step.snapshot.id) ?? []) {
        const left = (this.#unmet.get(dependent) ?? 1) - 1;
        this.#unmet.set(dependent, left);
        if (left === 0 && this.state.steps.get(dependent)?.status === 'pending') this.#enqueue(dependent);
      }
    }
    if (step.status === 'pending' && this.#unmet.get(step.snapshot.id) === 0) this.#enqueue(step.snapshot.id);
  }

  async hook<K extends keyof EngineHooks>(
    name: K,
    event: Parameters<NonNullable<EngineHooks[K]>>[0],
  ): Promise<void> {
    for (const hooks of this.#hooks) {
      const hook = hooks[name] as ((event: unknown) => void | Promise<void>) | undefined;
      if (hook === undefined) continue;
      try {
        await hook.call(hooks, event);
      } catch (error) {
        this.log.warn({ hook: name, err: error }, 'a lifecycle hook failed; the run goes on');
      }
    }
  }

  poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  fail(error: unknown): void {
    this.fatal ??= error;
    this.poke();
  }

  scheduleRetry(step: StepState): void {
    const id = step.snapshot.id;
    const delay = Math.max(0, (step.retryAt?.getTime() ?? 0) - Date.now());
    const timer = setTimeout(() => {
      this.retryTimers.delete(id);
      this.attention.add(id);
      this.poke();
    }, delay);
    this.retryTimers.set(id, timer);
  }

  async notifyWaiting(id: string): Promise<void> {
    const step = this.state.steps.get(id);
    const execution = this.executions.get(id);
    if (step?.waitingFor === undefined || execution === undefined) return;
    await this.hook('onStepWaiting', {
      ...this.event,
      step: execution.step,
      for: step.waitingFor,
      escalateTo: step.escalatedTo,
    });
  }

  /** What a provider action (or undo) gets: its signal, logger, evidence and process records. */
  actionContext(step: Step, signal: AbortSignal, evidence: JournalInput[]): ActionContext {
    return {
      signal,
      log: this.log.child({ step: step.id }),
      plan: this.plan,
      stateDir: this.engine.stateDir,
      processStarted: (started) => {
        this.write([
          { type: RECORD.stepProcess, step: step.id, actor: ENGINE_ACTOR, data: { ...started } },
        ]).catch((error: unknown) => this.fail(error));
      },
      runId: this.runId,
      stepId: step.id,
      evidence: (name, value) => {
        const capped = capEvidence(this.redactor.value(value), this.#evidenceLimit);
        evidence.push({
          type: RECORD.evidence,
          step: step.id,
          actor: ENGINE_ACTOR,
          data: {
            name,
            value: capped.value,
            ...(capped.truncated ? { truncated: true, bytes: capped.bytes } : {}),
          },
        });
      },
    };
  }

  /** In a site run, whether the child this step belongs to has stopped (nothing more of it starts). */
  childStopped(stepId: string): boolean {
    const child = this.state.created.site === undefined ? undefined : childOfStep(stepId);
    return child !== undefined && this.state.stoppedChildren.has(child);
  }

  childRunning(child: string): boolean {
    return [...this.running.keys()].some((id) => childOfStep(id) === child);
  }

  /** Ends the run: whatever still waits or runs is cancelled, then `run-finished` with the run's status. */
  async finish(status: RunStatus, reason: string | undefined): Promise<RunOutcome> {
    const records: JournalInput[] = [];
    for (const step of this.state.steps.values()) {
      if (step.status === 'waiting' || step.status === 'retrying' || step.status === 'running') {
        records.push({
          type: RECORD.stepCancelled,
          step: step.snapshot.id,
          actor: ENGINE_ACTOR,
          data: { reason: `the run ended ${status}` },
        });
      }
    }
    const durationMs = Date.now() - this.state.createdAt.getTime();
    records.push({
      type: RECORD.runFinished,
      actor: ENGINE_ACTOR,
      data: { status, durationMs, ...(reason ? { reason } : {}) },
    });
    await this.write(records, status);
    return { runId: this.runId, status, durationMs };
  }

  outcome(status: RunStatus): RunOutcome {
    return { runId: this.runId, status, durationMs: Date.now() - this.state.createdAt.getTime() };
  }
}

/** A step's needs are met by it: it succeeded, was skipped, or failed under `on_failure: continue`. */
function satisfies(step: StepState): boolean {
  return (
    step.status === 'succeeded' ||
    step.status === 'skipped' ||
    (step.status === 'failed' && step.snapshot.onFailure === 'continue')
  );
}
