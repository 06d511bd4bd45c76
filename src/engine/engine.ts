/**
 * The engine: starts a run (a runbook, or a site's recovery) or takes over one no live process drives,
 * and hands it to a driver (driver.ts). One recovery per site at a time, across every instance on the
 * same store.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DrctlError, runNotFound, UsageError } from '../errors.ts';
import { findRunbook } from '../plan/lookup.ts';
import type { Plan } from '../plan/model.ts';
import type { RunStore } from '../store/store.ts';
import { FINAL_RUN_STATUSES } from '../store/store.ts';
import { silentLogger } from '../system/logger.ts';
import { siteRecovery, siteRunWorkload } from '../plan/site.ts';
import { siteDeclaration, withActivationGate } from './activation.ts';
import { Driver } from './driver.ts';
import { resolveExecution, snapshotOf } from './execution.ts';
import type { Execution } from './execution.ts';
import type { EngineHooks } from './hooks.ts';
import { RECORD } from './journal.ts';
import type { RunCreatedData } from './journal.ts';
import type { DriverMode, EngineOptions, ResumeRunOptions, RunDriver, StartRunOptions } from './options.ts';
import { Redactor, planSecrets } from './redact.ts';
import { replay } from './state.ts';
import type { RunState } from './state.ts';

const DEFAULT_PARALLEL = 8;
/** How long a site's declaration key lasts if its holder dies between the look and the new run. */
const SITE_CLAIM_TTL_MS = 5_000;

/** The store key that serialises declarations of one site across every instance on the store. */
function siteDeclarationKey(site: string): string {
  return `site-declaration:${site}`;
}

/** The id of the site's run that has not finished, if any. */
export async function openSiteRun(store: RunStore, site: string): Promise<string | undefined> {
  return (await store.listRuns({ limit: 500 })).find(
    (run) => run.workload === siteRunWorkload(site) && !FINAL_RUN_STATUSES.includes(run.status),
  )?.id;
}

/** A run id people can read and type: date, time, and a short random tail. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export class Engine {
  readonly options: EngineOptions;
  readonly #hooks: readonly EngineHooks[];
  readonly #log: Logger;

  constructor(options: EngineOptions) {
    this.options = options;
    this.#hooks =
      options.hooks === undefined
        ? []
        : Array.isArray(options.hooks)
          ? (options.hooks as EngineHooks[])
          : [options.hooks as EngineHooks];
    this.#log = options.logger ?? silentLogger();
  }

  /** Creates a run, takes its lease and starts driving it. */
  async start(options: StartRunOptions): Promise<RunDriver> {
    const site = options.site === undefined ? undefined : siteRecovery(options.plan, options.site);
    const activation =
      site === undefined
        ? options.activation
        : (options.activation ?? siteDeclaration(options.plan, site.site));
    const runbook = withActivationGate(
      site?.runbook ?? findRunbook(options.plan, options.runbook, options.workload),
      activation,
    );
    const executions = runbook.steps.map((step) => resolveExecution(this.options.providers, step));
    const redactor = new Redactor(planSecrets(options.plan, this.options.env));
    const planFile = resolve(options.planFile ?? options.plan.files[0] ?? '');
    const created: RunCreatedData = {
      workload: runbook.workload,
      runbook: runbook.name,
      planHash: options.plan.hash,
      planFile,
      startedBy: options.startedBy,
      parallel: Math.max(1, options.parallel ?? this.options.parallel ?? DEFAULT_PARALLEL),
      steps: executions.map((execution) => snapshotOf(options.plan, execution)),
      ...(activation === undefined ? {} : { activation }),
      ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
      ...(site === undefined ? {} : { site: { site: site.site, children: site.children } }),
    };
    const runId = newRunId();
    // one recovery per site: held from the look for an open site run until this one exists
    const release = site === undefined ? undefined : await this.#claimSite(site.site);
    const first = await this.options.store
      .createRun(
        {
          id: runId,
          workload: runbook.workload,
          runbook: runbook.name,
          planHash: options.plan.hash,
          planFile,
          startedBy: options.startedBy,
        },
        {
          type: RECORD.runCreated,
          actor: options.startedBy,
          data: redactor.value(created as unknown as Record<string, unknown>),
        },
      )
      .finally(release);
    return this.#drive(options.plan, executions, replay([first]), redactor, {
      resumed: false,
      by: options.startedBy,
      returnWhenWaiting: options.returnWhenWaiting ?? false,
      ...(options.skip === undefined ? {} : { skip: options.skip }),
    });
  }

  /**
   * Takes the site's declaration key in the store (a lease, so every instance on the same store sees it)
   * and refuses with DRCTL_SITE_RUN_OPEN, naming the run, when the site is already being recovered.
   * Returns what releases the key once the new run exists. Another process declaring the same site
   * holds the key for milliseconds; it is waited for, and one that died holding it expires.
   */
  async #claimSite(site: string): Promise<() => Promise<void>> {
    const { store } = this.options;
    const key = siteDeclarationKey(site);
    const request = { owner: randomUUID(), pid: process.pid, host: hostname(), ttlMs: SITE_CLAIM_TTL_MS };
    const deadline = Date.now() + 2 * SITE_CLAIM_TTL_MS;
    for (;;) {
      try {
        await store.acquireLease(key, request);
        break;
      } catch (error) {
        if (!(error instanceof DrctlError && error.code === 'DRCTL_RUN_LOCKED')) throw error;
        if (Date.now() > deadline)
          throw new UsageError('DRCTL_SITE_DECLARING', `another drctl process is declaring site ${site}`, {
            hint: 'wait for its run to appear in drctl status, then follow it there',
            cause: error,
          });
        await sleep(25);
      }
    }
    const release = (): Promise<void> => store.releaseLease(key, request.owner);
    const open = await openSiteRun(store, site).catch(async (error: unknown) => {
      await release();
      throw error;
    });
    if (open !== undefined) {
      await release();
      throw new UsageError('DRCTL_SITE_RUN_OPEN', `site ${site} is already being recovered by run ${open}`, {
        hint: `follow it with drctl status ${open}; declare it with drctl approve ${open} activation`,
        details: { runId: open },
      });
    }
    return release;
  }

  /** Takes over a run that no live process drives (after a crash, a pause or a cancel request). */
  async resume(options: ResumeRunOptions): Promise<RunDriver> {
    const { store } = this.options;
    const run = await store.getRun(options.runId);
    if (run === undefined) {
      throw runNotFound(options.runId);
    }
    if (FINAL_RUN_STATUSES.includes(run.status)) {
      throw new UsageError(
        'DRCTL_RUN_FINISHED',
        `run ${run.id} already finished (${run.status}); there is nothing to resume`,
        {
          hint: 'start a new run with `drctl run`',
        },
      );
    }
    if (run.planHash !== options.plan.hash) {
      const given = options.plan.files[0] ?? options.plan.name;
      throw new UsageError(
        'DRCTL_RUN_PLAN_CHANGED',
        `run ${run.id} was started from another version of the plan (${run.planFile}, hash ${run.planHash.slice(0, 12)}) than ${given} (hash ${options.plan.hash.slice(0, 12)})`,
        {
          hint: 'restore the plan the run started with (its hash is in `drctl status RUN --json`), or start a new run',
          details: { expected: run.planHash, actual: options.plan.hash },
        },
      );
    }
    const state = replay(await store.readJournal(run.id));
    const site = state.created.site?.site;
    const runbook = withActivationGate(
      site === undefined
        ? findRunbook(options.plan, run.runbook, run.workload)
        : siteRecovery(options.plan, site).runbook,
      state.created.activation,
    );
    const executions = runbook.steps.map((step) => resolveExecution(this.options.providers, step));
    const redactor = new Redactor(planSecrets(options.plan, this.options.env));
    return this.#drive(options.plan, executions, state, redactor, {
      resumed: true,
      by: options.by,
      returnWhenWaiting: options.returnWhenWaiting ?? false,
    });
  }

  /** Hands the run to a driver, which takes its lease and starts driving it. */
  async #drive(
    plan: Plan,
    executions: Execution[],
    state: RunState,
    redactor: Redactor,
    mode: DriverMode,
  ): Promise<RunDriver> {
    const driver = new Driver({
      engine: this.options,
      hooks: this.#hooks,
      log: this.#log,
      plan,
      executions,
      state,
      redactor,
      mode,
    });
    await driver.takeLease();
    return driver.launch();
  }
}
