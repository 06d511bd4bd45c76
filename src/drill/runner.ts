/**
 * The drill runner: one scenario of the plan, for real. It brings the workload's environment up
 * (environment.ts), starts the canary writer and the prober through the front door, starts the monitor with
 * an in-process engine on the state store (so a confirmed loss starts the failover runbook within
 * milliseconds), injects the scenario's faults at their times, waits for the failover run to finish and the
 * canary's writes to succeed again, then looks every acknowledged write up in the surviving database and
 * writes the report (JSON, HTML, and a row in the state store for trends). Definitions: docs/drills.md.
 *
 * The phases, in order: prepare (drill-run.ts), inject and measure the failover (failover.ts), fail back
 * (here and failback.ts), what survived, the evidence and the report (outcome.ts). They share one
 * `DrillRun`; what the drill started is in its `DrillStarted`, stopped however the drill ends.
 */
import type { Logger } from 'pino';
import { runView } from '../engine/index.ts';
import { UsageError } from '../errors.ts';
import type { Plan } from '../plan/model.ts';
import type { CanaryAck, CanaryResult } from './canary.ts';
import { now } from './clock.ts';
import { damagesData, runCorruptionDrill } from './corruption.ts';
import { DrillRun, DrillStarted } from './drill-run.ts';
import type { DrillEnvironment } from './environment.ts';
import { failbackPlan, runFailbackPhase } from './failback.ts';
import type { FailbackOptions, FailbackPhase } from './failback.ts';
import { awaitRecovery, injectFaults, startTraffic, stopCanary, watchSites } from './failover.ts';
import type { Traffic } from './failover.ts';
import { fileReport, gatherEvidence, lostWrites, survivingSite } from './outcome.ts';
import type { DrillReport, FailbackInput } from './report.ts';
import { SITE_CUT, findScenario } from './scenario.ts';

export interface DrillOptions {
  plan: Plan;
  scenario: string;
  /** State directory: the state store, process pid files and logs, the drill's data, the reports. */
  stateDir: string;
  /** Replace the plan's fixed ports with free ones (see environment.ts). @default false */
  remapPorts?: boolean;
  /** Acknowledged writes to see before the first fault: the steady state. @default 50 */
  warmupWrites?: number;
  /** How long to wait for recovery after the first fault. @default the scenario's RTO + 10 s, at most 2 min */
  deadlineMs?: number;
  /** Canary write interval. @default 10 */
  canaryIntervalMs?: number;
  /** Where the report files go. @default `<stateDir>/reports` */
  reportsDir?: string;
  /** Leave the environment running when the drill is done; the caller closes it. @default false */
  keepUp?: boolean;
  /** @default a silent logger */
  log?: Logger;
  /** Ctrl-C: everything started is stopped and the drill ends with DRCTL_DRILL_INTERRUPTED. */
  signal?: AbortSignal;
  /** One line per moment, for people watching. */
  onProgress?(line: string): void;
  /**
   * After the failover is measured, run the workload's failback runbook with the canary still writing and
   * measure it too (docs/drills.md). @default no failback
   */
  failback?: FailbackOptions;
  /** How long the failback may take from its start. @default 2 min */
  failbackDeadlineMs?: number;
  /** Run only these steps of the failover runbook: `a..b` or `a,b` (rehearsal.ts). @default every step */
  steps?: string;
  /** Hold the failover after the fault until someone continues the drill (`drctl drill continue ID`). @default false */
  pause?: boolean;
  /** Called once the drill is registered, with its id (for `drctl drill continue|note ID`). */
  onStart?(drillId: string): void;
  /** The contact approving a drill that acts on a production site of an existing environment. */
  approvedBy?: string;
}

export interface DrillOutcome {
  report: DrillReport;
  files: { json: string; html: string };
  /** Only with keepUp: the running environment, for the caller to close. */
  environment: DrillEnvironment | undefined;
}

export async function runDrill(options: DrillOptions): Promise<DrillOutcome> {
  const { scenario, workload } = findScenario(options.plan, options.scenario);
  if (damagesData(scenario)) return runCorruptionDrill(options, scenario, workload);
  if (scenario.environment === 'existing' && options.failback !== undefined)
    throw new UsageError(
      'DRCTL_DRILL_FAILBACK_EXISTING',
      `scenario ${scenario.id} drills an existing environment: drctl does not fail it back`,
      { hint: "run the workload's failback runbook with drctl run once the drill has ended" },
    );
  const back =
    options.failback === undefined ? undefined : failbackPlan(options.plan, workload, options.failback);
  const started = new DrillStarted();
  try {
    const run = await DrillRun.open(options, scenario, workload, started);
    // ---- inject and measure the failover
    const traffic = await startTraffic(run);
    watchSites(run);
    const injected = await injectFaults(run, traffic);
    const recoveredAt = await awaitRecovery(run, traffic, injected);
    for (const timer of started.liftTimers) clearTimeout(timer);
    await traffic.safety.undone;
    // the monitor stops with the failover: a failback stops the site it returns from on purpose
    await started.monitor?.stop();
    // without a failback the canary stops here; with one it keeps writing and the failover is judged on
    // the writes acknowledged so far
    const stopped = back === undefined ? await stopCanary(run, traffic) : undefined;
    const failoverAcks: readonly CanaryAck[] = stopped?.acks ?? traffic.canary.acks.slice();
    const { faultAt } = injected;
    const survivor = await survivingSite(run.sites, failoverAcks, faultAt);
    const loss = await lostWrites(run, traffic.idPrefix, failoverAcks, survivor);
    const failoverRuns = started.drivers.map((d) => d.runId);
    // ---- fail back, the canary still writing
    const failbackRun =
      back === undefined ? undefined : await failBack(run, traffic, back, recoveredAt !== undefined);
    const canaryResult = stopped ?? (await stopCanary(run, traffic));
    const proberResult = await traffic.prober.stop();
    started.prober = undefined;
    const failback =
      back === undefined || failbackRun === undefined
        ? undefined
        : await failbackInput(run, traffic, back, failbackRun, canaryResult);
    // ---- the evidence and the report
    const { evidence, stranded } = await gatherEvidence(run, {
      start: injected.start,
      faultAt,
      survivor,
      failbackRunbook: back?.runbook.name,
    });
    const { report, files } = await fileReport(
      run,
      traffic.safety,
      {
        failoverRuns,
        startedAt: canaryResult.startedAt,
        finishedAt: now(),
        faultAt,
        ...(run.detectedAt === undefined ? {} : { detectedAt: run.detectedAt }),
        canary: canaryResult,
        loss,
        prober: proberResult,
        evidence,
        ...(failback === undefined ? {} : { failback }),
      },
      stranded,
    );
    started.keep = options.keepUp === true;
    return { report, files, environment: started.keep ? run.environment : undefined };
  } finally {
    await started.stop();
  }
}

type Failback = ReturnType<typeof failbackPlan>;

/**
 * Runs the workload's failback runbook on the drill's engine once every fault is lifted — unless the
 * failover did not happen or did not finish, which would copy the wrong site back (a finding then).
 */
async function failBack(
  run: DrillRun,
  traffic: Traffic,
  back: Failback,
  recovered: boolean,
): Promise<FailbackPhase | undefined> {
  const { environment, options, started } = run;
  const failoverViews = await Promise.all(
    started.drivers.map(async (d) => runView(await run.store.readJournal(d.runId), undefined).status),
  );
  // a failback returns from a failover: none started, one failed, or writes that never came back leave
  // nothing to return from
  const notFailedOver =
    started.drivers.length === 0
      ? 'no failover run started'
      : !failoverViews.every((status) => status === 'succeeded')
        ? 'the failover run did not succeed'
        : !recovered
          ? 'writes did not succeed again after the failover'
          : undefined;
  if (notFailedOver !== undefined) {
    run.findings.push({
      code: 'DRCTL_DRILL_FAILBACK_SKIPPED',
      severity: 'error',
      message: `the failback was not run: ${notFailedOver}`,
      hint: 'a failback starts from a finished failover; fix the failover first (see the failover findings)',
    });
    run.say(`failback skipped: ${notFailedOver}`);
    return undefined;
  }
  if (environment === undefined) return undefined;
  run.interrupted();
  for (const lift of run.pendingLifts.splice(0)) await lift();
  const lostSites = [...new Set(run.scenario.faults.filter((f) => SITE_CUT.has(f.kind)).map((f) => f.site))];
  const phase = await runFailbackPhase({
    engine: run.engine,
    store: run.store,
    environment,
    workload: environment.workload,
    runbook: back.runbook,
    approver: back.approver,
    canary: traffic.canary,
    lostSites,
    deadlineMs: options.failbackDeadlineMs ?? 120_000,
    onWaiting: (handler) => void (run.onWaiting = handler),
    event: (kind, detail) => run.event(kind, detail),
    say: (line) => run.say(line),
    log: run.log,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  started.drivers.push(phase.driver);
  run.interrupted();
  return phase;
}

/** The failback as the report takes it: its run, its steps, and the writes lost over the whole drill. */
async function failbackInput(
  run: DrillRun,
  traffic: Traffic,
  back: Failback,
  phase: FailbackPhase,
  canary: CanaryResult,
): Promise<FailbackInput> {
  const dataSite = await survivingSite(run.sites, canary.acks, phase.startedAt);
  const input: FailbackInput = {
    runId: phase.driver.runId,
    runbook: back.runbook.name,
    status: phase.status,
    approvedBy: back.approver,
    startedAt: phase.startedAt,
    finishedAt: phase.finishedAt,
    steps: phase.steps,
    loss: await lostWrites(run, traffic.idPrefix, canary.acks, dataSite),
    dataSite,
  };
  for (const message of phase.errors)
    run.findings.push({
      code: 'DRCTL_DRILL_FAILBACK_APPROVAL',
      severity: 'error',
      message: `the drill could not grant a failback approval as ${back.approver}: ${message}`,
      hint: 'pass an approver of the failback steps with --approve-as',
    });
  return input;
}
