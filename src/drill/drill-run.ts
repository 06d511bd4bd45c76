/**
 * One drill of the sites while it runs: what its phases (runner.ts) share — the scenario, the sites, the
 * state store, the engine, the timeline and findings, the runs it drove — and what it started, which
 * `DrillStarted.stop` stops whatever happens.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Engine } from '../engine/index.ts';
import type { RunDriver } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import type { Monitor } from '../monitor/index.ts';
import { Communications } from '../notify/index.ts';
import type { Scenario, Workload } from '../plan/model.ts';
import { providers } from '../providers/index.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import type { CanaryRun } from './canary.ts';
import { now, sleep } from './clock.ts';
import { DrillEnvironment } from './environment.ts';
import { ExistingSites, preflightExisting } from './existing.ts';
import type { DrillSites } from './existing.ts';
import { ownSites } from './own-sites.ts';
import type { ProberRun } from './prober.ts';
import { DrillControls, newDrillId, stepsNotChosen } from './rehearsal.ts';
import type { DrillEventInput, DrillFinding } from './report.ts';
import type { DrillOptions } from './runner.ts';
import type { Safety } from './safety.ts';
import { NETWORK_FAULTS } from './scenario.ts';

/** What a drill started, each stopped (in this order) when it ends, however it ends. */
export class DrillStarted {
  sites: DrillSites | undefined;
  store: RunStore | undefined;
  controls: DrillControls | undefined;
  announcer: Communications | undefined;
  safety: Safety | undefined;
  canary: CanaryRun | undefined;
  prober: ProberRun | undefined;
  monitor: Monitor | undefined;
  readonly drivers: RunDriver[] = [];
  readonly liftTimers: NodeJS.Timeout[] = [];
  /** Leave the sites running for the caller (keepUp). */
  keep = false;

  async stop(): Promise<void> {
    await this.safety?.stop();
    for (const timer of this.liftTimers) clearTimeout(timer);
    await this.canary?.stop();
    await this.prober?.stop();
    await this.monitor?.stop();
    // a run still going when the drill ends (deadline, Ctrl-C) is cancelled, never left half-driven
    for (const driver of this.drivers) {
      await driver.cancel('drill', 'the drill ended').catch(() => undefined);
      await within(
        driver.done.catch(() => undefined),
        5_000,
        undefined,
      );
    }
    // the end of the run reaches the status page before the store closes
    await this.announcer?.tick().catch(() => undefined);
    await this.announcer?.stop();
    await this.controls?.finish().catch(() => undefined);
    await this.store?.close();
    // whatever happened, no fault outlives the drill
    if (!this.keep) await this.sites?.close();
  }
}

export class DrillRun {
  readonly options: DrillOptions;
  readonly scenario: Scenario;
  readonly workload: Workload;
  readonly stateDir: string;
  readonly log: Logger;
  readonly started: DrillStarted;
  readonly sites: DrillSites;
  /** The environment the drill brought up; none when it drills one as it runs. */
  readonly environment: DrillEnvironment | undefined;
  readonly store: RunStore;
  readonly controls: DrillControls;
  readonly engine: Engine;
  /** What the existing environment's preflight checked. */
  readonly preflight: string[];
  /** Steps of the failover runbook left out (--steps), with why. */
  readonly skip: Map<string, string> | undefined;
  readonly events: DrillEventInput[] = [];
  readonly findings: DrillFinding[] = [];
  /** Lifts of the faults still in force; each lifts once, whoever asks first. */
  readonly pendingLifts: (() => Promise<void>)[] = [];
  /** When the first fault went in: detection and recovery are measured from it. */
  faultAt: number | undefined;
  /** When the monitor confirmed a site lost. */
  detectedAt: number | undefined;
  /** The monitor confirmed a loss and its failover run has not started (nor been refused) yet. */
  failoverStarting = false;
  /** Called when a step waits for an approval: the failback grants its own. */
  onWaiting: ((runId: string, step: string) => void) | undefined;

  private constructor(
    parts: Pick<
      DrillRun,
      | 'options'
      | 'scenario'
      | 'workload'
      | 'stateDir'
      | 'log'
      | 'started'
      | 'sites'
      | 'environment'
      | 'store'
      | 'controls'
      | 'preflight'
      | 'skip'
    >,
  ) {
    this.options = parts.options;
    this.scenario = parts.scenario;
    this.workload = parts.workload;
    this.stateDir = parts.stateDir;
    this.log = parts.log;
    this.started = parts.started;
    this.sites = parts.sites;
    this.environment = parts.environment;
    this.store = parts.store;
    this.controls = parts.controls;
    this.preflight = parts.preflight;
    this.skip = parts.skip;
    this.engine = this.#engine();
  }

  /**
   * Prepares a drill: brings the sites up (or takes the existing ones after their preflight), opens the
   * state store, registers the drill for `drctl drill continue|note` and builds its engine. Whatever was
   * started is recorded in `started`, for the caller to stop, also when this throws.
   */
  static async open(
    options: DrillOptions,
    scenario: Scenario,
    workload: Workload,
    started: DrillStarted,
  ): Promise<DrillRun> {
    const log = options.log ?? pino({ level: 'silent' });
    const say = (line: string): void => options.onProgress?.(line);
    const stateDir = resolve(options.stateDir);
    const existing = scenario.environment === 'existing';
    if (existing)
      say(`drilling ${workload.id} as it runs (nothing is brought up) for scenario ${scenario.id}`);
    const environment = existing ? undefined : await bringUp(options, scenario, workload, stateDir, log);
    const sites = (started.sites =
      environment === undefined
        ? new ExistingSites({ plan: options.plan, workload, scenario, stateDir, drill: drillIdOf(scenario) })
        : ownSites(environment));
    interrupted(options);
    const plan = sites.plan;
    const store = (started.store = await openStore(stateDir));
    const preflight = existing
      ? await preflightExisting({
          plan,
          scenario,
          workload,
          stateDir,
          store,
          approvedBy: options.approvedBy,
          say,
        })
      : [];
    say(
      existing
        ? `preflight passed (${preflight.join(', ')}); front door ${sites.url}`
        : `sites up; front door ${sites.url}`,
    );
    const runbook = workload.runbooks.find((r) => r.name === scenario.runbook);
    const skip =
      options.steps === undefined || runbook === undefined
        ? undefined
        : stepsNotChosen(runbook, options.steps);
    const controls = (started.controls = await DrillControls.open(store, {
      id: newDrillId(scenario.id),
      scenario: scenario.id,
      workload: workload.id,
    }));
    options.onStart?.(controls.id);
    // an announced drill is communicated like the real thing: an incident on the status page, messages
    // a drill that is not announced still speaks on the plan's test channels, if it has any
    if (scenario.announce || plan.communications.channels.some((c) => c.test)) {
      started.announcer = new Communications({ store, plans: () => [plan], logger: log });
      started.announcer.start();
    }
    return new DrillRun({
      ...{ options, scenario, workload, stateDir, log, started, sites, environment },
      ...{ store, controls, preflight, skip },
    });
  }

  say(line: string): void {
    this.options.onProgress?.(line);
  }

  /** A moment on the drill's timeline. */
  event(kind: DrillEventInput['kind'], detail: string, step?: string, runbook?: string): void {
    this.events.push({
      at: now(),
      kind,
      detail,
      ...(step === undefined ? {} : { step }),
      ...(runbook === undefined ? {} : { runbook }),
    });
  }

  /** Throws DRCTL_DRILL_INTERRUPTED once the caller aborted the drill (Ctrl-C). */
  interrupted(): void {
    interrupted(this.options);
  }

  #engine(): Engine {
    const announcer = this.started.announcer;
    return new Engine({
      store: this.store,
      providers,
      stateDir: this.stateDir,
      logger: this.log,
      // operator input (the failback's approvals) is read within 20 ms rather than the default 200
      pollMs: 20,
      hooks: [
        ...(announcer === undefined ? [] : [announcer.hooks]),
        {
          onStepStart: (e) => this.event('step-started', e.step.name, e.step.id, e.runbook),
          onStepWaiting: (e) => {
            if (e.for === 'approval') this.onWaiting?.(e.runId, e.step.id);
          },
          onStepComplete: (e) => {
            this.event('step-finished', e.summary, e.step.id, e.runbook);
            this.say(`  ✔ ${e.step.id} ${e.summary}`);
          },
          onStepError: (e) => {
            if (!e.final) return;
            this.event('step-failed', `${e.code}: ${e.message}`, e.step.id, e.runbook);
            this.say(`  ✖ ${e.step.id} ${e.code}: ${e.message}`);
          },
        },
      ],
    });
  }
}

function interrupted(options: DrillOptions): void {
  if (options.signal?.aborted)
    throw new DrctlError(
      'DRCTL_DRILL_INTERRUPTED',
      'the drill was interrupted; everything it started was stopped',
      {
        exitCode: 2,
      },
    );
}

function drillIdOf(scenario: Scenario): string {
  return `${scenario.id}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
}

/** The workload's environment, brought up with a fault proxy in front of every target of a network fault. */
async function bringUp(
  options: DrillOptions,
  scenario: Scenario,
  workload: Workload,
  stateDir: string,
  log: Logger,
): Promise<DrillEnvironment> {
  options.onProgress?.(`bringing up ${workload.id} (${workload.strategy}) for scenario ${scenario.id}`);
  return DrillEnvironment.create({
    plan: options.plan,
    workload: workload.id,
    stateDir,
    remapPorts: options.remapPorts === true,
    proxied: scenario.faults.filter((f) => NETWORK_FAULTS.has(f.kind)).map((f) => `${f.component}@${f.site}`),
    log,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
}

/** `work`'s value, or `fallback` after `ms` (or on abort); the timer never outlives the call. */
export async function within<T, F>(
  work: Promise<T>,
  ms: number,
  fallback: F,
  signal?: AbortSignal,
): Promise<T | F> {
  const stop = new AbortController();
  const signals = signal === undefined ? stop.signal : AbortSignal.any([stop.signal, signal]);
  try {
    return await Promise.race([work, sleep(ms, signals).then(() => fallback)]);
  } finally {
    stop.abort();
  }
}
