/**
 * The monitor: probes every watched workload's components at each site, feeds a site-loss detector per
 * workload, and applies the failover policy when a loss is confirmed. It does not own the engine: it asks
 * `startRunbook` to start the failover runbook, once per loss (latched), and says whether the start is
 * automatic. Failback is never started here.
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { DrctlError, UsageError } from '../errors.ts';
import type { Component, Plan, Probe, Runbook, Workload } from '../plan/model.ts';
import { SiteLossDetector } from './detector.ts';
import { probeOnce } from './probe.ts';
import type { DetectorTransition, SiteState } from './detector.ts';
import { probeTargets } from './readiness.ts';

export interface MonitorOptions {
  plan: Plan;
  /** Starts a runbook and returns its run id; the monitor does not own the engine. */
  startRunbook(request: {
    workload: string;
    runbook: string;
    reason: string;
    automatic: boolean;
  }): Promise<{ runId: string }>;
  logger?: Logger;
  /** Only these workloads. @default all */
  workloads?: string[];
  /**
   * How a started run is doing, so the latch can let a new failover start after one failed or was
   * cancelled. Without it, a started failover latches the workload until `reset()`.
   * @default none: latched until reset
   */
  runStatus?(runId: string): Promise<string | undefined>;
  /**
   * Failover runs already started (workload → run id), e.g. by an earlier monitor process, so a restarted
   * monitor does not fail over a second time. @default none
   */
  latched?: Record<string, string>;
  /**
   * With several monitors on one shared store (several `drctl serve` instances), whether this one leads a
   * workload now: only the leader starts its failover, the others report `failover-skipped` (`not-leader`)
   * and look again after a window, in case the leader is gone by then. @default this monitor leads every workload
   */
  leads?(workload: string): boolean;
}

export interface SiteLostEvent {
  workload: string;
  site: string;
  /** ms since epoch */
  firstFailureAt: number;
  /** ms since epoch */
  confirmedAt: number;
  reason: string;
}

export interface ProbeEvent {
  workload: string;
  component: string;
  site: string;
  ok: boolean;
  at: number;
  latencyMs: number;
  error?: string;
}

export interface SiteSuspectEvent {
  workload: string;
  site: string;
  component: string;
  firstFailureAt: number;
  at: number;
}

export interface SiteRecoveredEvent {
  workload: string;
  site: string;
  /** True when the loss had been confirmed; false for a transient that cleared. */
  wasLost: boolean;
  firstFailureAt: number;
  at: number;
  downMs: number;
}

export interface FailoverStartedEvent {
  workload: string;
  runId: string;
  automatic: boolean;
  at: number;
}

/** A confirmed loss that started nothing, and why. */
export interface FailoverSkippedEvent {
  workload: string;
  site: string;
  /**
   * `latched`: a failover already started; `no-runbook`: the workload has no failover runbook; `no-target`:
   * no other site answers; `not-leader`: another instance leads the workload and decides.
   */
  why: 'latched' | 'no-runbook' | 'no-target' | 'not-leader';
  runId?: string;
  reason: string;
  at: number;
}

export interface FailoverErrorEvent {
  workload: string;
  code: string;
  message: string;
  at: number;
}

/** Every event as one tagged union, for printing and recording. */
export type MonitorEvent =
  | ({ type: 'probe' } & ProbeEvent)
  | ({ type: 'probe-failed' } & ProbeEvent)
  | ({ type: 'site-suspect' } & SiteSuspectEvent)
  | ({ type: 'site-lost' } & SiteLostEvent)
  | ({ type: 'site-recovered' } & SiteRecoveredEvent)
  | ({ type: 'failover-started' } & FailoverStartedEvent)
  | ({ type: 'failover-skipped' } & FailoverSkippedEvent)
  | ({ type: 'failover-error' } & FailoverErrorEvent);

/** What one workload's watch looks like, for people and for `status()`. */
export interface WatchedWorkload {
  workload: string;
  automaticFailover: boolean;
  detectAfterMs: number;
  runbook: string | undefined;
  /** Sites whose loss starts a failover (a placement there is not a standby). */
  watchedSites: string[];
  sites: Record<string, SiteState>;
  /** The failover run this monitor started, while latched. */
  latchedRun: string | undefined;
}

/** One component's probe aimed at one site. */
export interface WatchTarget {
  workload: string;
  component: Component;
  probe: Probe;
  site: string;
  url: string | undefined;
  tcp: string | undefined;
}

interface Watch {
  workload: Workload;
  runbook: Runbook | undefined;
  detector: SiteLossDetector;
  watchedSites: string[];
  sites: string[];
  latch: { state: 'idle' } | { state: 'starting' } | { state: 'started'; runId: string };
  retryAfter: number;
}

/** Every probe of the workload aimed at a site (a probe that names no site cannot tell which site is lost). */
export function watchTargets(workload: Workload): WatchTarget[] {
  const targets: WatchTarget[] = [];
  for (const component of workload.components) {
    if (component.probe === undefined) continue;
    for (const target of probeTargets(component, component.probe)) {
      if (target.site === undefined) continue;
      targets.push({
        workload: workload.id,
        component,
        probe: component.probe,
        site: target.site,
        url: target.url,
        tcp: target.tcp,
      });
    }
  }
  return targets;
}

/** Finds the runbook the monitor starts: the one named `failover`, else the only one of kind failover. */
export function failoverRunbook(workload: Workload): Runbook | undefined {
  const named = workload.runbooks.find((r) => r.name === 'failover');
  if (named) return named;
  const ofKind = workload.runbooks.filter((r) => r.kind === 'failover');
  return ofKind.length === 1 ? ofKind[0] : undefined;
}

const FINAL_BAD = new Set(['failed', 'cancelled', 'rolled-back']);

export class Monitor {
  readonly #options: MonitorOptions;
  readonly #log: Logger;
  readonly #events = new EventEmitter();
  readonly #watches = new Map<string, Watch>();
  readonly #targets: WatchTarget[] = [];
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  #stopped: Promise<void> | undefined;

  private constructor(options: MonitorOptions) {
    this.#options = options;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'monitor' });
    // listeners are few and known; the default cap of 10 only adds noise
    this.#events.setMaxListeners(0);
  }

  /**
   * Starts probing at once. Throws DRCTL_MONITOR_UNKNOWN_WORKLOAD for a `workloads` entry the plan lacks and
   * DRCTL_MONITOR_NOTHING_TO_WATCH when no selected workload has a probe aimed at a site.
   */
  static start(options: MonitorOptions): Monitor {
    const monitor = new Monitor(options);
    monitor.#plan();
    monitor.#launch();
    return monitor;
  }

  on(event: 'site-lost', listener: (e: SiteLostEvent) => void): this;
  on(event: 'failover-started', listener: (e: FailoverStartedEvent) => void): this;
  on(event: 'probe', listener: (e: ProbeEvent) => void): this;
  on(event: 'probe-failed', listener: (e: ProbeEvent) => void): this;
  on(event: 'site-suspect', listener: (e: SiteSuspectEvent) => void): this;
  on(event: 'site-recovered', listener: (e: SiteRecoveredEvent) => void): this;
  on(event: 'failover-skipped', listener: (e: FailoverSkippedEvent) => void): this;
  on(event: 'failover-error', listener: (e: FailoverErrorEvent) => void): this;
  /** Every event, tagged with its type. */
  on(event: 'event', listener: (e: MonitorEvent) => void): this;
  on(event: string, listener: (e: never) => void): this {
    this.#events.on(event, listener as (e: unknown) => void);
    return this;
  }

  off(event: string, listener: (e: never) => void): this {
    this.#events.off(event, listener as (e: unknown) => void);
    return this;
  }

  /** What each workload's watch looks like now. */
  status(): WatchedWorkload[] {
    return [...this.#watches.values()].map((watch) => ({
      workload: watch.workload.id,
      automaticFailover: watch.workload.automaticFailover,
      detectAfterMs: watch.workload.detectAfterMs,
      runbook: watch.runbook?.name,
      watchedSites: watch.watchedSites,
      sites: Object.fromEntries(watch.sites.map((site) => [site, watch.detector.state(site)])),
      latchedRun: watch.latch.state === 'started' ? watch.latch.runId : undefined,
    }));
  }

  /** Lets the workload fail over again (after a failback, or once people have dealt with the last run). */
  reset(workload: string): void {
    const watch = this.#watches.get(workload);
    if (watch === undefined)
      throw new UsageError(
        'DRCTL_MONITOR_UNKNOWN_WORKLOAD',
        `the monitor does not watch workload ${workload}`,
      );
    this.#log.info({ workload, latch: watch.latch }, 'failover latch reset');
    watch.latch = { state: 'idle' };
  }

  /** Stops probing and waits for probes and run starts in flight; never cancels a run. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#abort.abort();
      await Promise.allSettled(this.#loops);
      await Promise.allSettled([...this.#pending]);
      this.#log.info({}, 'monitor stopped');
    })();
    return this.#stopped;
  }

  #plan(): void {
    const { plan } = this.#options;
    const selected = this.#options.workloads;
    for (const id of selected ?? []) {
      if (!plan.workloads.some((w) => w.id === id)) {
        throw new UsageError('DRCTL_MONITOR_UNKNOWN_WORKLOAD', `the plan has no workload ${id}`, {
          hint: `workloads in this plan: ${plan.workloads.map((w) => w.id).join(', ') || 'none'}`,
        });
      }
    }
    for (const workload of plan.workloads) {
      if (selected !== undefined && !selected.includes(workload.id)) continue;
      const targets = watchTargets(workload);
      const sites = [...new Set(targets.map((t) => t.site))];
      const watchedSites = sites.filter((site) =>
        workload.components.some((c) => c.placement.some((p) => p.site === site && !p.standby)),
      );
      if (targets.length === 0 || watchedSites.length === 0) {
        this.#log.warn(
          { workload: workload.id },
          'no probe is aimed at a primary site of this workload; it is not watched',
        );
        continue;
      }
      if (sites.length < 2) {
        this.#log.warn(
          { workload: workload.id, sites },
          'probes reach only one site: a loss can never be confirmed (no other site is seen answering)',
        );
      }
      const probed = new Set(targets.map((t) => t.component.id));
      const detector = new SiteLossDetector({
        workload: workload.id,
        detectAfterMs: workload.detectAfterMs,
        components: workload.components
          .filter((c) => probed.has(c.id))
          .map((c) => ({ id: c.id, failures: c.probe?.failures ?? 1 })),
        watchedSites,
        sites,
      });
      const runbook = failoverRunbook(workload);
      if (runbook === undefined)
        this.#log.warn(
          { workload: workload.id },
          'workload has no failover runbook: a confirmed loss is reported, nothing is started',
        );
      const latchedRun = this.#options.latched?.[workload.id];
      this.#watches.set(workload.id, {
        workload,
        runbook,
        detector,
        watchedSites,
        sites,
        latch: latchedRun === undefined ? { state: 'idle' } : { state: 'started', runId: latchedRun },
        retryAfter: 0,
      });
      this.#targets.push(...targets);
      this.#log.info(
        {
          workload: workload.id,
          automatic: workload.automaticFailover,
          detectAfterMs: workload.detectAfterMs,
          sites,
          watchedSites,
          runbook: runbook?.name,
        },
        'watching workload',
      );
    }
    if (this.#watches.size === 0) {
      throw new UsageError(
        'DRCTL_MONITOR_NOTHING_TO_WATCH',
        `no workload of plan ${plan.name} has a probe aimed at one of its sites`,
        {
          hint: 'give a component a probe aimed at each placement: a path (/health) against placement urls, or {{port}} in the address',
        },
      );
    }
  }

  #launch(): void {
    for (const target of this.#targets) this.#loops.push(this.#loop(target));
  }

  /**
   * Probes start to start every interval, and a slow one does not hold back the next: a hung site then
   * fails a probe every interval once the first has timed out, not one per timeout. At most
   * `inFlightLimit` are out at once; at the limit, the next starts when one ends.
   */
  async #loop(target: WatchTarget): Promise<void> {
    const signal = this.#abort.signal;
    const limit = inFlightLimit(target.probe);
    const silentMs = silenceDeadline(
      target.probe,
      this.#watches.get(target.workload)?.workload.detectAfterMs,
    );
    const inFlight = new Set<Promise<void>>();
    while (!signal.aborted) {
      // every probe ends by its timeout, or at once on abort
      while (inFlight.size >= limit) await Promise.race(inFlight);
      if (signal.aborted) break;
      const startedAt = Date.now();
      const begun = performance.now();
      const silent =
        silentMs === undefined
          ? undefined
          : setTimeout(() => {
              if (!signal.aborted) this.#observeSilent(target, startedAt, silentMs);
            }, silentMs);
      const probe: Promise<void> = runProbe(target, signal)
        .catch((error: unknown) => ({
          ok: false,
          latencyMs: performance.now() - begun,
          message: error instanceof Error ? error.message : String(error),
        }))
        .then((result) => {
          clearTimeout(silent);
          if (!signal.aborted) this.#observe(target, startedAt, result);
        })
        .finally(() => inFlight.delete(probe));
      inFlight.add(probe);
      const wait = target.probe.intervalMs - (performance.now() - begun);
      if (wait > 0) await sleep(wait, signal);
    }
    await Promise.allSettled(inFlight);
  }

  /** A probe with no answer at its silence deadline counts as failed until its result comes. */
  #observeSilent(target: WatchTarget, startedAt: number, silentMs: number): void {
    const watch = this.#watches.get(target.workload);
    if (watch === undefined) return;
    const at = Date.now();
    this.#log.debug(
      { workload: target.workload, component: target.component.id, site: target.site, silentMs },
      'probe silent past its deadline',
    );
    for (const transition of watch.detector.observe({
      component: target.component.id,
      site: target.site,
      ok: false,
      startedAt,
      at,
    })) {
      this.#transition(watch, transition);
    }
  }

  #observe(
    target: WatchTarget,
    startedAt: number,
    result: { ok: boolean; latencyMs: number; message: string },
  ): void {
    const at = Date.now();
    const probe: ProbeEvent = {
      workload: target.workload,
      component: target.component.id,
      site: target.site,
      ok: result.ok,
      at,
      latencyMs: Math.round(result.latencyMs),
      ...(result.ok ? {} : { error: result.message }),
    };
    this.#emit('probe', probe);
    if (!result.ok) {
      this.#log.debug({ ...probe }, 'probe failed');
      this.#emit('probe-failed', probe);
    }
    const watch = this.#watches.get(target.workload);
    if (watch === undefined) return;
    for (const transition of watch.detector.observe({
      component: target.component.id,
      site: target.site,
      ok: result.ok,
      startedAt,
      at,
    })) {
      this.#transition(watch, transition);
    }
    this.#retryIfStillLost(watch, at);
  }

  #transition(watch: Watch, t: DetectorTransition): void {
    switch (t.type) {
      case 'site-suspect':
        this.#log.info(
          { workload: t.workload, site: t.site, component: t.component, firstFailureAt: t.firstFailureAt },
          'site suspect',
        );
        this.#emit('site-suspect', {
          workload: t.workload,
          site: t.site,
          component: t.component,
          firstFailureAt: t.firstFailureAt,
          at: t.at,
        });
        return;
      case 'site-recovered':
        this.#log.info(
          { workload: t.workload, site: t.site, wasLost: t.wasLost, downMs: t.downMs },
          t.wasLost ? 'site recovered; failback stays a controlled runbook' : 'transient fault cleared',
        );
        this.#emit('site-recovered', {
          workload: t.workload,
          site: t.site,
          wasLost: t.wasLost,
          firstFailureAt: t.firstFailureAt,
          at: t.at,
          downMs: t.downMs,
        });
        return;
      case 'site-unconfirmed':
        this.#log.warn(
          { workload: t.workload, site: t.site, reason: t.reason },
          'loss not confirmed: no other site answers, nothing to fail over to',
        );
        this.#emit('failover-skipped', {
          workload: t.workload,
          site: t.site,
          why: 'no-target',
          reason: t.reason,
          at: t.at,
        });
        return;
      case 'site-lost': {
        const event: SiteLostEvent = {
          workload: t.workload,
          site: t.site,
          firstFailureAt: t.firstFailureAt,
          confirmedAt: t.confirmedAt,
          reason: t.reason,
        };
        this.#log.warn({ ...event, detectMs: t.confirmedAt - t.firstFailureAt }, 'site lost');
        this.#emit('site-lost', event);
        this.#decide(watch, event);
        return;
      }
    }
  }

  /** A start that failed is tried again while the site stays lost, at most once per window. */
  #retryIfStillLost(watch: Watch, now: number): void {
    if (watch.latch.state !== 'idle' || watch.retryAfter === 0 || now < watch.retryAfter) return;
    const lost = watch.watchedSites.find((site) => watch.detector.state(site) === 'lost');
    if (lost === undefined) {
      watch.retryAfter = 0;
      return;
    }
    this.#decide(watch, {
      workload: watch.workload.id,
      site: lost,
      firstFailureAt: now,
      confirmedAt: now,
      reason: `${lost} still lost; trying the failover start again`,
    });
  }

  /** The policy: one failover per loss; automatic only where the workload allows it. */
  #decide(watch: Watch, lost: SiteLostEvent): void {
    const { workload, runbook } = watch;
    const at = Date.now();
    if (runbook === undefined) {
      this.#log.error(
        { workload: workload.id, site: lost.site },
        'site lost but the workload has no failover runbook',
      );
      this.#emit('failover-skipped', {
        workload: workload.id,
        site: lost.site,
        why: 'no-runbook',
        reason: 'the workload has no failover runbook',
        at,
      });
      return;
    }
    if (watch.latch.state !== 'idle') {
      const runId = watch.latch.state === 'started' ? watch.latch.runId : undefined;
      this.#log.info(
        { workload: workload.id, site: lost.site, runId },
        'failover already started; not starting another',
      );
      this.#emit('failover-skipped', {
        workload: workload.id,
        site: lost.site,
        why: 'latched',
        ...(runId === undefined ? {} : { runId }),
        reason: 'a failover run already started for this workload',
        at,
      });
      // the run may have failed since: let a new one start if the caller can tell
      if (runId !== undefined) this.#track(this.#unlatchIfFinishedBadly(watch, runId, lost));
      return;
    }
    if (this.#options.leads !== undefined && !this.#options.leads(workload.id)) {
      this.#log.info(
        { workload: workload.id, site: lost.site },
        'site lost; another instance leads this workload',
      );
      this.#emit('failover-skipped', {
        workload: workload.id,
        site: lost.site,
        why: 'not-leader',
        reason: 'another instance leads this workload and decides its failover',
        at,
      });
      // look again after a window: the leader may be gone by then
      watch.retryAfter = at + Math.max(workload.detectAfterMs, 1_000);
      return;
    }
    watch.latch = { state: 'starting' };
    const automatic = workload.automaticFailover;
    const reason = `site ${lost.site} lost: ${lost.reason}`;
    this.#log.warn(
      {
        workload: workload.id,
        site: lost.site,
        runbook: runbook.name,
        automatic,
        decision: automatic ? 'start failover' : 'open failover run waiting for activation approval',
      },
      'failover decision',
    );
    const start = this.#options
      .startRunbook({ workload: workload.id, runbook: runbook.name, reason, automatic })
      .then(({ runId }) => {
        watch.latch = { state: 'started', runId };
        watch.retryAfter = 0;
        this.#log.warn({ workload: workload.id, runId, automatic }, 'failover run started');
        this.#emit('failover-started', { workload: workload.id, runId, automatic, at: Date.now() });
      })
      .catch((error: unknown) => {
        watch.latch = { state: 'idle' };
        watch.retryAfter = Date.now() + Math.max(workload.detectAfterMs, 1_000);
        const code = error instanceof DrctlError ? error.code : 'DRCTL_MONITOR_START_FAILED';
        const message = error instanceof Error ? error.message : String(error);
        this.#log.error({ workload: workload.id, code, err: error }, 'failover run could not start');
        this.#emit('failover-error', { workload: workload.id, code, message, at: Date.now() });
      });
    this.#track(start);
  }

  async #unlatchIfFinishedBadly(watch: Watch, runId: string, lost: SiteLostEvent): Promise<void> {
    if (this.#options.runStatus === undefined) return;
    const status = await this.#options.runStatus(runId).catch(() => undefined);
    if (status === undefined || !FINAL_BAD.has(status)) return;
    if (watch.latch.state !== 'started' || watch.latch.runId !== runId) return;
    this.#log.warn(
      { workload: watch.workload.id, runId, status },
      'the last failover run did not succeed; a new one may start',
    );
    watch.latch = { state: 'idle' };
    this.#decide(watch, lost);
  }

  #track(promise: Promise<unknown>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  #emit(type: MonitorEvent['type'], event: object): void {
    // a listener that throws must not stop the probes
    try {
      this.#events.emit(type, event);
      this.#events.emit('event', { type, ...event });
    } catch (error) {
      this.#log.error({ err: error, event: type }, 'monitor listener threw');
    }
  }
}

/** Most probes of one target out at once. */
export const MAX_PROBES_IN_FLIGHT = 8;

/**
 * How many probes of one target may be out at once: enough for one to start every interval while each
 * runs to its timeout, never more than MAX_PROBES_IN_FLIGHT. A probe whose timeout is within its interval
 * never overlaps the next.
 */
export function inFlightLimit(probe: Pick<Probe, 'intervalMs' | 'timeoutMs'>): number {
  const needed = Math.ceil(probe.timeoutMs / Math.max(1, probe.intervalMs));
  return Math.max(1, Math.min(MAX_PROBES_IN_FLIGHT, needed));
}

/**
 * When a probe that has not answered counts as failed, before its own timeout: early enough that `failures`
 * probes started an interval apart are all counted by the end of the window, so a site that hangs is
 * confirmed after the window, like one that refuses. Never under half the timeout or one interval.
 * Undefined when that is the timeout itself (the plan's defaults): then only a timeout is a failure.
 */
export function silenceDeadline(
  probe: Pick<Probe, 'intervalMs' | 'timeoutMs' | 'failures'>,
  detectAfterMs: number | undefined,
): number | undefined {
  if (detectAfterMs === undefined) return undefined;
  const fits = detectAfterMs - (Math.max(1, probe.failures) - 1) * probe.intervalMs;
  const deadline = Math.max(fits, probe.intervalMs, probe.timeoutMs / 2);
  return deadline < probe.timeoutMs ? Math.round(deadline) : undefined;
}

/** One probe of one target. Never throws for what it observes. */
export async function runProbe(
  target: Pick<WatchTarget, 'url' | 'tcp' | 'probe'>,
  signal: AbortSignal,
): Promise<{ ok: boolean; latencyMs: number; message: string }> {
  const { ok, latencyMs, message } = await probeOnce(target, target.probe, signal);
  return { ok, latencyMs, message };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
