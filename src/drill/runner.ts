/**
 * The drill runner: one scenario of the plan, for real. It brings the workload's environment up
 * (environment.ts), starts the canary writer and the prober through the front door, starts the monitor with
 * an in-process engine on the state store (so a confirmed loss starts the failover runbook within
 * milliseconds), injects the scenario's faults at their times, waits for the failover run to finish and the
 * canary's writes to succeed again, then looks every acknowledged write up in the surviving database and
 * writes the report (JSON, HTML, and a row in the state store for trends). Definitions: docs/drills.md.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { proxyFaultFromPlan } from '../chaos/index.ts';
import type { ProxyFault } from '../chaos/index.ts';
import { Engine, Redactor, planSecrets, runView } from '../engine/index.ts';
import type { RunDriver } from '../engine/index.ts';
import { DrctlError, UsageError } from '../errors.ts';
import { Monitor, engineRunbookStarter } from '../monitor/index.ts';
import { Communications } from '../notify/index.ts';
import type { Fault, Plan, Scenario, Workload } from '../plan/model.ts';
import { providerForKind, providers } from '../providers/index.ts';
import { groupName } from '../supervise/index.ts';
import { drillStarts, drillStartsPlacement } from './starts.ts';
import { openStore } from '../store/index.ts';
import type { RunStore } from '../store/index.ts';
import { signalGroup } from '../system/processes.ts';
import { Canary, measureLoss, measureOutage } from './canary.ts';
import type { CanaryAck, CanaryResult, CanaryRun } from './canary.ts';
import { now, sleep } from './clock.ts';
import { DrillEnvironment } from './environment.ts';
import { DRILL_ACTOR, failbackPlan, runFailbackPhase } from './failback.ts';
import type { FailbackOptions, FailbackPhase } from './failback.ts';
import { Prober } from './prober.ts';
import { strandedWritesOf, type StrandedWritesFigures } from './data-integrity.ts';
import { damagesData, runCorruptionDrill } from './corruption.ts';
import { buildDrillReport, formatMs, writeDrillReport } from './report.ts';
import { drillTrend, renderTrendsHtml } from './trends.ts';
import { DrillControls, newDrillId, rehearsalPausedMs, stepsNotChosen } from './rehearsal.ts';
import { ExistingSites, checkExistingFaults, preflightExisting } from './existing.ts';
import type { DrillSites } from './existing.ts';
import type { AppliedFault } from './host-faults.ts';
import { Safety } from './safety.ts';
import type { DrillEventInput, DrillEvidence, DrillFinding, DrillReport, FailbackInput } from './report.ts';

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

/** Network faults go through a fault proxy in front of the target. */
const NETWORK_FAULTS: ReadonlySet<string> = new Set(['latency', 'blackhole', 'reset', 'bandwidth']);
/** Faults after which the target site no longer ships data anywhere. */
const SITE_CUT: ReadonlySet<string> = new Set(['kill', 'stop', 'blackhole', 'reset']);
const PROCESS_FAULTS: ReadonlySet<string> = new Set(['kill', 'stop', 'pause']);

export function findScenario(plan: Plan, id: string): { scenario: Scenario; workload: Workload } {
  const scenario = plan.drills.scenarios.find((s) => s.id === id);
  if (scenario === undefined) {
    const known = plan.drills.scenarios.map((s) => s.id);
    throw new UsageError('DRCTL_DRILL_UNKNOWN_SCENARIO', `the plan has no drill scenario ${id}`, {
      hint:
        known.length > 0
          ? `scenarios in this plan: ${known.join(', ')}`
          : 'add one under drills.scenarios (docs/plan.md)',
    });
  }
  const workload = plan.workloads.find((w) => w.id === scenario.workload);
  if (workload === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_UNKNOWN_WORKLOAD',
      `scenario ${id} names workload ${scenario.workload}, which the plan lacks`,
      { location: scenario.at },
    );
  }
  if (scenario.environment === 'existing') checkExistingFaults(plan, scenario);
  else for (const fault of scenario.faults) checkFault(fault, workload);
  return { scenario, workload };
}

/** A fault a drill cannot inject is a plan error, positioned on the fault. */
function checkFault(fault: Fault, workload: Workload): void {
  const target = `${fault.component}@${fault.site}`;
  const component = workload.components.find((c) => c.id === fault.component);
  if (component === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_UNKNOWN_TARGET',
      `fault ${fault.kind} targets component ${fault.component}, which is not a component of workload ${workload.id}`,
      {
        hint: `components of ${workload.id}: ${workload.components.map((c) => c.id).join(', ')}`,
        location: fault.at,
      },
    );
  }
  const placement = component.placement.find((p) => p.site === fault.site);
  if (placement === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_UNKNOWN_TARGET',
      `fault ${fault.kind} targets ${target}, but ${component.id} has no placement at site ${fault.site}`,
      {
        hint: `${component.id} runs at: ${component.placement.map((p) => p.site).join(', ')}`,
        location: fault.at,
      },
    );
  }
  const runs = drillStartsPlacement(component, placement);
  const proxied = drillStarts(component) !== undefined;
  const ok =
    fault.kind === 'switchboard' ||
    // a corrupt fault goes through the provider's own corrupt action (corruption.ts checks it has one)
    fault.kind === 'corrupt' ||
    (PROCESS_FAULTS.has(fault.kind) && runs) ||
    (NETWORK_FAULTS.has(fault.kind) && proxied);
  if (!ok) {
    throw new DrctlError(
      'DRCTL_DRILL_FAULT_UNSUPPORTED',
      `a drill cannot inject ${fault.kind} into ${target} (a ${component.kind} component)`,
      {
        hint: 'process faults (kill, stop, pause) need a process component or a postgres placement with data_dir; network faults need a service or a database',
        location: fault.at,
      },
    );
  }
}

export async function runDrill(options: DrillOptions): Promise<DrillOutcome> {
  const log = options.log ?? pino({ level: 'silent' });
  const say = (line: string): void => options.onProgress?.(line);
  const stateDir = resolve(options.stateDir);
  const { scenario, workload } = findScenario(options.plan, options.scenario);
  if (damagesData(scenario)) return runCorruptionDrill(options, scenario, workload);
  const existing = scenario.environment === 'existing';
  if (existing && options.failback !== undefined)
    throw new UsageError(
      'DRCTL_DRILL_FAILBACK_EXISTING',
      `scenario ${scenario.id} drills an existing environment: drctl does not fail it back`,
      { hint: "run the workload's failback runbook with drctl run once the drill has ended" },
    );
  const back =
    options.failback === undefined ? undefined : failbackPlan(options.plan, workload, options.failback);
  const interrupted = (): void => {
    if (options.signal?.aborted)
      throw new DrctlError(
        'DRCTL_DRILL_INTERRUPTED',
        'the drill was interrupted; everything it started was stopped',
        { exitCode: 2 },
      );
  };

  const drillId = `${scenario.id}-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
  let environment: DrillEnvironment | undefined;
  let sites: DrillSites;
  if (existing) {
    say(`drilling ${workload.id} as it runs (nothing is brought up) for scenario ${scenario.id}`);
    sites = new ExistingSites({ plan: options.plan, workload, scenario, stateDir, drill: drillId });
  } else {
    say(`bringing up ${workload.id} (${workload.strategy}) for scenario ${scenario.id}`);
    environment = await DrillEnvironment.create({
      plan: options.plan,
      workload: workload.id,
      stateDir,
      remapPorts: options.remapPorts === true,
      proxied: scenario.faults
        .filter((f) => NETWORK_FAULTS.has(f.kind))
        .map((f) => `${f.component}@${f.site}`),
      log,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    sites = ownSites(environment);
  }
  let safety: Safety | undefined;
  let store: RunStore | undefined;
  let monitor: Monitor | undefined;
  let announcer: Communications | undefined;
  let canary: CanaryRun | undefined;
  let prober: ReturnType<typeof Prober.start> | undefined;
  const drivers: RunDriver[] = [];
  const lifts: NodeJS.Timeout[] = [];
  const pendingLifts: (() => Promise<void>)[] = [];
  let keep = false;
  let controls: DrillControls | undefined;
  try {
    interrupted();
    const plan = sites.plan;
    const door = sites.frontDoor;
    store = await openStore(stateDir);
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
    controls = await DrillControls.open(store, {
      id: newDrillId(scenario.id),
      scenario: scenario.id,
      workload: workload.id,
    });
    options.onStart?.(controls.id);
    const events: DrillEventInput[] = [];
    const event = (kind: DrillEventInput['kind'], detail: string, step?: string, runbook?: string): void => {
      events.push({
        at: now(),
        kind,
        detail,
        ...(step === undefined ? {} : { step }),
        ...(runbook === undefined ? {} : { runbook }),
      });
    };
    let onWaiting: ((runId: string, step: string) => void) | undefined;
    // an announced drill is communicated like the real thing: an incident on the status page, messages
    // a drill that is not announced still speaks on the plan's test channels, if it has any
    if (scenario.announce || plan.communications.channels.some((c) => c.test)) {
      announcer = new Communications({ store, plans: () => [plan], logger: log });
      announcer.start();
    }
    const engine = new Engine({
      store,
      providers,
      stateDir,
      logger: log,
      // operator input (the failback's approvals) is read within 20 ms rather than the default 200
      pollMs: 20,
      hooks: [
        ...(announcer === undefined ? [] : [announcer.hooks]),
        {
          onStepStart: (e) => event('step-started', e.step.name, e.step.id, e.runbook),
          onStepWaiting: (e) => {
            if (e.for === 'approval') onWaiting?.(e.runId, e.step.id);
          },
          onStepComplete: (e) => {
            event('step-finished', e.summary, e.step.id, e.runbook);
            say(`  ✔ ${e.step.id} ${e.summary}`);
          },
          onStepError: (e) => {
            if (!e.final) return;
            event('step-failed', `${e.code}: ${e.message}`, e.step.id, e.runbook);
            say(`  ✖ ${e.step.id} ${e.code}: ${e.message}`);
          },
        },
      ],
    });

    // from here on the drill can be aborted: every fault is undone at once, then the canary stops
    safety = Safety.start({
      stateDir,
      guards: scenario.guards,
      maxDurationMs: scenario.maxDurationMs,
      onAbort: async (abort) => {
        event('drill-aborted', abort.reason);
        say(`ABORTED: ${abort.reason}; undoing every fault`);
        await Promise.all([...pendingLifts.map((lift) => lift()), sites.undoFaults()]);
      },
    });
    const halt =
      options.signal === undefined ? safety.signal : AbortSignal.any([safety.signal, options.signal]);
    const idPrefix = `canary-${randomBytes(4).toString('hex')}`;
    canary = Canary.start({
      idPrefix,
      url: sites.url,
      path: door.canary.writePath,
      intervalMs: options.canaryIntervalMs ?? 10,
    });
    prober = Prober.start({
      url: new URL(door.canary.readPath, sites.url).toString(),
      intervalMs: 100,
    });
    const stopCanary = async (): Promise<CanaryResult> => {
      const result = await canary!.stop();
      canary = undefined;
      return result;
    };
    const warmup = options.warmupWrites ?? 50;
    const steady = await within(
      canary.waitForAcks(warmup).then(() => true),
      15_000,
      false,
      halt,
    );
    interrupted();
    if (!steady && safety.aborted === undefined) {
      const last = canary.failures.at(-1);
      throw new DrctlError(
        'DRCTL_DRILL_NO_TRAFFIC',
        `writes do not succeed through the front door before any fault (${canary.acks.length} of ${canary.sent} acknowledged)`,
        {
          hint: `the last failure was ${last?.reason ?? 'none'}; check ${sites.logsHint}`,
          exitCode: 2,
        },
      );
    }

    // the monitor starts once both sites answer, so it knows what "up" looks like
    const store_ = store;
    let detectedAt: number | undefined;
    let starting = false;
    monitor = Monitor.start({
      plan,
      workloads: [workload.id],
      logger: log,
      startRunbook: engineRunbookStarter(engine, plan, {
        startedBy: DRILL_ACTOR,
        drill: { scenario: scenario.id, announce: scenario.announce },
        onRun: (driver) => drivers.push(driver),
        ...(skip === undefined ? {} : { skip }),
        ...(options.pause === true
          ? {
              beforeStart: async () => {
                const reason = 'after the fault, before the failover';
                event('note', `paused ${reason}`);
                say(`paused ${reason}; continue with: drctl drill continue ${controls?.id ?? ''}`);
                const pause = await controls!.pause(reason, options.signal);
                event('note', `continued by ${pause.continuedBy ?? 'nobody'}`);
                say(`continued by ${pause.continuedBy ?? 'nobody'}`);
              },
            }
          : {}),
      }),
      runStatus: async (runId) => (await store_.getRun(runId))?.status,
    });
    monitor.on('site-lost', (e) => {
      detectedAt ??= e.confirmedAt;
      starting = true;
      event('detected', `site ${e.site} lost: ${e.reason}`);
      say(
        `site ${e.site} lost (detected ${faultAt === undefined ? '' : `${formatMs(e.confirmedAt - faultAt)} after the fault`})`,
      );
    });
    monitor.on('failover-started', (e) => {
      starting = false;
      event(
        'note',
        `failover run ${e.runId} started (${e.automatic ? 'automatic' : 'waiting for activation'})`,
      );
      say(`failover run ${e.runId} started`);
    });
    monitor.on('failover-skipped', () => void (starting = false));
    monitor.on('failover-error', (e) => {
      starting = false;
      event('note', `failover could not start: ${e.code} ${e.message}`);
      say(`failover could not start: ${e.code} ${e.message}`);
    });

    // ---- faults
    say(
      `steady: ${canary.acks.length} writes acknowledged; injecting ${scenario.faults.length} fault${scenario.faults.length === 1 ? '' : 's'}`,
    );
    const start = now();
    let faultAt: number | undefined;
    const findings: DrillFinding[] = [];
    const byTime = new Map<number, Fault[]>();
    for (const fault of scenario.faults) byTime.set(fault.atMs, [...(byTime.get(fault.atMs) ?? []), fault]);
    let longestFaultMs = 0;
    for (const [atMs, faults] of [...byTime].sort((a, b) => a[0] - b[0])) {
      await sleep(Math.max(0, start + atMs - now()), halt);
      interrupted();
      if (safety.aborted !== undefined) break;
      const results = await Promise.all(faults.map((fault) => sites.inject(fault, halt)));
      for (const [index, result] of results.entries()) {
        const fault = faults[index]!;
        faultAt ??= result.at;
        event('fault-injected', result.detail);
        say(`fault: ${result.detail}`);
        if (SITE_CUT.has(fault.kind)) sites.siteLost(fault.site);
        if (result.lift === undefined) continue;
        // a failback starts with every fault lifted: the site it returns to is back
        const once = result.lift;
        let lifted: Promise<void> | undefined;
        const lift = (): Promise<void> =>
          (lifted ??= Promise.resolve()
            .then(once)
            .then(
              () => event('fault-lifted', `${fault.kind} ${fault.component}@${fault.site} lifted`),
              // the drill's end tries again, and a fault on a host expires there anyway
              (error: unknown) =>
                event('note', `${fault.kind} ${fault.component}@${fault.site} not lifted: ${String(error)}`),
            ));
        pendingLifts.push(lift);
        if (fault.durationMs !== undefined) {
          longestFaultMs = Math.max(longestFaultMs, atMs + fault.durationMs);
          lifts.push(setTimeout(() => void lift(), fault.durationMs));
        }
      }
    }
    faultAt ??= start;

    // ---- recovery: the failover run done and the client writing again
    const deadlineMs = options.deadlineMs ?? Math.min(scenario.expect.rtoMs + 10_000, 120_000);
    const deadline = faultAt + Math.max(deadlineMs, longestFaultMs + 2_000);
    let recoveredAt: number | undefined;
    const settled = new Set<RunDriver>();
    for (;;) {
      interrupted();
      for (const driver of drivers)
        if (!settled.has(driver))
          void driver.done.then(
            () => settled.add(driver),
            () => settled.add(driver),
          );
      const outage = measureOutage(canary, faultAt);
      const runsDone = !starting && drivers.every((d) => settled.has(d));
      const clientOk = outage.impacted
        ? outage.firstSuccess !== undefined
        : now() - faultAt > longestFaultMs + workload.detectAfterMs + 500;
      if (clientOk) recoveredAt ??= now();
      // a little more writing after recovery shows whether the service stays up
      if (clientOk && runsDone && now() - (recoveredAt ?? now()) >= 300) break;
      if (safety.aborted !== undefined) break;
      // time people held the drill paused does not count against the deadline
      if (now() > deadline + rehearsalPausedMs(controls.pauses)) {
        event('note', `deadline of ${formatMs(deadline - faultAt)} after the fault reached`);
        say(`deadline reached ${formatMs(deadline - faultAt)} after the fault`);
        break;
      }
      await sleep(20, halt);
    }
    for (const timer of lifts) clearTimeout(timer);
    await safety.undone;
    // the monitor stops with the failover: a failback stops the site it returns from on purpose
    await monitor.stop();
    // without a failback the canary stops here; with one it keeps writing and the failover is judged on
    // the writes acknowledged so far
    const stopped = back === undefined ? await stopCanary() : undefined;
    const failoverAcks: readonly CanaryAck[] = stopped?.acks ?? canary.acks.slice();

    // ---- what survived
    const survivor = await survivingSite(sites, failoverAcks, faultAt);
    const data = dataComponent(sites);
    const presentAt =
      (site: string) =>
      async (ids: string[]): Promise<string[]> => {
        if (ids.length === 0) return [];
        const provider = providerForKind(data.kind);
        const sql = `select id from ${door.canary.table} where id like '${idPrefix}-%'`;
        const rows = await provider!.query!(data, site, sql, {
          signal: AbortSignal.timeout(30_000),
          log,
          plan,
          stateDir,
          evidence: () => undefined,
        });
        return rows.map((row) => String(row[0]));
      };
    const loss = await measureLoss(failoverAcks, presentAt(survivor));

    // ---- failback: the same engine, the canary still writing
    let failback: FailbackInput | undefined;
    let failbackRun: FailbackPhase | undefined;
    // a failback from a failover that did not happen or did not finish would copy the wrong site back
    const failoverRuns = drivers.map((d) => d.runId);
    const failoverViews = await Promise.all(
      drivers.map(async (d) => runView(await store_.readJournal(d.runId), undefined).status),
    );
    // a failback returns from a failover: none started, one failed, or writes that never came back leave
    // nothing to return from
    const notFailedOver =
      drivers.length === 0
        ? 'no failover run started'
        : !failoverViews.every((status) => status === 'succeeded')
          ? 'the failover run did not succeed'
          : recoveredAt === undefined
            ? 'writes did not succeed again after the failover'
            : undefined;
    if (back !== undefined && notFailedOver !== undefined) {
      findings.push({
        code: 'DRCTL_DRILL_FAILBACK_SKIPPED',
        severity: 'error',
        message: `the failback was not run: ${notFailedOver}`,
        hint: 'a failback starts from a finished failover; fix the failover first (see the failover findings)',
      });
      say(`failback skipped: ${notFailedOver}`);
    }
    if (back !== undefined && notFailedOver === undefined && environment !== undefined) {
      interrupted();
      for (const lift of pendingLifts.splice(0)) await lift();
      const lostSites = [...new Set(scenario.faults.filter((f) => SITE_CUT.has(f.kind)).map((f) => f.site))];
      failbackRun = await runFailbackPhase({
        engine,
        store,
        environment,
        workload: environment.workload,
        runbook: back.runbook,
        approver: back.approver,
        canary,
        lostSites,
        deadlineMs: options.failbackDeadlineMs ?? 120_000,
        onWaiting: (handler) => void (onWaiting = handler),
        event: (kind, detail) => event(kind, detail),
        say,
        log,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      drivers.push(failbackRun.driver);
      interrupted();
    }
    const canaryResult = stopped ?? (await stopCanary());
    const proberResult = await prober.stop();
    prober = undefined;
    if (failbackRun !== undefined && back !== undefined) {
      const dataSite = await survivingSite(sites, canaryResult.acks, failbackRun.startedAt);
      failback = {
        runId: failbackRun.driver.runId,
        runbook: back.runbook.name,
        status: failbackRun.status,
        approvedBy: back.approver,
        startedAt: failbackRun.startedAt,
        finishedAt: failbackRun.finishedAt,
        steps: failbackRun.steps,
        loss: await measureLoss(canaryResult.acks, presentAt(dataSite)),
        dataSite,
      };
      for (const message of failbackRun.errors)
        findings.push({
          code: 'DRCTL_DRILL_FAILBACK_APPROVAL',
          severity: 'error',
          message: `the drill could not grant a failback approval as ${back.approver}: ${message}`,
          hint: 'pass an approver of the failback steps with --approve-as',
        });
    }

    // ---- evidence
    const evidence: DrillEvidence[] = [
      ...(await sites.door.evidence(start)),
      { name: 'surviving database', value: { component: data.id, site: survivor } },
    ];
    if (sites.snapshots.length > 0) {
      const before = sites.snapshots.filter((s) => s.ok && s.at <= faultAt);
      evidence.push({
        name: 'snapshots',
        value: { shipped: sites.snapshots.filter((s) => s.ok).length, lastBeforeFault: before.at(-1) },
      });
    }
    const stranded: StrandedWritesFigures[] = [];
    for (const driver of drivers) {
      const journal = await store.readJournal(driver.runId);
      stranded.push(...strandedWritesOf(journal));
      const view = runView(journal, undefined);
      evidence.push({
        name: `run ${driver.runId}`,
        value: {
          runbook: view.runbook,
          status: view.status,
          durationMs: view.durationMs,
          steps: view.steps.map((s) => ({ id: s.id, status: s.status, actualMs: s.actualMs })),
        },
      });
      if (view.status !== 'succeeded' && view.runbook !== back?.runbook.name) {
        findings.push({
          code: 'DRCTL_DRILL_RUN_FAILED',
          severity: 'error',
          message: `the ${view.runbook} run ${view.id} ended ${view.status}`,
          hint: `drctl status ${view.id} --state ${stateDir}`,
        });
      }
    }

    // the report is kept and shared: it passes through the same redaction as the journal
    const report = new Redactor(planSecrets(options.plan)).value(
      buildDrillReport({
        plan: { name: options.plan.name, hash: options.plan.hash },
        scenario,
        workload,
        targets: { rtoMs: scenario.expect.rtoMs, rpoMs: scenario.expect.rpoMs },
        failoverRuns,
        startedAt: canaryResult.startedAt,
        finishedAt: now(),
        faultAt,
        ...(detectedAt === undefined ? {} : { detectedAt }),
        events,
        canary: canaryResult,
        loss,
        prober: proberResult,
        evidence,
        findings,
        ...(failback === undefined ? {} : { failback }),
        safety: {
          environment: scenario.environment,
          maxDurationMs: scenario.maxDurationMs,
          preflight,
          guards: safety.guards,
          ...(safety.aborted === undefined
            ? {}
            : { aborted: { ...safety.aborted, undoneAt: lastLift(events) } }),
        },
      }),
    );
    if (stranded.length > 0) report.dataIntegrity = { strandedWrites: stranded };
    const notes = await controls.notes();
    if (skip !== undefined || controls.pauses.length > 0 || notes.length > 0) {
      report.rehearsal = {
        ...(skip === undefined || options.steps === undefined
          ? {}
          : { steps: { spec: options.steps, skipped: [...skip.keys()] } }),
        pauses: controls.pauses,
        pausedMs: Math.round(rehearsalPausedMs(controls.pauses)),
        notes,
      };
      for (const note of notes)
        report.timeline.push({
          at: note.at - Date.parse(report.startedAt),
          kind: 'note',
          detail: `${note.by}: ${note.text}`,
        });
      report.timeline.sort((a, b) => a.at - b.at);
    }
    await store.saveDrillReport({
      id: report.id,
      workload: workload.id,
      scenario: scenario.id,
      planHash: options.plan.hash,
      startedAt: new Date(report.startedAt),
      passed: report.passed,
      detectionMs: report.measured.detectionMs,
      rtoMs: report.measured.rtoMs,
      lostWrites: report.measured.lostWrites.count,
      report: report as unknown as Record<string, unknown>,
    });
    // the report shows this drill among every stored drill of its scenario
    const trend = drillTrend(
      options.plan,
      workload.id,
      scenario.id,
      await store.listDrillReports({ workload: workload.id, scenario: scenario.id, limit: 1000 }),
    );
    const files = await writeDrillReport(report, options.reportsDir ?? resolve(stateDir, 'reports'), {
      trends: renderTrendsHtml(trend),
    });
    keep = options.keepUp === true;
    return { report, files, environment: keep ? environment : undefined };
  } finally {
    await safety?.stop();
    for (const timer of lifts) clearTimeout(timer);
    await canary?.stop();
    await prober?.stop();
    await monitor?.stop();
    // a run still going when the drill ends (deadline, Ctrl-C) is cancelled, never left half-driven
    for (const driver of drivers) {
      await driver.cancel('drill', 'the drill ended').catch(() => undefined);
      await within(
        driver.done.catch(() => undefined),
        5_000,
        undefined,
      );
    }
    // the end of the run reaches the status page before the store closes
    await announcer?.tick().catch(() => undefined);
    await announcer?.stop();
    await controls?.finish().catch(() => undefined);
    await store?.close();
    // whatever happened, no fault outlives the drill
    if (!keep) await sites.close();
  }
}

/** When the last fault was lifted, for how long an abort took to undo them. */
function lastLift(events: readonly DrillEventInput[]): number | undefined {
  return events.filter((e) => e.kind === 'fault-lifted').at(-1)?.at;
}

/** The sites a drill brought up itself, as the runner drives them. */
function ownSites(environment: DrillEnvironment): DrillSites {
  const proxyFaults = new Map<string, ProxyFault[]>();
  return {
    plan: environment.plan,
    workload: environment.workload,
    frontDoor: environment.frontDoor,
    url: environment.url,
    door: environment.door,
    snapshots: environment.snapshots,
    logsHint: `the service logs under ${environment.supervisor.dir}`,
    inject: (fault) => inject(environment, fault, proxyFaults),
    siteLost: (site) => environment.siteLost(site),
    // the environment's own faults are lifted through their lifts; closing it stops the rest
    undoFaults: async () => undefined,
    close: () => environment.close(),
  };
}

/** `work`'s value, or `fallback` after `ms` (or on abort); the timer never outlives the call. */
async function within<T, F>(work: Promise<T>, ms: number, fallback: F, signal?: AbortSignal): Promise<T | F> {
  const stop = new AbortController();
  const signals = signal === undefined ? stop.signal : AbortSignal.any([stop.signal, signal]);
  try {
    return await Promise.race([work, sleep(ms, signals).then(() => fallback)]);
  } finally {
    stop.abort();
  }
}

type Injected = AppliedFault;

async function inject(
  environment: DrillEnvironment,
  fault: Fault,
  proxyFaults: Map<string, ProxyFault[]>,
): Promise<Injected> {
  const target = `${fault.component}@${fault.site}`;
  const running = environment.placement(fault.component, fault.site);
  const describe = (what: string): string => `${fault.kind} ${target}${what}`;
  switch (fault.kind) {
    case 'kill':
    case 'stop':
    case 'pause': {
      if (running.kind === 'command') {
        const name = groupName(fault.component, fault.site);
        if (fault.kind === 'pause') {
          const paused = environment.supervisor.pause(name);
          return {
            at: now(),
            detail: describe(` (SIGSTOP to ${paused.map((i) => i.pid).join(', ')})`),
            lift: () => environment.supervisor.resume(name),
          };
        }
        const result =
          fault.kind === 'kill'
            ? await environment.supervisor.kill(name)
            : await environment.supervisor.stop(name, { graceMs: 5_000 });
        return {
          at: now(),
          detail: describe(
            ` (${fault.kind === 'kill' ? 'SIGKILL' : 'SIGTERM'} to ${result.pids.join(', ') || 'nothing running'})`,
          ),
        };
      }
      const node = environment.clusters.get(fault.component)?.node(fault.site);
      if (node === undefined)
        throw new DrctlError('DRCTL_DRILL_UNKNOWN_TARGET', `${target} has no database server in this drill`, {
          location: fault.at,
        });
      if (fault.kind === 'pause') {
        const pid = node.pid;
        if (pid === undefined) return { at: now(), detail: describe(' (not running)') };
        signalGroup(pid, 'SIGSTOP');
        return {
          at: now(),
          detail: describe(` (SIGSTOP to process group ${pid})`),
          // the failover's fence may have killed the frozen server meanwhile: nothing left to resume
          lift: () => signalGroup(pid, 'SIGCONT'),
        };
      }
      const pid = node.pid;
      if (fault.kind === 'kill') await node.kill();
      else await node.stop();
      return { at: now(), detail: describe(` (postmaster ${pid ?? '?'})`) };
    }
    case 'switchboard': {
      const flag = fault.flag ?? 'orders.fail';
      environment.switchboard.set(flag, true);
      return {
        at: now(),
        detail: `switchboard ${flag} on (${target})`,
        lift: () => environment.switchboard.unset(flag),
      };
    }
    default: {
      const proxy = running.proxy;
      const proxyFault = proxyFaultFromPlan(fault);
      if (proxy === undefined || proxyFault === undefined)
        throw new DrctlError('DRCTL_DRILL_FAULT_UNSUPPORTED', `no fault proxy in front of ${target}`, {
          location: fault.at,
        });
      const active = [...(proxyFaults.get(target) ?? []), proxyFault];
      proxyFaults.set(target, active);
      const change = proxy.set(active);
      return {
        at: change.at,
        detail: describe(fault.latencyMs === undefined ? '' : ` ${fault.latencyMs} ms`),
        lift: () => {
          const rest = (proxyFaults.get(target) ?? []).filter((f) => f !== proxyFault);
          proxyFaults.set(target, rest);
          proxy.set(rest);
        },
      };
    }
  }
}

/** Where the data lives after the drill: the site that acknowledged the last write, else the router's choice. */
async function survivingSite(
  environment: DrillSites,
  acks: readonly { site?: string; sentAt: number }[],
  faultAt: number,
): Promise<string> {
  const after = acks.filter((a) => a.sentAt >= faultAt && a.site !== undefined).at(-1);
  return (
    after?.site ??
    (await environment.door.activeSite().catch(() => undefined)) ??
    environment.workload.components[0]?.placement.find((p) => p.standby)?.site ??
    'unknown'
  );
}

/** The component holding the front door component's writes: its dependency that a provider can query. */
function dataComponent(environment: DrillSites) {
  const workload = environment.workload;
  const door = workload.components.find((c) => c.id === environment.frontDoor.component);
  const candidates = workload.components.filter(
    (c) => door?.dependsOn.includes(c.id) && providerForKind(c.kind)?.query !== undefined,
  );
  const data = candidates[0];
  if (data === undefined) {
    throw new DrctlError(
      'DRCTL_DRILL_NO_DATABASE',
      `the front door component ${environment.frontDoor.component} depends on no component drctl can query, so lost writes cannot be counted`,
      {
        hint: 'add its database (kind postgres or sqlite) to depends_on',
        location: environment.frontDoor.at,
      },
    );
  }
  return data;
}
