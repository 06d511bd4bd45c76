/**
 * The failover half of a drill of the sites, phase by phase: the client's traffic through the front door
 * until it is steady, the monitor watching the sites, the scenario's faults at their times, and the wait
 * until the failover run is done and the client writes again.
 */
import { randomBytes } from 'node:crypto';
import type { RunDriver } from '../engine/index.ts';
import { DrctlError } from '../errors.ts';
import { Monitor, engineRunbookStarter } from '../monitor/index.ts';
import type { Fault } from '../plan/model.ts';
import { Canary, measureOutage } from './canary.ts';
import type { CanaryResult, CanaryRun } from './canary.ts';
import { now, sleep } from './clock.ts';
import { within } from './drill-run.ts';
import type { DrillRun } from './drill-run.ts';
import { DRILL_ACTOR } from './failback.ts';
import { Prober } from './prober.ts';
import type { ProberRun } from './prober.ts';
import { rehearsalPausedMs } from './rehearsal.ts';
import { formatMs } from './report.ts';
import { Safety } from './safety.ts';
import { SITE_CUT } from './scenario.ts';

/** The client's traffic while the drill runs, and the safety that can cut the drill short. */
export interface Traffic {
  canary: CanaryRun;
  prober: ProberRun;
  safety: Safety;
  /** Ends every wait: the safety's abort or the caller's. */
  halt: AbortSignal;
  /** What every canary write's id starts with: the rows the drill looks up afterwards. */
  idPrefix: string;
}

/** The faults went in: from when, and until when the longest of them lasts. */
export interface Injected {
  start: number;
  faultAt: number;
  longestFaultMs: number;
}

/**
 * Arms the safety (from here on the drill can be aborted: every fault is undone at once, then the canary
 * stops), starts the canary writer and the prober through the front door, and waits for the steady state.
 */
export async function startTraffic(run: DrillRun): Promise<Traffic> {
  const { options, scenario, sites, started } = run;
  const safety = (started.safety = Safety.start({
    stateDir: run.stateDir,
    guards: scenario.guards,
    maxDurationMs: scenario.maxDurationMs,
    onAbort: async (abort) => {
      run.event('drill-aborted', abort.reason);
      run.say(`ABORTED: ${abort.reason}; undoing every fault`);
      await Promise.all([...run.pendingLifts.map((lift) => lift()), sites.undoFaults()]);
    },
  }));
  const halt =
    options.signal === undefined ? safety.signal : AbortSignal.any([safety.signal, options.signal]);
  const idPrefix = `canary-${randomBytes(4).toString('hex')}`;
  const canary = (started.canary = Canary.start({
    idPrefix,
    url: sites.url,
    path: sites.frontDoor.canary.writePath,
    intervalMs: options.canaryIntervalMs ?? 10,
  }));
  const prober = (started.prober = Prober.start({
    url: new URL(sites.frontDoor.canary.readPath, sites.url).toString(),
    intervalMs: 100,
  }));
  const warmup = options.warmupWrites ?? 50;
  const steady = await within(
    canary.waitForAcks(warmup).then(() => true),
    15_000,
    false,
    halt,
  );
  run.interrupted();
  if (!steady && safety.aborted === undefined) {
    const last = canary.failures.at(-1);
    throw new DrctlError(
      'DRCTL_DRILL_NO_TRAFFIC',
      `writes do not succeed through the front door before any fault (${canary.acks.length} of ${canary.sent} acknowledged)`,
      { hint: `the last failure was ${last?.reason ?? 'none'}; check ${sites.logsHint}`, exitCode: 2 },
    );
  }
  return { canary, prober, safety, halt, idPrefix };
}

/** Stops the canary writer; the drill's end no longer needs to. */
export async function stopCanary(run: DrillRun, traffic: Traffic): Promise<CanaryResult> {
  const result = await traffic.canary.stop();
  run.started.canary = undefined;
  return result;
}

/**
 * Starts the monitor with the drill's engine, once both sites answer so it knows what "up" looks like: a
 * confirmed loss starts the failover runbook (held first with --pause), each moment on the timeline.
 */
export function watchSites(run: DrillRun): void {
  const { options, scenario, workload, controls, store, skip } = run;
  const monitor = (run.started.monitor = Monitor.start({
    plan: run.sites.plan,
    workloads: [workload.id],
    logger: run.log,
    startRunbook: engineRunbookStarter(run.engine, run.sites.plan, {
      startedBy: DRILL_ACTOR,
      drill: { scenario: scenario.id, announce: scenario.announce },
      onRun: (driver) => run.started.drivers.push(driver),
      ...(skip === undefined ? {} : { skip }),
      ...(options.pause === true
        ? {
            beforeStart: async () => {
              const reason = 'after the fault, before the failover';
              run.event('note', `paused ${reason}`);
              run.say(`paused ${reason}; continue with: drctl drill continue ${controls.id}`);
              const pause = await controls.pause(reason, options.signal);
              run.event('note', `continued by ${pause.continuedBy ?? 'nobody'}`);
              run.say(`continued by ${pause.continuedBy ?? 'nobody'}`);
            },
          }
        : {}),
    }),
    runStatus: async (runId) => (await store.getRun(runId))?.status,
  }));
  monitor.on('site-lost', (e) => {
    run.detectedAt ??= e.confirmedAt;
    run.failoverStarting = true;
    run.event('detected', `site ${e.site} lost: ${e.reason}`);
    const faultAt = run.faultAt;
    run.say(
      `site ${e.site} lost (detected ${faultAt === undefined ? '' : `${formatMs(e.confirmedAt - faultAt)} after the fault`})`,
    );
  });
  monitor.on('failover-started', (e) => {
    run.failoverStarting = false;
    run.event(
      'note',
      `failover run ${e.runId} started (${e.automatic ? 'automatic' : 'waiting for activation'})`,
    );
    run.say(`failover run ${e.runId} started`);
  });
  monitor.on('failover-skipped', () => void (run.failoverStarting = false));
  monitor.on('failover-error', (e) => {
    run.failoverStarting = false;
    run.event('note', `failover could not start: ${e.code} ${e.message}`);
    run.say(`failover could not start: ${e.code} ${e.message}`);
  });
}

/** Injects the scenario's faults at their times; each one with a duration is lifted when it ends. */
export async function injectFaults(run: DrillRun, traffic: Traffic): Promise<Injected> {
  const { scenario, sites } = run;
  run.say(
    `steady: ${traffic.canary.acks.length} writes acknowledged; injecting ${scenario.faults.length} fault${scenario.faults.length === 1 ? '' : 's'}`,
  );
  const start = now();
  const byTime = new Map<number, Fault[]>();
  for (const fault of scenario.faults) byTime.set(fault.atMs, [...(byTime.get(fault.atMs) ?? []), fault]);
  let longestFaultMs = 0;
  for (const [atMs, faults] of [...byTime].sort((a, b) => a[0] - b[0])) {
    await sleep(Math.max(0, start + atMs - now()), traffic.halt);
    run.interrupted();
    if (traffic.safety.aborted !== undefined) break;
    const results = await Promise.all(faults.map((fault) => sites.inject(fault, traffic.halt)));
    for (const [index, result] of results.entries()) {
      const fault = faults[index]!;
      run.faultAt ??= result.at;
      run.event('fault-injected', result.detail);
      run.say(`fault: ${result.detail}`);
      if (SITE_CUT.has(fault.kind)) sites.siteLost(fault.site);
      if (result.lift === undefined) continue;
      const lift = liftOnce(run, fault, result.lift);
      run.pendingLifts.push(lift);
      if (fault.durationMs !== undefined) {
        longestFaultMs = Math.max(longestFaultMs, atMs + fault.durationMs);
        run.started.liftTimers.push(setTimeout(() => void lift(), fault.durationMs));
      }
    }
  }
  run.faultAt ??= start;
  return { start, faultAt: run.faultAt, longestFaultMs };
}

/** A fault's lift that runs once, whoever asks first (its timer, an abort, the failback), on the timeline. */
function liftOnce(run: DrillRun, fault: Fault, once: () => unknown): () => Promise<void> {
  let lifted: Promise<void> | undefined;
  return () =>
    (lifted ??= Promise.resolve()
      .then(once)
      .then(
        () => run.event('fault-lifted', `${fault.kind} ${fault.component}@${fault.site} lifted`),
        // the drill's end tries again, and a fault on a host expires there anyway
        (error: unknown) =>
          run.event('note', `${fault.kind} ${fault.component}@${fault.site} not lifted: ${String(error)}`),
      ));
}

/**
 * Waits until the failover runs are done and the client writes again (and a little longer, to show the
 * service stays up), the drill is aborted, or the deadline passes. Returns when the client recovered.
 */
export async function awaitRecovery(
  run: DrillRun,
  traffic: Traffic,
  injected: Injected,
): Promise<number | undefined> {
  const { options, scenario, workload } = run;
  const { faultAt, longestFaultMs } = injected;
  const deadlineMs = options.deadlineMs ?? Math.min(scenario.expect.rtoMs + 10_000, 120_000);
  const deadline = faultAt + Math.max(deadlineMs, longestFaultMs + 2_000);
  let recoveredAt: number | undefined;
  const settled = new Set<RunDriver>();
  for (;;) {
    run.interrupted();
    const drivers = run.started.drivers;
    for (const driver of drivers)
      if (!settled.has(driver))
        void driver.done.then(
          () => settled.add(driver),
          () => settled.add(driver),
        );
    const outage = measureOutage(traffic.canary, faultAt);
    const runsDone = !run.failoverStarting && drivers.every((d) => settled.has(d));
    const clientOk = outage.impacted
      ? outage.firstSuccess !== undefined
      : now() - faultAt > longestFaultMs + workload.detectAfterMs + 500;
    if (clientOk) recoveredAt ??= now();
    // a little more writing after recovery shows whether the service stays up
    if (clientOk && runsDone && now() - (recoveredAt ?? now()) >= 300) break;
    if (traffic.safety.aborted !== undefined) break;
    // time people held the drill paused does not count against the deadline
    if (now() > deadline + rehearsalPausedMs(run.controls.pauses)) {
      run.event('note', `deadline of ${formatMs(deadline - faultAt)} after the fault reached`);
      run.say(`deadline reached ${formatMs(deadline - faultAt)} after the fault`);
      break;
    }
    await sleep(20, traffic.halt);
  }
  return recoveredAt;
}
