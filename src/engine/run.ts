/**
 * The run driver: executes one runbook as a dependency graph, journaling every transition before it takes
 * effect. One driver per run at a time (a lease in the store); several runs may be driven by one process.
 * See ARCHITECTURE.md for the states, the record order and the resume rules.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DrctlError, runNotFound, UsageError } from '../errors.ts';
import { callName } from '../plan/calls.ts';
import type { Plan, ProviderCall, Runbook, Step } from '../plan/model.ts';
import type { ActionContext, Provider, ProviderAction } from '../providers/provider.ts';
import type { JournalInput, JournalRecord, RunStatus, RunStore } from '../store/store.ts';
import { FINAL_RUN_STATUSES, isStoreOutage } from '../store/store.ts';
import { endProcessGroup, processGroupGone } from '../system/guarded-spawn.ts';
import { silentLogger } from '../system/logger.ts';
import { childOfStep, siteRecovery, siteRunWorkload } from '../plan/site.ts';
import { siteDeclaration, withActivationGate } from './activation.ts';
import type { ActivationGate } from './activation.ts';
import { runCheck } from './checks.ts';
import type { EngineHooks, RunEvent } from './hooks.ts';
import { RECORD } from './journal.ts';
import type { Decision, RunCreatedData, RunTrigger, StepFailureData, StepSnapshot } from './journal.ts';
import { Redactor, capEvidence, planSecrets } from './redact.ts';
import { applyRecord, isFinal, replay } from './state.ts';
import type { RunState, StepState } from './state.ts';

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
const DEFAULT_LEASE_TTL_MS = 5_000;
const DEFAULT_EVIDENCE_LIMIT = 64 * 1024;
const ENGINE_ACTOR = 'engine';

/** Finds a runbook by name (and workload when the name is not unique). */
export function findRunbook(plan: Plan, ref: string, workloadOption?: string): Runbook {
  // `workload/name` is how drctl prints runbooks everywhere, so it is accepted wherever a name is
  const [qualifier, bare] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
  const name = bare ?? ref;
  const workload = workloadOption ?? qualifier;
  const matches = plan.workloads
    .filter((candidate) => workload === undefined || candidate.id === workload)
    .flatMap((candidate) => candidate.runbooks.filter((runbook) => runbook.name === name));
  const [only, ...others] = matches;
  if (only === undefined) {
    const known = plan.workloads.flatMap((candidate) =>
      candidate.runbooks.map((runbook) => `${candidate.id}/${runbook.name}`),
    );
    throw new UsageError(
      'DRCTL_RUN_RUNBOOK_NOT_FOUND',
      `no runbook ${name}${workload ? ` in workload ${workload}` : ''} in plan ${plan.files[0] ?? plan.name}`,
      { hint: known.length > 0 ? `runbooks in this plan: ${known.join(', ')}` : 'the plan has no runbooks' },
    );
  }
  if (others.length > 0) {
    throw new UsageError('DRCTL_RUN_RUNBOOK_AMBIGUOUS', `several workloads have a runbook named ${name}`, {
      hint: `add --workload ${[only, ...others].map((runbook) => runbook.workload).join(' or ')}`,
    });
  }
  return only;
}

/** How the engine carries out a step: resolved once, before the run starts. */
interface Execution {
  step: Step;
  action: { provider: Provider; name: string; definition: ProviderAction; params: unknown } | undefined;
  undo: { provider: Provider; name: string; definition: ProviderAction; params: unknown } | undefined;
  idempotent: boolean;
}

function resolveAction(
  providers: readonly Provider[],
  step: Step,
  call: ProviderCall,
  what: string,
  { onlyKnownParams = false } = {},
): { provider: Provider; name: string; definition: ProviderAction; params: unknown } {
  const qualified = callName(call);
  const provider = providers.find((candidate) => candidate.name === call.provider);
  const definition = provider?.actions[call.name];
  if (provider === undefined || definition === undefined) {
    throw new UsageError(
      'DRCTL_RUN_ACTION_UNKNOWN',
      `step ${step.id}: ${what} ${qualified} is not a known provider action`,
      {
        hint: `registered providers: ${providers.map((candidate) => candidate.name).join(', ') || 'none'}`,
        location: step.at,
      },
    );
  }
  const params = onlyKnownParams ? knownParams(definition, call.params) : call.params;
  const parsed = definition.params.safeParse(params);
  if (!parsed.success) {
    throw new UsageError(
      'DRCTL_RUN_ACTION_PARAMS',
      `step ${step.id}: bad parameters for ${qualified}: ${parsed.error.message}`,
      {
        hint: 'fix the step\'s "with:" in the plan',
        location: step.at,
      },
    );
  }
  return { provider, name: qualified, definition, params: parsed.data };
}

/**
 * A provider's declared undo receives the step's parameters it knows: `process.start`'s `env` means
 * nothing to `process.stop`, which would refuse it as unknown.
 */
function knownParams(definition: ProviderAction, params: Record<string, unknown>): Record<string, unknown> {
  // a zod object has a shape; checked by its shape so that the engine does not load zod for one instanceof
  const shape = (definition.params as { shape?: unknown }).shape;
  if (typeof shape !== 'object' || shape === null) return params;
  const known = new Set(Object.keys(shape));
  return Object.fromEntries(Object.entries(params).filter(([key]) => known.has(key)));
}

function resolveExecution(providers: readonly Provider[], step: Step): Execution {
  const action: Execution['action'] =
    step.call === undefined
      ? undefined
      : resolveAction(providers, step, step.call, step.kind === 'shell' ? 'the shell' : 'action');
  let undo: Execution['undo'];
  if (step.undo?.call !== undefined) {
    undo = resolveAction(
      providers,
      step,
      step.undo.call,
      step.undo.run === undefined ? 'undo action' : 'undo',
    );
  } else if (action?.definition.undo !== undefined) {
    undo = resolveAction(
      providers,
      step,
      { provider: action.provider.name, name: action.definition.undo, params: step.with },
      'undo action',
      { onlyKnownParams: true },
    );
  }
  // a wait or a check changes nothing, so running it again is always safe
  const idempotent =
    step.idempotent ||
    step.kind === 'wait' ||
    step.kind === 'check' ||
    (step.kind === 'action' &&
      (action?.definition.idempotent === true || action?.definition.resumable?.(action.params) === true));
  return { step, action, undo, idempotent };
}

function snapshotOf(plan: Plan, execution: Execution): StepSnapshot {
  const { step } = execution;
  let approval: StepSnapshot['approval'];
  if (step.approval) {
    const byRole =
      step.approval.role === undefined
        ? []
        : plan.contacts
            .filter(
              (contact) =>
                contact.roles.includes(step.approval?.role ?? '') || contact.role === step.approval?.role,
            )
            .map((contact) => contact.id);
    approval = {
      approvers: [...new Set([...step.approval.by, ...byRole])],
      role: step.approval.role,
      quorum: step.approval.quorum,
      fourEyes: step.approval.fourEyes,
    };
  }
  return {
    id: step.id,
    name: step.name,
    kind: step.kind,
    needs: step.needs,
    expectedMs: step.expectedMs,
    contingencyMs: step.contingencyMs,
    idempotent: execution.idempotent,
    onFailure: step.onFailure,
    escalateTo: step.escalateTo,
    hasUndo: execution.undo !== undefined,
    evidence: step.evidence,
    approval,
  };
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
    const driver = new Driver(
      this,
      this.#hooks,
      this.#log,
      options.plan,
      executions,
      replay([first]),
      redactor,
      {
        resumed: false,
        by: options.startedBy,
        returnWhenWaiting: options.returnWhenWaiting ?? false,
        ...(options.skip === undefined ? {} : { skip: options.skip }),
      },
    );
    await driver.takeLease();
    return driver.launch();
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
    const driver = new Driver(this, this.#hooks, this.#log, options.plan, executions, state, redactor, {
      resumed: true,
      by: options.by,
      returnWhenWaiting: options.returnWhenWaiting ?? false,
    });
    await driver.takeLease();
    return driver.launch();
  }
}

/** Records that go to the store in one append, with the run status written beside them. */
interface JournalBatch {
  records: JournalInput[];
  status: RunStatus | undefined;
  written: Promise<JournalRecord[]>;
}

interface DriverMode {
  resumed: boolean;
  by: string;
  returnWhenWaiting: boolean;
  /** Steps journaled skipped before the first turn (a fresh start only). */
  skip?: ReadonlyMap<string, string>;
}

/** Marks an abort that came from a cancel, not from a timeout. */
class CancelledSignal extends Error {
  override name = 'CancelledSignal';
}

/** Marks an abort that came from stopping the driver: the run goes on later. */
class StoppedSignal extends Error {
  override name = 'StoppedSignal';
}

/**
 * Marks an abort that came from losing the run (another driver holds its lease, or the driver failed):
 * the step's outcome is not written, the driver that holds the run decides what became of it.
 */
class AbandonedSignal extends Error {
  override name = 'AbandonedSignal';
}

/** Longest pause between tries while the store is unreachable. */
const OUTAGE_RETRY_MAX_MS = 1_000;

/** How long a former driver's step process group gets between SIGTERM and SIGKILL when a driver takes over. */
const GUARD_GRACE_MS = 500;

/** Default time steps in flight get to finish when a driver stops. */
const STOP_GRACE_MS = 10_000;

class Driver implements RunDriver {
  readonly runId: string;
  done!: Promise<RunOutcome>;
  readonly #engine: Engine;
  readonly #store: RunStore;
  readonly #hooks: readonly EngineHooks[];
  readonly #log: Logger;
  readonly #plan: Plan;
  readonly #executions: Map<string, Execution>;
  readonly #state: RunState;
  readonly #redactor: Redactor;
  readonly #mode: DriverMode;
  readonly #owner = `${hostname()}:${process.pid}:${randomUUID()}`;
  /** The lease's fencing token, once taken; every append carries it. */
  #token: number | undefined;
  readonly #parallel: number;
  readonly #evidenceLimit: number;
  readonly #event: RunEvent;

  readonly #running = new Map<string, AbortController>();
  readonly #ready: string[] = [];
  readonly #queued = new Set<string>();
  readonly #unmet = new Map<string, number>();
  readonly #dependents = new Map<string, string[]>();
  readonly #satisfied = new Set<string>();
  /** Steps that got operator input or whose retry fell due: looked at on the next turn. */
  readonly #attention = new Set<string>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  #writeChain: Promise<unknown> = Promise.resolve();
  /** The records of the append that waits for the one in flight; more join it until it is sent. */
  #openBatch: JournalBatch | undefined;
  #wake: (() => void) | undefined;
  #fatal: unknown;
  #cancelling = false;
  #finished = false;
  #stopping = false;
  /** Set when `stop()`'s grace ran out: waiting for an unreachable store ends too. */
  #givingUp = false;
  /** A renewal is on its way (it may wait out a store outage): the next tick does not send another. */
  #renewing = false;
  /** The store has been unreachable since this moment (said once in the log, and once when it is back). */
  #outageSince: number | undefined;

  constructor(
    engine: Engine,
    hooks: readonly EngineHooks[],
    log: Logger,
    plan: Plan,
    executions: Execution[],
    state: RunState,
    redactor: Redactor,
    mode: DriverMode,
  ) {
    this.#engine = engine;
    this.#store = engine.options.store;
    this.#hooks = hooks;
    this.#plan = plan;
    this.#executions = new Map(executions.map((execution) => [execution.step.id, execution]));
    this.#state = state;
    this.runId = state.id;
    this.#redactor = redactor;
    this.#mode = mode;
    this.#log = log.child({ run: state.id });
    this.#parallel = state.created.parallel;
    this.#evidenceLimit = engine.options.evidenceLimitBytes ?? DEFAULT_EVIDENCE_LIMIT;
    this.#event = {
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
      if (this.#satisfies(step)) this.#satisfied.add(step.snapshot.id);
    }
    for (const step of state.steps.values()) {
      const unmet = step.snapshot.needs.filter((need) => !this.#satisfied.has(need)).length;
      this.#unmet.set(step.snapshot.id, unmet);
      if (unmet === 0 && step.status === 'pending') this.#enqueue(step.snapshot.id);
      this.#attention.add(step.snapshot.id);
    }
  }

  #satisfies(step: StepState): boolean {
    return (
      step.status === 'succeeded' ||
      step.status === 'skipped' ||
      (step.status === 'failed' && step.snapshot.onFailure === 'continue')
    );
  }

  #enqueue(id: string): void {
    if (this.#queued.has(id)) return;
    this.#queued.add(id);
    this.#ready.push(id);
  }

  /**
   * Takes the run's lease, then renews it with the fencing token it got: a driver that lost the lease
   * (paused or cut off past its TTL) fails the renewal and every append instead of taking it back.
   */
  async takeLease(): Promise<void> {
    const lease = await this.#store.acquireLease(this.runId, {
      owner: this.#owner,
      pid: process.pid,
      host: hostname(),
      ttlMs: this.#engine.options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
      ...(this.#token === undefined ? {} : { token: this.#token }),
    });
    this.#token = lease.token;
  }

  launch(): RunDriver {
    this.done = this.#drive();
    return this;
  }

  async cancel(by: string, reason?: string): Promise<void> {
    if (this.#finished || this.#state.cancelRequested) return;
    await this.#journal([
      { type: RECORD.cancelRequested, actor: by, data: reason === undefined ? {} : { reason } },
    ]);
    this.#poke();
  }

  async stop(graceMs = STOP_GRACE_MS): Promise<RunOutcome> {
    if (!this.#finished) {
      this.#stopping = true;
      this.#poke();
    }
    const timer = setTimeout(() => {
      for (const controller of this.#running.values())
        controller.abort(new StoppedSignal('the driver stopped'));
      this.#givingUp = true;
    }, graceMs);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Appends records (redacted), then folds them and any records other processes wrote in between into the
   * state. Records handed over while an append is in flight go out together in the next one (group
   * commit: one round trip and one commit for what several steps finished meanwhile); each caller still
   * learns its records are written only once they are.
   */
  #journal(records: JournalInput[], status?: RunStatus): Promise<JournalRecord[]> {
    const open = this.#openBatch;
    if (open !== undefined && open.status === undefined && status === undefined) {
      const from = open.records.length;
      open.records.push(...records);
      return open.written.then((all) => all.slice(from, from + records.length));
    }
    const batch: JournalBatch = { records: [...records], status, written: Promise.resolve([]) };
    this.#openBatch = batch;
    const write = this.#writeChain.then(async () => {
      if (this.#openBatch === batch) this.#openBatch = undefined;
      const redacted = batch.records.map((record) => ({
        ...record,
        data: this.#redactor.value(record.data),
      }));
      // sending the same records again is safe: the store recognises an append that had committed
      const written = await this.#patiently(() =>
        this.#store.append(this.runId, redacted, {
          leaseOwner: this.#owner,
          ...(this.#token === undefined ? {} : { fencingToken: this.#token }),
          ...(batch.status === undefined ? {} : { status: batch.status }),
        }),
      );
      const firstSeq = written[0]?.seq ?? this.#state.lastSeq + 1;
      if (firstSeq > this.#state.lastSeq + 1) {
        const lastSeq = this.#state.lastSeq;
        for (const record of await this.#patiently(() => this.#store.readJournal(this.runId, lastSeq))) {
          if (record.seq >= firstSeq) break;
          this.#apply(record);
        }
      }
      for (const record of written) this.#apply(record);
      return written;
    });
    batch.written = write;
    this.#writeChain = write.catch(() => undefined);
    return write;
  }

  #apply(record: JournalRecord): void {
    applyRecord(this.#state, record);
    const step = record.step === undefined ? undefined : this.#state.steps.get(record.step);
    if (step === undefined) return;
    if (record.actor !== ENGINE_ACTOR) this.#attention.add(step.snapshot.id);
    if (!this.#satisfied.has(step.snapshot.id) && this.#satisfies(step)) {
      this.#satisfied.add(step.snapshot.id);
      for (const dependent of this.#dependents.get(step.snapshot.id) ?? []) {
        const left = (this.#unmet.get(dependent) ?? 1) - 1;
        this.#unmet.set(dependent, left);
        if (left === 0 && this.#state.steps.get(dependent)?.status === 'pending') this.#enqueue(dependent);
      }
    }
    if (step.status === 'pending' && this.#unmet.get(step.snapshot.id) === 0) this.#enqueue(step.snapshot.id);
  }

  /**
   * Runs a store call until it gets through. An outage of any length is waited out: the step in flight
   * goes on, its outcome is written once the store is back, and the lease is renewed then; if another
   * instance took the run meanwhile, the append or the renewal is fenced and this driver stands down.
   */
  async #patiently<T>(work: () => Promise<T>): Promise<T> {
    for (let pause = 100; ; pause = Math.min(pause * 2, OUTAGE_RETRY_MAX_MS)) {
      try {
        const result = await work();
        if (this.#outageSince !== undefined) {
          this.#log.info(
            { unreachableMs: Date.now() - this.#outageSince },
            'the state store is reachable again; driving on',
          );
          this.#outageSince = undefined;
        }
        return result;
      } catch (error) {
        if (!isStoreOutage(error) || this.#givingUp) throw error;
        if (this.#outageSince === undefined) {
          this.#outageSince = Date.now();
          this.#log.warn(
            { err: error },
            'the state store is unreachable; steps in flight go on and the run is driven on once it is back',
          );
        }
        await sleep(pause);
      }
    }
  }

  /** Reads what operators wrote since the last look (approvals, decisions, cancel). */
  async #pollInputs(): Promise<void> {
    await this.#writeChain;
    const lastSeq = this.#state.lastSeq;
    const records = await this.#patiently(() => this.#store.readJournal(this.runId, lastSeq));
    for (const record of records) this.#apply(record);
  }

  async #hook<K extends keyof EngineHooks>(
    name: K,
    event: Parameters<NonNullable<EngineHooks[K]>>[0],
  ): Promise<void> {
    for (const hooks of this.#hooks) {
      const hook = hooks[name] as ((event: unknown) => void | Promise<void>) | undefined;
      if (hook === undefined) continue;
      try {
        await hook.call(hooks, event);
      } catch (error) {
        this.#log.warn({ hook: name, err: error }, 'a lifecycle hook failed; the run goes on');
      }
    }
  }

  async #drive(): Promise<RunOutcome> {
    const leaseTtl = this.#engine.options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    const renew = setInterval(
      () => {
        if (this.#renewing) return;
        this.#renewing = true;
        this.#patiently(() => this.takeLease())
          .catch((error: unknown) => this.#fail(error))
          .finally(() => (this.#renewing = false));
      },
      Math.max(50, leaseTtl / 3),
    );
    renew.unref();
    const pollMs = this.#engine.options.pollMs ?? 200;
    try {
      await this.#journal([
        {
          type: RECORD.runDriven,
          actor: this.#mode.by,
          data: { pid: process.pid, host: hostname(), resumed: this.#mode.resumed },
        },
      ]);
      await this.#hook('onRunStart', { ...this.#event, resumed: this.#mode.resumed });
      await this.#skipChosen();
      await this.#recoverInFlight();
      for (;;) {
        if (this.#fatal !== undefined) throw this.#fatal;
        const outcome = await this.#turn();
        if (outcome !== undefined) {
          await this.#hook('onRunComplete', {
            ...this.#event,
            status: outcome.status,
            durationMs: outcome.durationMs,
          });
          return outcome;
        }
        if (this.#fatal !== undefined) throw this.#fatal;
        const quiet = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), pollMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        this.#wake = undefined;
        // read operator input when idle for a poll interval, and now and then while steps keep finishing
        if (quiet || (this.#turns += 1) % 64 === 0) await this.#pollInputs();
      }
    } catch (error) {
      for (const controller of this.#running.values())
        controller.abort(new AbandonedSignal('the driver lost the run'));
      throw error;
    } finally {
      clearInterval(renew);
      for (const timer of this.#retryTimers.values()) clearTimeout(timer);
      this.#finished = true;
      await this.#writeChain;
      await this.#store.releaseLease(this.runId, this.#owner).catch(() => undefined);
    }
  }

  #turns = 0;

  async #skipChosen(): Promise<void> {
    for (const [id, reason] of this.#mode.skip ?? []) {
      const execution = this.#executions.get(id);
      if (execution === undefined || this.#state.steps.get(id)?.status !== 'pending') continue;
      await this.#journal([
        { type: RECORD.stepSkipped, step: id, actor: ENGINE_ACTOR, data: { by: this.#mode.by, reason } },
      ]);
      await this.#hook('onStepComplete', {
        ...this.#event,
        step: execution.step,
        status: 'skipped',
        summary: `skipped: ${reason}`,
        actualMs: 0,
      });
    }
  }

  #fail(error: unknown): void {
    this.#fatal ??= error;
    this.#poke();
  }

  /**
   * Steps that were in flight when the previous driver died: re-run when idempotent, else ask. Neither
   * happens before the processes the step had started are known to be gone (see `#endOldProcesses`).
   */
  async #recoverInFlight(): Promise<void> {
    for (const step of this.#state.steps.values()) {
      if (step.status === 'running') {
        const processes = await this.#endOldProcesses(step);
        await this.#journal(interruptedRecords(step, step.attempts, [], undefined, processes));
        if (!step.snapshot.idempotent) await this.#notifyWaiting(step.snapshot.id);
      } else if (step.status === 'retrying') {
        this.#scheduleRetry(step);
      }
    }
  }

  /**
   * The former driver's step processes die with it (their guard, src/system/guarded-spawn.ts), but that
   * driver may only be paused, or its guard may still be ending them: on this host, end what is left of
   * each group and wait until it is gone; on another host nothing can be seen from here, so wait out the
   * guard's grace and say so in the journal.
   */
  async #endOldProcesses(step: StepState): Promise<'gone' | 'unknown' | undefined> {
    if (step.processes.length === 0) return undefined;
    let unknown = false;
    for (const old of step.processes) {
      if (processGroupGone(old) === undefined) unknown = true;
      else if (await endProcessGroup(old, GUARD_GRACE_MS))
        this.#log.info({ step: step.snapshot.id, pid: old.pid }, "the former driver's step process is gone");
    }
    if (unknown) await sleep(2 * GUARD_GRACE_MS);
    return unknown ? 'unknown' : 'gone';
  }

  #scheduleRetry(step: StepState): void {
    const id = step.snapshot.id;
    const delay = Math.max(0, (step.retryAt?.getTime() ?? 0) - Date.now());
    const timer = setTimeout(() => {
      this.#retryTimers.delete(id);
      this.#attention.add(id);
      this.#poke();
    }, delay);
    this.#retryTimers.set(id, timer);
  }

  /** One look at the run: turn inputs into transitions, start what can start, finish when done. */
  async #turn(): Promise<RunOutcome | undefined> {
    const state = this.#state;
    if (state.finishedAt !== undefined) return this.#outcome(state.status);
    if (this.#stopping) return this.#running.size > 0 ? undefined : this.#outcome(state.status);
    if (state.cancelRequested) return this.#cancelTurn();

    for (const id of [...this.#attention]) {
      this.#attention.delete(id);
      const step = state.steps.get(id);
      if (step === undefined) continue;
      if (step.status === 'waiting') await this.#answerWaiting(step);
      else if (
        step.status === 'retrying' &&
        !this.#running.has(id) &&
        !this.#retryTimers.has(id) &&
        !state.stopping
      ) {
        if ((step.retryAt?.getTime() ?? 0) <= Date.now()) this.#startAttempt(step);
        else this.#scheduleRetry(step);
      }
    }

    if (state.stopping) {
      if (this.#running.size > 0) return undefined;
      if (state.stopping === 'rollback') return this.#rollback();
      return this.#finish('failed', `step ${state.stoppedBecause ?? '?'} failed`);
    }

    while (this.#running.size < this.#parallel && this.#ready.length > 0) {
      const id = this.#ready.shift() as string;
      this.#queued.delete(id);
      const step = state.steps.get(id);
      if (step?.status !== 'pending' || this.#running.has(id)) continue;
      if (this.#childStopped(id)) continue;
      this.#startAttempt(step);
    }
    for (const [child, stopped] of state.stoppedChildren) {
      if (stopped.how === 'rollback' && !stopped.rolledBack && !this.#childRunning(child))
        await this.#rollbackChild(child, stopped.because);
    }
    if (this.#running.size > 0 || this.#retryTimers.size > 0 || this.#ready.length > 0) return undefined;

    let waiting = 0;
    let open = 0;
    for (const step of state.steps.values()) {
      if (step.status === 'waiting') waiting += 1;
      if (!isFinal(step.status)) open += 1;
    }
    if (open === 0) {
      const failed =
        state.toleratedFailure || [...state.steps.values()].some((step) => step.status === 'failed');
      return this.#finish(
        failed ? 'failed' : 'succeeded',
        failed ? 'a step failed under on_failure: continue' : undefined,
      );
    }
    if (waiting > 0 && this.#mode.returnWhenWaiting) return this.#outcome('waiting');
    if (waiting === 0 && this.#attention.size === 0) {
      // nothing runs, nothing waits for people and nothing can start: the graph cannot go on
      const stopped = [...state.stoppedChildren].map(([child, why]) => `${child} (step ${why.because})`);
      return this.#finish(
        'failed',
        stopped.length > 0
          ? `child ${stopped.join(', ')} failed; what depends on it did not start`
          : 'no step can start: their needs failed',
      );
    }
    return undefined;
  }

  async #cancelTurn(): Promise<RunOutcome | undefined> {
    if (!this.#cancelling) {
      this.#cancelling = true;
      for (const timer of this.#retryTimers.values()) clearTimeout(timer);
      this.#retryTimers.clear();
      for (const controller of this.#running.values())
        controller.abort(new CancelledSignal('the run was cancelled'));
    }
    if (this.#running.size > 0) return undefined;
    return this.#finish('cancelled', `cancelled by ${this.#state.cancelRequested?.by ?? '?'}`);
  }

  async #answerWaiting(step: StepState): Promise<void> {
    const id = step.snapshot.id;
    const execution = this.#executions.get(id);
    if (step.waitingFor === 'approval') {
      if (step.rejectedBy !== undefined) {
        await this.#failStep(
          step,
          1,
          new DrctlError('DRCTL_APPROVAL_REJECTED', `step ${id} was rejected by ${step.rejectedBy}`),
          [],
          true,
        );
      } else if (step.approvedBy.length >= (step.snapshot.approval?.quorum ?? 1)) {
        await this.#succeed(step, [], `approved by ${step.approvedBy.join(', ')}`);
      }
    } else if (step.waitingFor === 'confirmation') {
      if (step.confirmedBy !== undefined)
        await this.#succeed(step, [], `confirmed done by ${step.confirmedBy}`);
    } else if (step.waitingFor === 'decision' && step.decision !== undefined && execution) {
      const { choice, by } = step.decision;
      if (choice === 'retry') this.#startAttempt(step);
      else if (choice === 'done') await this.#succeed(step, [], `marked done by ${by}`);
      else if (choice === 'skip') {
        await this.#journal([{ type: RECORD.stepSkipped, step: id, actor: ENGINE_ACTOR, data: { by } }]);
        await this.#hook('onStepComplete', {
          ...this.#event,
          step: execution.step,
          status: 'skipped',
          summary: `skipped by ${by}`,
          actualMs: step.activeMs,
        });
      } else if (choice === 'abort') {
        await this.#journal([
          {
            type: RECORD.stepFailed,
            step: id,
            actor: ENGINE_ACTOR,
            data: {
              attempt: step.attempts,
              code: 'DRCTL_STEP_ABORTED',
              message: `aborted by ${by}`,
              final: true,
              aborted: true,
            } satisfies StepFailureData & { aborted: true },
          },
        ]);
      }
    }
  }

  async #succeed(
    step: StepState,
    before: JournalInput[],
    summary: string,
    output?: Record<string, unknown>,
  ): Promise<void> {
    const id = step.snapshot.id;
    const next = this.#startableAfter(step);
    try {
      await this.#journal([
        ...before,
        {
          type: RECORD.stepSucceeded,
          step: id,
          actor: ENGINE_ACTOR,
          data: { attempt: step.attempts, summary, ...(output ? { output } : {}) },
        },
        ...next.map((ready) => startedRecord(ready.step.snapshot.id, ready.step.attempts + 1)),
      ]);
    } catch (error) {
      for (const ready of next) this.#running.delete(ready.step.snapshot.id);
      throw error;
    }
    const execution = this.#executions.get(id);
    if (execution)
      await this.#hook('onStepComplete', {
        ...this.#event,
        step: execution.step,
        status: 'succeeded',
        summary,
        actualMs: step.activeMs,
      });
    for (const ready of next) this.#startAttempt(ready.step, ready.controller);
  }

  /**
   * The steps that may start once `done` succeeds, the next of a chain or the queued ones of a fan-out,
   * up to the parallel limit: their `step-started` goes into the same append as its `step-succeeded`
   * (one commit per step instead of two). They are reserved in `#running` at once, so no turn starts
   * them meanwhile. Steps that wait for people start on their own, as before.
   */
  #startableAfter(done: StepState): Array<{ step: StepState; controller: AbortController }> {
    const state = this.#state;
    if (this.#stopping || this.#fatal !== undefined || state.stopping || state.cancelRequested) return [];
    const unblocked = (this.#dependents.get(done.snapshot.id) ?? []).filter(
      (id) => this.#unmet.get(id) === 1,
    );
    const next: Array<{ step: StepState; controller: AbortController }> = [];
    // a step that finishes its attempt still counts in #running until the attempt returns
    let free = this.#parallel - this.#running.size + (this.#running.has(done.snapshot.id) ? 1 : 0);
    for (const id of [...this.#ready, ...unblocked]) {
      if (free <= 0) break;
      const step = state.steps.get(id);
      const kind = this.#executions.get(id)?.step.kind;
      if (step?.status !== 'pending' || this.#running.has(id) || this.#childStopped(id)) continue;
      if (kind === undefined || kind === 'approval' || kind === 'manual') continue;
      const controller = new AbortController();
      this.#running.set(id, controller);
      next.push({ step, controller });
      free -= 1;
    }
    return next;
  }

  async #notifyWaiting(id: string): Promise<void> {
    const step = this.#state.steps.get(id);
    const execution = this.#executions.get(id);
    if (step?.waitingFor === undefined || execution === undefined) return;
    await this.#hook('onStepWaiting', {
      ...this.#event,
      step: execution.step,
      for: step.waitingFor,
      escalateTo: step.escalatedTo,
    });
  }

  /** Starts an attempt; `reserved` is given when its `step-started` is already written (`#startableAfter`). */
  #startAttempt(step: StepState, reserved?: AbortController): void {
    const id = step.snapshot.id;
    const controller = reserved ?? new AbortController();
    this.#running.set(id, controller);
    this.#attempt(step, controller, reserved !== undefined)
      .catch((error: unknown) => this.#fail(error))
      .finally(() => {
        this.#running.delete(id);
        this.#attention.add(id);
        this.#poke();
      });
  }

  #context(step: Step, signal: AbortSignal, evidence: JournalInput[]): ActionContext {
    return {
      signal,
      log: this.#log.child({ step: step.id }),
      plan: this.#plan,
      stateDir: this.#engine.options.stateDir,
      processStarted: (started) => {
        this.#journal([
          { type: RECORD.stepProcess, step: step.id, actor: ENGINE_ACTOR, data: { ...started } },
        ]).catch((error: unknown) => this.#fail(error));
      },
      runId: this.runId,
      stepId: step.id,
      evidence: (name, value) => {
        const capped = capEvidence(this.#redactor.value(value), this.#evidenceLimit);
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

  async #attempt(step: StepState, controller: AbortController, started = false): Promise<void> {
    const id = step.snapshot.id;
    const execution = this.#executions.get(id);
    if (execution === undefined) throw new Error(`step ${id} is in the run but not in the plan`);
    const planStep = execution.step;
    const attempt = started ? step.attempts : step.attempts + 1;
    if (planStep.kind === 'approval' || planStep.kind === 'manual') {
      await this.#journal([
        startedRecord(id, attempt),
        {
          type: RECORD.stepWaiting,
          step: id,
          actor: ENGINE_ACTOR,
          data: { for: planStep.kind === 'approval' ? 'approval' : 'confirmation' },
        },
      ]);
      await this.#hook('onStepStart', { ...this.#event, step: planStep, attempt });
      await this.#notifyWaiting(id);
      return;
    }
    if (!started) await this.#journal([startedRecord(id, attempt)]);
    await this.#hook('onStepStart', { ...this.#event, step: planStep, attempt });
    const evidence: JournalInput[] = [];
    const timeout =
      planStep.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            controller.abort(
              new DrctlError(
                'DRCTL_STEP_TIMEOUT',
                `step ${id} did not finish within ${planStep.timeoutMs}ms`,
              ),
            );
          }, planStep.timeoutMs);
    const ctx = this.#context(planStep, controller.signal, evidence);
    try {
      // a step started beside its predecessor's success may have been cancelled before it got here
      if (controller.signal.aborted) throw controller.signal.reason;
      let summary = 'done';
      let output: Record<string, unknown> | undefined;
      if (execution.action) {
        const result = await execution.action.definition.run(execution.action.params, ctx);
        summary = result.summary;
        output = result.output;
      } else if (planStep.kind === 'wait') {
        summary = await this.#wait(step, planStep, ctx, evidence);
      }
      if (controller.signal.aborted) throw controller.signal.reason;
      let failedCheck: string | undefined;
      for (const check of planStep.validate) {
        const outcome = await runCheck(check, {
          providers: this.#engine.options.providers,
          plan: this.#plan,
          ctx,
        });
        evidence.push(checkRecord(id, outcome));
        if (!outcome.ok && failedCheck === undefined) failedCheck = `${outcome.name}: ${outcome.message}`;
      }
      if (controller.signal.aborted) throw controller.signal.reason;
      if (failedCheck !== undefined) {
        throw new DrctlError(
          'DRCTL_STEP_VALIDATION_FAILED',
          `step ${id}: validation failed (${failedCheck})`,
        );
      }
      if (planStep.kind === 'check') summary = `${planStep.validate.length} check(s) passed`;
      await this.#succeed(step, evidence, summary, output);
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
      if (reason instanceof AbandonedSignal) return;
      if (reason instanceof StoppedSignal) {
        await this.#journal(interruptedRecords(step, attempt, evidence, reason.message));
        return;
      }
      if (reason instanceof CancelledSignal) {
        await this.#journal([
          ...evidence,
          {
            type: RECORD.stepCancelled,
            step: id,
            actor: ENGINE_ACTOR,
            data: { attempt, reason: reason.message },
          },
        ]);
        return;
      }
      await this.#failStep(step, attempt, reason, evidence, false);
    } finally {
      if (timeout) clearTimeout(timeout);
    }
  }

  async #wait(
    step: StepState,
    planStep: Step,
    ctx: ActionContext,
    evidence: JournalInput[],
  ): Promise<string> {
    const wait = planStep.wait;
    const startedAt = step.firstStartedAt?.getTime() ?? Date.now();
    if (wait?.forMs !== undefined) {
      // measured from the first start, so a resumed wait does not start over
      const left = startedAt + wait.forMs - Date.now();
      if (left > 0) await sleep(left, undefined, { signal: ctx.signal });
      return `waited ${wait.forMs}ms`;
    }
    if (wait?.until === undefined) return 'nothing to wait for';
    for (let round = 1; ; round += 1) {
      const outcome = await runCheck(wait.until, {
        providers: this.#engine.options.providers,
        plan: this.#plan,
        ctx,
      });
      if (outcome.ok) {
        evidence.push(checkRecord(planStep.id, outcome));
        return `condition met after ${round} check(s)`;
      }
      if (wait.deadlineMs !== undefined && Date.now() + wait.everyMs > startedAt + wait.deadlineMs) {
        evidence.push(checkRecord(planStep.id, outcome));
        throw new DrctlError(
          'DRCTL_WAIT_DEADLINE',
          `step ${planStep.id}: "${outcome.name}" did not pass within ${wait.deadlineMs}ms (${outcome.message})`,
        );
      }
      await sleep(wait.everyMs, undefined, { signal: ctx.signal });
    }
  }

  async #failStep(
    step: StepState,
    attempt: number,
    error: unknown,
    evidence: JournalInput[],
    noRetry: boolean,
  ): Promise<void> {
    const id = step.snapshot.id;
    const execution = this.#executions.get(id);
    const planStep = execution?.step;
    const code = error instanceof DrctlError ? error.code : 'DRCTL_STEP_FAILED';
    const message = this.#redactor.text(error instanceof Error ? error.message : String(error));
    const retries = planStep?.retries ?? { attempts: 0, backoffMs: 0, maxBackoffMs: 0 };
    const final = noRetry || step.failures + 1 > retries.attempts;
    const retryInMs = final
      ? undefined
      : Math.min(retries.maxBackoffMs, retries.backoffMs * 2 ** step.failures);
    const failure: StepFailureData = {
      attempt,
      code,
      message,
      final,
      ...(retryInMs === undefined ? {} : { retryInMs }),
      ...(code === 'DRCTL_STEP_TIMEOUT' ? { timedOut: true } : {}),
    };
    const records: JournalInput[] = [
      ...evidence,
      { type: RECORD.stepFailed, step: id, actor: ENGINE_ACTOR, data: { ...failure } },
    ];
    const escalate = final && step.snapshot.onFailure === 'escalate';
    if (escalate) {
      records.push({
        type: RECORD.stepWaiting,
        step: id,
        actor: ENGINE_ACTOR,
        data: {
          for: 'decision',
          reason: 'escalated',
          options: ['retry', 'skip', 'abort'] satisfies Decision[],
          ...(step.snapshot.escalateTo ? { escalateTo: step.snapshot.escalateTo } : {}),
        },
      });
    }
    this.#log.warn({ step: id, attempt, code, final }, message);
    await this.#journal(records);
    if (planStep) {
      await this.#hook('onStepError', {
        ...this.#event,
        step: planStep,
        attempt,
        code,
        message,
        final,
        escalateTo: step.snapshot.escalateTo,
      });
    }
    if (escalate) await this.#notifyWaiting(id);
    if (!final) this.#scheduleRetry(step);
  }

  #childStopped(stepId: string): boolean {
    const child = this.#state.created.site === undefined ? undefined : childOfStep(stepId);
    return child !== undefined && this.#state.stoppedChildren.has(child);
  }

  #childRunning(child: string): boolean {
    return [...this.#running.keys()].some((id) => childOfStep(id) === child);
  }

  /** A site run's child failed under `rollback`: undo its own finished steps; the other children go on. */
  async #rollbackChild(child: string, because: string): Promise<void> {
    await this.#journal([{ type: RECORD.rollbackStarted, actor: ENGINE_ACTOR, data: { because, child } }]);
    await this.#undo((step) => childOfStep(step.snapshot.id) === child);
  }

  /** Runs the undo of every finished step, newest first. */
  async #rollback(): Promise<RunOutcome> {
    const state = this.#state;
    if (state.rollback === 'none') {
      await this.#journal([
        {
          type: RECORD.rollbackStarted,
          actor: ENGINE_ACTOR,
          data: { because: state.stoppedBecause ?? null },
        },
      ]);
    }
    const undoFailed = await this.#undo(() => true);
    if (state.cancelRequested) return this.#finish('cancelled', 'cancelled during rollback');
    return this.#finish(
      undoFailed ? 'failed' : 'rolled-back',
      undoFailed
        ? 'an undo failed during rollback'
        : `rolled back after step ${state.stoppedBecause ?? '?'} failed`,
    );
  }

  /** Undoes the finished steps that `which` picks, newest first; true when an undo failed. */
  async #undo(which: (step: StepState) => boolean): Promise<boolean> {
    const state = this.#state;
    const done = [...state.steps.values()]
      .filter(
        (step) =>
          which(step) &&
          step.succeededSeq !== undefined &&
          step.snapshot.hasUndo &&
          (step.undo === 'none' || step.undo === 'running'),
      )
      .sort((a, b) => (b.succeededSeq ?? 0) - (a.succeededSeq ?? 0));
    let undoFailed = false;
    for (const step of done) {
      const execution = this.#executions.get(step.snapshot.id);
      const undo = execution?.undo;
      if (undo === undefined || execution === undefined) continue;
      if (state.cancelRequested) break;
      await this.#journal([
        {
          type: RECORD.undoStarted,
          step: step.snapshot.id,
          actor: ENGINE_ACTOR,
          data: { action: undo.name },
        },
      ]);
      const evidence: JournalInput[] = [];
      const controller = new AbortController();
      this.#running.set(step.snapshot.id, controller);
      try {
        const result = await undo.definition.run(
          undo.params,
          this.#context(execution.step, controller.signal, evidence),
        );
        await this.#journal([
          ...evidence,
          {
            type: RECORD.undoSucceeded,
            step: step.snapshot.id,
            actor: ENGINE_ACTOR,
            data: { summary: result.summary },
          },
        ]);
      } catch (error) {
        undoFailed = true;
        const message = this.#redactor.text(error instanceof Error ? error.message : String(error));
        await this.#journal([
          ...evidence,
          {
            type: RECORD.undoFailed,
            step: step.snapshot.id,
            actor: ENGINE_ACTOR,
            data: { code: error instanceof DrctlError ? error.code : 'DRCTL_STEP_FAILED', message },
          },
        ]);
      } finally {
        this.#running.delete(step.snapshot.id);
      }
    }
    return undoFailed;
  }

  async #finish(status: RunStatus, reason: string | undefined): Promise<RunOutcome> {
    const records: JournalInput[] = [];
    for (const step of this.#state.steps.values()) {
      if (step.status === 'waiting' || step.status === 'retrying' || step.status === 'running') {
        records.push({
          type: RECORD.stepCancelled,
          step: step.snapshot.id,
          actor: ENGINE_ACTOR,
          data: { reason: `the run ended ${status}` },
        });
      }
    }
    const durationMs = Date.now() - this.#state.createdAt.getTime();
    records.push({
      type: RECORD.runFinished,
      actor: ENGINE_ACTOR,
      data: { status, durationMs, ...(reason ? { reason } : {}) },
    });
    await this.#journal(records, status);
    return { runId: this.runId, status, durationMs };
  }

  #outcome(status: RunStatus): RunOutcome {
    return { runId: this.runId, status, durationMs: Date.now() - this.#state.createdAt.getTime() };
  }
}

/** A step found or left in flight: re-run when idempotent, else wait for a person's decision. */
function interruptedRecords(
  step: StepState,
  attempt: number,
  evidence: JournalInput[],
  reason?: string,
  processes?: 'gone' | 'unknown',
): JournalInput[] {
  const rerun = step.snapshot.idempotent;
  const records: JournalInput[] = [
    ...evidence,
    {
      type: RECORD.stepInterrupted,
      step: step.snapshot.id,
      actor: ENGINE_ACTOR,
      data: {
        attempt,
        idempotent: rerun,
        rerun,
        ...(reason === undefined ? {} : { reason }),
        ...(processes === undefined ? {} : { processes }),
      },
    },
  ];
  if (!rerun) {
    records.push({
      type: RECORD.stepWaiting,
      step: step.snapshot.id,
      actor: ENGINE_ACTOR,
      data: {
        for: 'decision',
        reason: 'interrupted',
        options: ['retry', 'done', 'abort'] satisfies Decision[],
      },
    });
  }
  return records;
}

function checkRecord(
  step: string,
  outcome: { name: string; ok: boolean; message: string; observed?: unknown; durationMs: number },
): JournalInput {
  return {
    type: RECORD.check,
    step,
    actor: ENGINE_ACTOR,
    data: {
      name: outcome.name,
      ok: outcome.ok,
      message: outcome.message,
      durationMs: outcome.durationMs,
      ...(outcome.observed === undefined ? {} : { observed: outcome.observed }),
    },
  };
}

function startedRecord(step: string, attempt: number): JournalInput {
  return { type: RECORD.stepStarted, step, actor: ENGINE_ACTOR, data: { attempt } };
}
