/**
 * What communications need to know about runs, read from the store's journals: the journal is the run,
 * so a run driven by any process on the same state (the server, `drctl run`, a drill, the monitor) is
 * seen the same way. Engine hooks of runs this process drives only call `poll(runId)` at once, which
 * keeps the delay between a transition and its announcement to one journal read.
 */
import type { RunCreatedData, RunTrigger, StepSnapshot, WaitingFor } from '../engine/journal.ts';
import { RECORD } from '../engine/journal.ts';
import type { JournalRecord, RunStatus, RunStore } from '../store/store.ts';
import { FINAL_RUN_STATUSES } from '../store/store.ts';

export interface WatchedRun {
  id: string;
  workload: string;
  runbook: string;
  startedBy: string;
  createdAt: Date;
  planHash: string;
  trigger: RunTrigger | undefined;
  /** Id of the activation gate step, when the run waits for people to declare the disaster. */
  activationStep: string | undefined;
  steps: StepSnapshot[];
  /** Steps that finished (succeeded or skipped), for the time left on the critical path. */
  finished: Set<string>;
  status: RunStatus;
  /** Step id → what its action left the data current to (`output.dataAsOf`), in the order they finished. */
  dataAsOf: Map<string, string>;
  /** A site run's children (workload and step ids), as the run was created with them. */
  children: Array<{ workload: string; steps: string[] }>;
  /** Children whose every step finished, in the order they did. */
  recovered: string[];
}

export type RunFact =
  | { type: 'run-started'; run: WatchedRun; at: Date }
  /** DR declared: the activation gate approved, or a gate-less failover started. */
  | { type: 'activation'; run: WatchedRun; at: Date }
  | { type: 'step-waiting'; run: WatchedRun; step: string; for: WaitingFor; at: Date }
  /** The step no longer waits: it started again, finished, failed or was cancelled. */
  | { type: 'step-moved'; run: WatchedRun; step: string; at: Date }
  | { type: 'step-failed'; run: WatchedRun; step: string; code: string; message: string; at: Date }
  /** A site run's child finished its last step: that workload is back. */
  | { type: 'child-recovered'; run: WatchedRun; child: string; at: Date }
  | { type: 'run-ended'; run: WatchedRun; status: RunStatus; at: Date };

export interface RunWatcherOptions {
  store: RunStore;
  onFact(fact: RunFact): Promise<void>;
  /** Runs looked at on each poll, newest first. @default 50 */
  window?: number;
  /** Finished runs last changed before this are history and stay silent. @default the watcher's creation */
  since?: Date;
}

const MOVED: ReadonlySet<string> = new Set([
  RECORD.stepStarted,
  RECORD.stepSucceeded,
  RECORD.stepSkipped,
  RECORD.stepCancelled,
]);

export class RunWatcher {
  readonly #options: RunWatcherOptions;
  readonly #runs = new Map<string, { run: WatchedRun; seq: number }>();
  readonly #since: Date;
  #polling: Promise<void> = Promise.resolve();

  constructor(options: RunWatcherOptions) {
    this.#options = options;
    this.#since = options.since ?? new Date();
  }

  /** Reads what is new in the journals (of one run, or of the newest runs); polls never overlap. */
  poll(runId?: string): Promise<void> {
    const next = this.#polling.then(() => this.#poll(runId));
    this.#polling = next.catch(() => undefined);
    return next;
  }

  async #poll(runId: string | undefined): Promise<void> {
    const { store } = this.#options;
    const records =
      runId === undefined
        ? await store.listRuns({ limit: this.#options.window ?? 50 })
        : [await store.getRun(runId)].filter((r) => r !== undefined);
    for (const record of records) {
      const known = this.#runs.get(record.id);
      if (known !== undefined && known.seq >= record.headSeq) continue;
      if (
        known === undefined &&
        FINAL_RUN_STATUSES.includes(record.status) &&
        record.updatedAt < this.#since
      ) {
        continue;
      }
      const journal = await store.readJournal(record.id, known?.seq ?? 0);
      await this.#apply(record.id, journal);
    }
  }

  async #apply(runId: string, journal: JournalRecord[]): Promise<void> {
    for (const record of journal) {
      let entry = this.#runs.get(runId);
      if (entry === undefined) {
        if (record.type !== RECORD.runCreated) return;
        const data = record.data as unknown as RunCreatedData;
        const activationStep =
          data.activation === undefined
            ? undefined
            : data.steps.find((s) => s.kind === 'approval' && s.id.startsWith('activation'))?.id;
        entry = {
          seq: record.seq,
          run: {
            id: runId,
            workload: data.workload,
            runbook: data.runbook,
            startedBy: data.startedBy,
            createdAt: record.at,
            planHash: data.planHash,
            trigger: data.trigger,
            activationStep,
            steps: data.steps,
            finished: new Set(),
            status: 'running',
            dataAsOf: new Map(),
            children: (data.site?.children ?? []).map((c) => ({ workload: c.workload, steps: c.steps })),
            recovered: [],
          },
        };
        this.#runs.set(runId, entry);
        await this.#options.onFact({ type: 'run-started', run: entry.run, at: record.at });
        continue;
      }
      entry.seq = record.seq;
      const run = entry.run;
      const step = record.step;
      if (step !== undefined && MOVED.has(record.type))
        await this.#options.onFact({ type: 'step-moved', run, step, at: record.at });
      if (
        step !== undefined &&
        (record.type === RECORD.stepSucceeded || record.type === RECORD.stepSkipped)
      ) {
        run.finished.add(step);
        const child = run.children.find((c) => c.steps.includes(step));
        if (child !== undefined && child.steps.every((id) => run.finished.has(id))) {
          run.recovered.push(child.workload);
          await this.#options.onFact({ type: 'child-recovered', run, child: child.workload, at: record.at });
        }
      }
      const output = record.data.output as Record<string, unknown> | undefined;
      if (step !== undefined && record.type === RECORD.stepSucceeded && typeof output?.dataAsOf === 'string')
        run.dataAsOf.set(step, output.dataAsOf);
      if (record.type === RECORD.stepSucceeded && step !== undefined && step === run.activationStep)
        await this.#options.onFact({ type: 'activation', run, at: record.at });
      if (record.type === RECORD.stepWaiting && step !== undefined)
        await this.#options.onFact({
          type: 'step-waiting',
          run,
          step,
          for: (record.data.for as WaitingFor | undefined) ?? 'decision',
          at: record.at,
        });
      if (record.type === RECORD.stepFailed && step !== undefined && record.data.final === true) {
        await this.#options.onFact({ type: 'step-moved', run, step, at: record.at });
        await this.#options.onFact({
          type: 'step-failed',
          run,
          step,
          code: String(record.data.code ?? 'DRCTL_STEP_FAILED'),
          message: String(record.data.message ?? ''),
          at: record.at,
        });
      }
      if (record.type === RECORD.runFinished) {
        run.status = (record.data.status as RunStatus | undefined) ?? 'failed';
        await this.#options.onFact({ type: 'run-ended', run, status: run.status, at: record.at });
      }
    }
  }

  /** Runs seen and not finished. */
  openRuns(): WatchedRun[] {
    return [...this.#runs.values()].map((e) => e.run).filter((r) => !FINAL_RUN_STATUSES.includes(r.status));
  }
}
