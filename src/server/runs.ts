/**
 * The runs this server drives. Runs started or resumed through the API are driven here by the server's
 * own engine; each is noted in the documents collection `server-runs` until it ends, so a server started
 * again (after SIGTERM, or SIGKILL) resumes exactly the runs it was driving. Everything people do to a run
 * (approve, confirm, decide, cancel) goes through the engine's operator functions, never around them.
 */
import { hostname } from 'node:os';
import { finishCancelled, loadRunState, requestCancel } from '../engine/index.ts';
import type { ActivationGate, RunDriver, RunTrigger } from '../engine/index.ts';
import type { DrctlError } from '../errors.ts';
import { hasCode, runNotFound } from '../errors.ts';
import type { Plan } from '../plan/index.ts';
import { FINAL_RUN_STATUSES } from '../store/index.ts';
import type { RunRecord, RunStatus, RunStore } from '../store/index.ts';
import type { CoreContext } from './core.ts';
import { ApiError } from './errors.ts';

export const SERVER_RUNS = 'server-runs';

export interface StartOptions {
  plan: Plan;
  runbook: string;
  /** Recover every workload the site serves in one run (`runbook` is then ignored). */
  site?: string;
  workload?: string;
  startedBy: string;
  parallel?: number;
  activation?: ActivationGate;
  /** Why the run started, when not a person's request (the monitor). */
  trigger?: RunTrigger;
}

export class RunSupervisor {
  readonly #ctx: Pick<CoreContext, 'store' | 'plans' | 'engine' | 'logger'>;
  readonly #drivers = new Map<string, RunDriver>();
  #stopping = false;

  constructor(ctx: Pick<CoreContext, 'store' | 'plans' | 'engine' | 'logger'>) {
    this.#ctx = ctx;
  }

  /** Run ids this server drives now. */
  get driving(): string[] {
    return [...this.#drivers.keys()];
  }

  async start(options: StartOptions): Promise<RunDriver> {
    this.#refuseWhenStopping();
    const driver = await this.#ctx.engine.start({
      plan: options.plan,
      runbook: options.runbook,
      startedBy: options.startedBy,
      ...(options.site === undefined ? {} : { site: options.site }),
      ...(options.workload === undefined ? {} : { workload: options.workload }),
      ...(options.parallel === undefined ? {} : { parallel: options.parallel }),
      ...(options.activation === undefined ? {} : { activation: options.activation }),
      ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
    });
    await this.#track(driver);
    return driver;
  }

  /** Takes over a run no live process drives; DRCTL_RUN_LOCKED when one does. */
  async resume(runId: string, by: string): Promise<RunDriver> {
    this.#refuseWhenStopping();
    const existing = this.#drivers.get(runId);
    if (existing !== undefined) return existing;
    const run = await this.#ctx.store.getRun(runId);
    if (run === undefined) throw notFound(runId);
    const driver = await this.#ctx.engine.resume({ plan: this.planOf(run), runId, by });
    await this.#track(driver);
    return driver;
  }

  /**
   * The loaded plan a run was started from: the same version (hash) wherever its file is, else the plan
   * at the same root file or with the run's runbook, which the engine then refuses as another version
   * (DRCTL_RUN_PLAN_CHANGED) rather than driving the run with steps it was not started with.
   */
  planOf(run: RunRecord): Plan {
    const served = this.#ctx.plans.list();
    const plan =
      served.find((candidate) => candidate.hash === run.planHash) ??
      this.#ctx.plans.byFile(run.planFile) ??
      served.find((candidate) =>
        candidate.workloads.some(
          (workload) =>
            workload.id === run.workload && workload.runbooks.some((runbook) => runbook.name === run.runbook),
        ),
      );
    if (plan === undefined) {
      throw ApiError.conflict(
        'DRCTL_API_PLAN_NOT_SERVED',
        `run ${run.id} was started from ${run.planFile}, which this server does not serve`,
        'start drctl serve with that plan, or resume the run with `drctl resume`',
      );
    }
    return plan;
  }

  /** Cancels a run: through its driver when this server drives it, else by the journal. */
  async cancel(runId: string, by: string, reason: string | undefined): Promise<void> {
    const driver = this.#drivers.get(runId);
    if (driver !== undefined) {
      await driver.cancel(by, reason);
      return;
    }
    await requestCancel(this.#ctx.store, { runId, by, ...(reason === undefined ? {} : { reason }) });
    try {
      // nobody drives it: end it here; a live driver elsewhere ends it itself
      await finishCancelled(this.#ctx.store, {
        runId,
        by,
        owner: `${hostname()}:${process.pid}:serve-cancel`,
        pid: process.pid,
        host: hostname(),
      });
    } catch (error) {
      if (!hasCode(error, 'DRCTL_RUN_LOCKED')) throw error;
    }
  }

  /** On start: resumes every run a previous server process was driving and did not finish. */
  async resumeOwned(): Promise<string[]> {
    const resumed: string[] = [];
    for (const doc of await this.#ctx.store.listDocuments(SERVER_RUNS, { limit: 10_000 })) {
      const run = await this.#ctx.store.getRun(doc.id);
      if (run === undefined || FINAL_RUN_STATUSES.includes(run.status)) {
        await this.#ctx.store.deleteDocument(SERVER_RUNS, doc.id);
        continue;
      }
      try {
        await this.resume(run.id, 'drctl-serve');
        resumed.push(run.id);
      } catch (error) {
        this.#ctx.logger.warn({ run: run.id, err: error }, 'a run this server drove was not resumed');
      }
    }
    return resumed;
  }

  /** Stops driving every run (journaled, leases released); the runs stay open for the next start. */
  async stop(graceMs?: number): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#drivers.values()].map((driver) =>
        driver.stop(graceMs).catch((error: unknown) => {
          this.#ctx.logger.error({ run: driver.runId, err: error }, 'a run did not stop cleanly');
        }),
      ),
    );
  }

  async #track(driver: RunDriver): Promise<void> {
    this.#drivers.set(driver.runId, driver);
    const run = await this.#ctx.store.getRun(driver.runId);
    await this.#ctx.store.putDocument(SERVER_RUNS, driver.runId, { planFile: run?.planFile ?? '' });
    driver.done
      .then(async (outcome) => {
        if (FINAL_RUN_STATUSES.includes(outcome.status))
          await this.#ctx.store.deleteDocument(SERVER_RUNS, driver.runId);
      })
      .catch((error: unknown) => {
        if (hasCode(error, 'DRCTL_RUN_LEASE_LOST')) {
          // paused or cut off past the lease: another instance drives the run now, and the fencing
          // token refused whatever this driver tried to write since
          this.#ctx.logger.warn(
            { run: driver.runId, code: error.code },
            'lost the run to another instance (fenced); stood down without writing',
          );
        } else if (!this.#stopping)
          this.#ctx.logger.error({ run: driver.runId, err: error }, 'driving a run failed');
      })
      .finally(() => this.#drivers.delete(driver.runId));
  }

  #refuseWhenStopping(): void {
    if (this.#stopping) {
      throw ApiError.stopping();
    }
  }
}

/** A 404 with the API's hint (errors.ts maps DRCTL_RUN_NOT_FOUND to 404). */
export function notFound(runId: string): DrctlError {
  return runNotFound(runId);
}

/** A run's status now: the store indexes final statuses; whether a live run waits is in its journal. */
export async function currentStatus(store: RunStore, run: RunRecord): Promise<RunStatus> {
  if (FINAL_RUN_STATUSES.includes(run.status)) return run.status;
  return (await loadRunState(store, run.id)).status;
}
