/**
 * The failback phase of a drill: after the failover was measured, with the canary still writing, the
 * workload's `failback` runbook runs on the same in-process engine, its approval steps granted by a named
 * contact (never the drill itself: four-eyes holds), and the drill measures what the client saw of the
 * return (outage), what it lost over the whole drill (every acknowledged write looked up in the database
 * that serves at the end) and how long each step took. Definitions: docs/drills.md.
 */
import type { Logger } from 'pino';
import { approveStep, runView } from '../engine/index.ts';
import type { Engine, RunDriver } from '../engine/index.ts';
import { DrctlError, UsageError } from '../errors.ts';
import type { Plan, Runbook, Workload } from '../plan/model.ts';
import { groupName } from '../supervise/index.ts';
import { drillStarts } from './starts.ts';
import type { RunStore } from '../store/index.ts';
import { measureOutage } from './canary.ts';
import type { CanaryRun } from './canary.ts';
import { now, sleep } from './clock.ts';
import type { DrillEnvironment } from './environment.ts';
import type { DrillEventInput, FailbackStepInput } from './report.ts';

/** Who runs the drill's runbooks: the actor four-eyes approvals refuse. */
export const DRILL_ACTOR = 'drill';

export interface FailbackOptions {
  /**
   * The contact who grants the failback runbook's approval steps.
   * @default the first of the plan's activation approvers who is not the drill's own actor
   */
  approveAs?: string;
}

/** The workload's failback runbook and who approves it, or a usage error before anything starts. */
export function failbackPlan(
  plan: Plan,
  workload: Workload,
  options: FailbackOptions,
): { runbook: Runbook; approver: string } {
  const runbook = workload.runbooks.find((r) => r.name === 'failback');
  if (runbook === undefined) {
    throw new UsageError(
      'DRCTL_DRILL_NO_FAILBACK',
      `workload ${workload.id} has no failback runbook, so a drill cannot measure one`,
      { hint: 'add runbooks.failback to the workload (docs/plan.md), or run the drill without --failback' },
    );
  }
  const approver =
    options.approveAs ?? (plan.activation?.approvers ?? []).find((contact) => contact !== DRILL_ACTOR);
  if (approver === undefined || approver === DRILL_ACTOR) {
    throw new UsageError(
      'DRCTL_DRILL_NO_APPROVER',
      approver === DRILL_ACTOR
        ? `the drill starts the failback run as ${DRILL_ACTOR}, so ${DRILL_ACTOR} may not also approve it (four-eyes)`
        : 'the failback runbook has approval steps and the plan names no activation approver to grant them',
      { hint: 'name the approving contact with --approve-as (failback.approveAs)' },
    );
  }
  for (const step of runbook.steps) {
    const allowed = step.approval?.by ?? [];
    if (step.approval !== undefined && allowed.length > 0 && !allowed.includes(approver)) {
      throw new UsageError(
        'DRCTL_DRILL_NO_APPROVER',
        `${approver} may not approve step ${step.id} of the failback runbook`,
        { hint: `approvers of ${step.id}: ${allowed.join(', ')}; pass one of them with --approve-as` },
      );
    }
  }
  return { runbook, approver };
}

export interface FailbackPhaseOptions {
  engine: Engine;
  store: RunStore;
  environment: DrillEnvironment;
  workload: Workload;
  runbook: Runbook;
  approver: string;
  canary: CanaryRun;
  /** Sites the scenario lost: what an operator checks before starting the failback. */
  lostSites: readonly string[];
  /** How long the failback may take, from its start. */
  deadlineMs: number;
  /** Registers the failback run's approvals: the runner's engine hook calls `approve` for waiting steps. */
  onWaiting: (handler: (runId: string, step: string) => void) => void;
  event: (kind: DrillEventInput['kind'], detail: string) => void;
  say: (line: string) => void;
  log: Logger;
  signal?: AbortSignal;
}

export interface FailbackPhase {
  driver: RunDriver;
  startedAt: number;
  /** When the run ended (or the deadline, when it did not). */
  finishedAt: number;
  status: string;
  durationMs: number;
  steps: FailbackStepInput[];
  /** Approval errors: the run then waits and is cancelled at the deadline. */
  errors: string[];
}

/**
 * Runs the failback runbook while the canary writes, and returns once the run ended and the client writes
 * again (or at the deadline). The caller cancels a run still going and measures the loss.
 */
export async function runFailbackPhase(options: FailbackPhaseOptions): Promise<FailbackPhase> {
  const { environment, canary, say } = options;
  // What an operator does before a failback: the site is back, and nothing stale of it still runs there.
  // A site that was only cut off keeps its old order service; the runbook starts it afresh.
  for (const site of options.lostSites) {
    for (const component of options.workload.components) {
      if (drillStarts(component) !== 'command') continue;
      if (!component.placement.some((p) => p.site === site)) continue;
      const name = groupName(component.id, site);
      if (environment.supervisor.status(name).some((i) => i.state !== 'exited')) {
        await environment.supervisor.stop(name, { graceMs: 2_000 });
        options.event('note', `stopped the stale ${component.id} at ${site} before the failback`);
      }
    }
  }

  const errors: string[] = [];
  // the run's id is known once engine.start answers; a step may wait before that, so it is kept until then
  const ours: { runId?: string } = {};
  const early: [string, string][] = [];
  const approvals: Promise<unknown>[] = [];
  const asked = new Set<string>();
  const approve = (id: string, step: string): void => {
    if (ours.runId === undefined) {
      early.push([id, step]);
      return;
    }
    // the engine may report a step waiting more than once (a resumed poll); approve it once
    if (id !== ours.runId || asked.has(step)) return;
    asked.add(step);
    approvals.push(
      approveStep(options.store, {
        runId: id,
        step,
        by: options.approver,
        note: 'granted by the drill for a measured failback',
      }).then(
        () => {
          options.event('note', `${options.approver} approved ${step} of the failback run`);
          say(`  ✔ ${step} approved by ${options.approver}`);
        },
        (error: unknown) => {
          const code = error instanceof DrctlError ? `${error.code}: ` : '';
          const message = `${code}${error instanceof Error ? error.message : String(error)}`;
          errors.push(message);
          options.event('note', `approval of ${step} refused: ${message}`);
        },
      ),
    );
  };
  options.onWaiting(approve);

  const startedAt = now();
  options.event('failback-started', `failback runbook started; approvals by ${options.approver}`);
  say(`failback: starting the ${options.runbook.name} runbook (approvals by ${options.approver})`);
  const driver = await options.engine.start({
    plan: environment.plan,
    runbook: options.runbook.name,
    workload: options.workload.id,
    startedBy: DRILL_ACTOR,
    trigger: { automatic: false, reason: 'drill: measured failback after the failover' },
  });
  ours.runId = driver.runId;
  for (const [id, step] of early.splice(0)) approve(id, step);
  let runEndedAt: number | undefined;
  void driver.done.then(
    () => void (runEndedAt ??= now()),
    () => void (runEndedAt ??= now()),
  );

  const deadline = startedAt + options.deadlineMs;
  let recoveredAt: number | undefined;
  for (;;) {
    if (options.signal?.aborted) break;
    const outage = measureOutage(canary, startedAt);
    const clientOk = !outage.impacted || outage.firstSuccess !== undefined;
    if (runEndedAt !== undefined && clientOk) recoveredAt ??= now();
    else recoveredAt = undefined;
    // a little more writing after the run shows whether the service stays up on the site it returned to
    if (recoveredAt !== undefined && now() - recoveredAt >= 300) break;
    if (now() > deadline) {
      options.event('note', `failback deadline of ${Math.round(options.deadlineMs / 1000)} s reached`);
      say('failback: deadline reached');
      break;
    }
    await sleep(20, options.signal).catch(() => undefined);
  }
  await Promise.allSettled(approvals);

  const view = runView(await options.store.readJournal(driver.runId), undefined);
  const finishedAt = runEndedAt ?? now();
  options.event('failback-finished', `failback run ${driver.runId} ${view.status}`);
  say(`failback run ${driver.runId} ${view.status}`);
  return {
    driver,
    startedAt,
    finishedAt,
    status: view.status,
    durationMs: finishedAt - startedAt,
    steps: view.steps.map((s) => ({
      id: s.id,
      name: s.name,
      status: s.status,
      ...(s.startedAt === undefined ? {} : { startedAt: Date.parse(s.startedAt) }),
      ...(s.finishedAt === undefined ? {} : { finishedAt: Date.parse(s.finishedAt) }),
      ...(s.actualMs === undefined ? {} : { actualMs: s.actualMs }),
      ...(s.error === undefined ? {} : { error: `${s.error.code}: ${s.error.message}` }),
    })),
    errors,
  };
}
