/**
 * The drills this server runs: started through the API or the console, or by the test schedule. A drill
 * runs for real (src/drill: environment up, faults injected, failover measured); its job is a document in
 * `server-drills` (who started it, its progress lines, the report it produced), so every instance and a
 * restarted server show it. One drill per workload at a time: two would fight over the same placements.
 */
import { hostname } from 'node:os';
import type { DrillOptions, DrillOutcome } from '../drill/index.ts';
import { DrctlError } from '../errors.ts';
import type { Plan } from '../plan/index.ts';
import { looksLikeUrl } from '../store/index.ts';
import type { StoredDocument } from '../store/index.ts';
import type { CoreContext } from './core.ts';
import { ApiError } from './errors.ts';

export const SERVER_DRILLS = 'server-drills';
/** Progress lines kept per job: enough for the console, bounded for the store. */
const KEPT_LINES = 200;

export type DrillJobStatus = 'running' | 'passed' | 'failed' | 'error' | 'cancelled' | 'interrupted';

export interface DrillJob {
  id: string;
  plan: string;
  workload: string;
  scenario: string;
  startedBy: string;
  startedAt: string;
  status: DrillJobStatus;
  endedAt?: string;
  /** The drill report's id (GET /api/v1/drills/:id) once the drill measured something. */
  reportId?: string;
  error?: { code: string; message: string; hint?: string };
  progress: Array<{ at: string; line: string }>;
  /** The drill's own id once it started (`drctl drill continue|note ID`), for its rehearsal controls. */
  drillId?: string;
  /** Started with a pause after the fault, continued by someone (docs/drills.md). */
  pause?: boolean;
  /** Only these runbook steps run: `a..b` or `a,b`. */
  steps?: string;
  /** The process running it, so a restarted server can tell its own orphans. */
  host: string;
  pid: number;
}

export interface DrillStart {
  plan: Plan;
  scenario: string;
  startedBy: string;
  /** Run the workload's failback after the failover is measured. @default false */
  failback?: boolean;
  /** Hold the failover after the fault until someone continues. @default false */
  pause?: boolean;
  /** Only these runbook steps run. @default every step */
  steps?: string;
  /** The approver of a drill acting on a production site of an existing environment. */
  approvedBy?: string;
}

type RunDrill = (options: DrillOptions) => Promise<DrillOutcome>;

export class DrillSupervisor {
  readonly #ctx: Pick<CoreContext, 'store' | 'bus' | 'logger' | 'options'>;
  readonly #running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  readonly #runDrill: RunDrill | undefined;
  #stopping = false;
  /** The tail of the job writes: each waits for the one before. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(ctx: Pick<CoreContext, 'store' | 'bus' | 'logger' | 'options'>, runDrill?: RunDrill) {
    this.#ctx = ctx;
    this.#runDrill = runDrill;
  }

  /** Starts a drill in the background; the job is in the store before this returns. */
  async start(request: DrillStart): Promise<DrillJob> {
    return (await this.#launch(request)).job;
  }

  /** Runs a drill to its end, as a job like any other (the test schedule's drills come through here). */
  async run(options: DrillOptions, startedBy: string): Promise<DrillOutcome> {
    const { job, outcome } = await this.#launch(
      { plan: options.plan, scenario: options.scenario, startedBy },
      options,
    );
    const result = await outcome;
    if (result !== undefined) return result;
    const { error } = await this.get(job.id);
    throw new DrctlError(error?.code ?? 'DRCTL_DRILL_FAILED', error?.message ?? 'the drill failed');
  }

  async get(id: string): Promise<DrillJob> {
    const doc = await this.#ctx.store.getDocument(SERVER_DRILLS, id);
    if (doc === undefined) {
      throw ApiError.notFound(
        'DRCTL_API_DRILL_JOB_NOT_FOUND',
        `no drill job ${id}`,
        'list them with GET /api/v1/drill-jobs',
      );
    }
    return jobOf(doc);
  }

  /** Newest first. */
  async list(limit = 100): Promise<DrillJob[]> {
    return (await this.#ctx.store.listDocuments(SERVER_DRILLS, { limit })).map(jobOf);
  }

  /** Stops a running drill: its faults are undone and its environment stopped, the job ends `cancelled`. */
  async cancel(id: string, by: string): Promise<DrillJob> {
    const job = await this.get(id);
    const running = this.#running.get(id);
    if (job.status !== 'running') {
      throw ApiError.conflict(
        'DRCTL_API_DRILL_FINISHED',
        `drill job ${id} has ended (${job.status})`,
        'start another with POST /api/v1/drills',
      );
    }
    if (running === undefined) {
      throw ApiError.conflict(
        'DRCTL_API_DRILL_ELSEWHERE',
        `drill job ${id} runs in ${job.host}:${job.pid}`,
        'cancel it on the server that runs it',
      );
    }
    await this.#progress(id, `cancelled by ${by}`);
    running.abort.abort();
    await running.done;
    return this.get(id);
  }

  /** Someone in the room continues a paused drill. */
  async continue(id: string, by: string): Promise<DrillJob> {
    const { continueDrill } = await import('../drill/rehearsal.ts');
    await continueDrill(this.#ctx.store, await this.#drillIdOf(id), by);
    await this.#progress(id, `continued by ${by}`);
    return this.get(id);
  }

  /** A note from the room, kept in the drill's report. */
  async note(id: string, by: string, text: string): Promise<DrillJob> {
    const { addDrillNote } = await import('../drill/rehearsal.ts');
    await addDrillNote(this.#ctx.store, await this.#drillIdOf(id), by, text);
    await this.#progress(id, `note from ${by}: ${text}`);
    return this.get(id);
  }

  async #drillIdOf(id: string): Promise<string> {
    const job = await this.get(id);
    if (job.status !== 'running' || job.drillId === undefined)
      throw ApiError.conflict(
        'DRCTL_API_DRILL_NOT_LIVE',
        `drill job ${id} is ${job.status === 'running' ? 'still starting' : job.status}`,
        'pauses and notes belong to a drill while it runs',
      );
    return job.drillId;
  }

  /**
   * Emergency stop: every drill running on this state directory, in this server or any other process,
   * aborts and undoes its faults (src/drill/safety.ts). Waits up to `waitMs` for this server's to end.
   */
  async emergencyStop(by: string, reason: string | undefined, waitMs = 5_000): Promise<string[]> {
    if (looksLikeUrl(this.#ctx.options.state)) {
      throw drillsNeedStateDirectory();
    }
    const { emergencyStop } = await import('../drill/safety.ts');
    await emergencyStop(this.#ctx.options.state, by, reason);
    const running = [...this.#running.entries()];
    for (const [id] of running) await this.#progress(id, `emergency stop by ${by}`).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map(([, { done }]) => done)),
      new Promise((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]);
    clearTimeout(timer);
    return running.map(([id]) => id);
  }

  /** On start: jobs a dead process of this host left running are marked interrupted. */
  async markOrphans(): Promise<void> {
    for (const job of await this.list(1000)) {
      if (job.status !== 'running' || job.host !== hostname() || isAlive(job.pid)) continue;
      await this.#update(job.id, {
        status: 'interrupted',
        endedAt: new Date().toISOString(),
        error: {
          code: 'DRCTL_DRILL_INTERRUPTED',
          message: 'the server running this drill stopped before it ended',
          hint: 'start the drill again; its environment was stopped with the server',
        },
      });
    }
  }

  /** Stops every drill this server runs (their environments are stopped); waits for them. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const running = [...this.#running.values()];
    for (const { abort } of running) abort.abort();
    await Promise.all(running.map(({ done }) => done));
  }

  async #open(request: DrillStart): Promise<DrillJob> {
    if (this.#stopping) {
      throw ApiError.stopping();
    }
    if (looksLikeUrl(this.#ctx.options.state)) {
      throw drillsNeedStateDirectory();
    }
    const { findScenario } = await import('../drill/index.ts');
    const { workload } = findScenario(request.plan, request.scenario);
    const busy = (await this.list(1000)).find(
      (job) => job.status === 'running' && job.workload === workload.id,
    );
    if (busy !== undefined) {
      throw ApiError.conflict(
        'DRCTL_API_DRILL_RUNNING',
        `drill ${busy.id} of ${workload.id} is running`,
        `wait for it, or cancel it with POST /api/v1/drill-jobs/${busy.id}/cancel`,
      );
    }
    const startedAt = new Date();
    const job: DrillJob = {
      id: `drill-${startedAt
        .toISOString()
        .replace(/[-:.TZ]/g, '')
        .slice(0, 14)}-${Math.random().toString(36).slice(2, 8)}`,
      plan: request.plan.name,
      workload: workload.id,
      scenario: request.scenario,
      startedBy: request.startedBy,
      startedAt: startedAt.toISOString(),
      status: 'running',
      progress: [],
      ...(request.pause === true ? { pause: true } : {}),
      ...(request.steps === undefined ? {} : { steps: request.steps }),
      host: hostname(),
      pid: process.pid,
    };
    await this.#ctx.store.putDocument(SERVER_DRILLS, job.id, { ...job }, { expectVersion: 0 });
    this.#publish(job);
    return job;
  }

  async #launch(
    request: DrillStart,
    options?: DrillOptions,
  ): Promise<{ job: DrillJob; outcome: Promise<DrillOutcome | undefined> }> {
    const job = await this.#open(request);
    const abort = new AbortController();
    const outcome = this.#drive(job, request, abort.signal, options);
    this.#running.set(job.id, { abort, done: outcome.then(() => undefined) });
    void outcome.finally(() => this.#running.delete(job.id));
    return { job, outcome };
  }

  /** The drill itself; resolves to undefined when it did not complete (the job says why). */
  async #drive(
    job: DrillJob,
    request: DrillStart,
    signal: AbortSignal,
    options?: DrillOptions,
  ): Promise<DrillOutcome | undefined> {
    const log = this.#ctx.logger.child({ part: 'drill', drill: job.id });
    try {
      const runDrill = this.#runDrill ?? (await import('../drill/index.ts')).runDrill;
      const outcome = await runDrill({
        remapPorts: true,
        ...options,
        plan: request.plan,
        scenario: request.scenario,
        stateDir: this.#ctx.options.state,
        log,
        signal,
        onProgress: (line) => {
          this.#progress(job.id, line).catch((error: unknown) =>
            log.warn({ err: error }, 'a drill progress line was not kept'),
          );
        },
        ...(request.failback === true ? { failback: {} } : {}),
        ...(request.pause === true ? { pause: true } : {}),
        ...(request.steps === undefined ? {} : { steps: request.steps }),
        onStart: (drillId) => {
          this.#update(job.id, { drillId }).catch((error: unknown) =>
            log.warn({ err: error }, 'the drill id was not kept with its job'),
          );
        },
        ...(request.approvedBy === undefined ? {} : { approvedBy: request.approvedBy }),
      });
      await this.#update(job.id, {
        status: outcome.report.passed ? 'passed' : 'failed',
        endedAt: new Date().toISOString(),
        reportId: outcome.report.id,
      });
      return outcome;
    } catch (error) {
      const cancelled = signal.aborted;
      if (!cancelled) log.error({ err: error }, 'the drill did not complete');
      await this.#update(job.id, {
        status: cancelled ? 'cancelled' : 'error',
        endedAt: new Date().toISOString(),
        error:
          error instanceof DrctlError
            ? {
                code: error.code,
                message: error.message,
                ...(error.hint === undefined ? {} : { hint: error.hint }),
              }
            : { code: 'DRCTL_DRILL_FAILED', message: "the drill failed; the server's log has the details" },
      }).catch((updateError: unknown) =>
        log.error({ err: updateError }, 'the drill job could not be updated'),
      );
      return undefined;
    }
  }

  #progress(id: string, line: string): Promise<void> {
    return this.#update(id, (job) => ({
      progress: [...job.progress, { at: new Date().toISOString(), line }].slice(-KEPT_LINES),
    }));
  }

  /** Every change to a job is written in order, each after the one before (progress lines come fast). */
  #update(id: string, change: Partial<DrillJob> | ((job: DrillJob) => Partial<DrillJob>)): Promise<void> {
    const write = this.#writes.then(async () => {
      const doc = await this.#ctx.store.getDocument(SERVER_DRILLS, id);
      if (doc === undefined) return;
      const before = jobOf(doc);
      const job = { ...before, ...(typeof change === 'function' ? change(before) : change) };
      await this.#ctx.store.putDocument(SERVER_DRILLS, id, { ...job }, { expectVersion: doc.version });
      this.#publish(job);
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }

  #publish(job: DrillJob): void {
    const { host: _host, pid: _pid, ...shown } = job;
    this.#ctx.bus.publish({ type: 'drill', at: new Date().toISOString(), data: { ...shown } });
  }
}

function jobOf(doc: StoredDocument): DrillJob {
  return doc.data as unknown as DrillJob;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A drill's environment, emergency stop and reports live in a state directory, not in a database. */
function drillsNeedStateDirectory(): ApiError {
  return ApiError.conflict(
    'DRCTL_STORE_UNSUPPORTED',
    'drills need a local state directory',
    'serve from a state directory (not a database URL) to run drills here; a drill keeps its environment there',
  );
}
