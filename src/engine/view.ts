/**
 * What `drctl status` and the `--json` output show of a run: progress, what runs, what waits for whom,
 * what comes next, and expected against actual time per step. Built from the journal alone.
 */
import type { JournalRecord, Lease, RunStatus } from '../store/store.ts';
import { childOfStep } from '../plan/site.ts';
import { RECORD } from './journal.ts';
import { needsMet } from './state.ts';
import type { RunState, StepStatus } from './state.ts';
import { replay } from './state.ts';

export interface StepView {
  id: string;
  name: string;
  kind: string;
  status: StepStatus;
  needs: string[];
  attempts: number;
  waitingFor: string | undefined;
  /** Who may act on it while it waits (approvers, the escalation contact). */
  waitingOn: string[];
  options: string[];
  approvedBy: string[];
  /** Every approval given, with its note: who stood behind the step, for the run's record. */
  approvals: Array<{ by: string; at: string; note: string | undefined }>;
  quorum: number | undefined;
  /** The run's starter may not approve (an approval step with four-eyes). */
  fourEyes: boolean;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  expectedMs: number;
  contingencyMs: number;
  /** Time in attempts, or from first start to finish for steps that wait on people. */
  actualMs: number | undefined;
  /** How much longer than expected + contingency it took (0 when within). */
  overrunMs: number | undefined;
  summary: string | undefined;
  error: { code: string; message: string } | undefined;
  undo: string;
  evidence: Array<{ name: string; value: unknown; by: string }>;
  checks: Array<{ name: string; ok: boolean; message: string }>;
}

/** Where one child of a site run is. */
export type ChildStatus =
  /** no step started yet, and nothing it waits for failed */
  | 'pending'
  | 'running'
  /** a step waits for people */
  | 'waiting'
  | 'succeeded'
  /** stopped by a failure policy, or a step failed for good */
  | 'failed'
  /** its finished steps were undone after it failed under on_failure: rollback */
  | 'rolled-back'
  /** never started because a child it waits for failed */
  | 'blocked';

export interface ChildView {
  workload: string;
  runbook: string;
  tier: number;
  status: ChildStatus;
  after: string[];
  steps: string[];
  rtoMs: number;
  /** From the site run's start to the child's last step finishing: its RTO as measured. */
  recoveredAfterMs: number | undefined;
  /** Within its RTO; undefined until it finished. */
  fits: boolean | undefined;
  /** Steps running or waiting for people now: where the child is. */
  current: string[];
  /** Its steps that wait for an approval now, with whom they wait on. */
  approvals: Array<{ step: string; on: string[] }>;
}

/** One tier of a site run: its workloads back against the tightest RTO among them. */
export interface TierView {
  tier: number;
  workloads: string[];
  /** The tightest RTO of the tier's workloads: the tier is back in time only if all of them are. */
  rtoMs: number;
  /** When its last workload was back, from the start of the run; undefined until all are. */
  recoveredAfterMs: number | undefined;
  fits: boolean | undefined;
}

/** A site run's combined result: each workload and each tier against its RTO, and the site's total time. */
export interface SiteView {
  site: string;
  children: ChildView[];
  tiers: TierView[];
  /** From the start of the run to the declaration (the activation approval); undefined before it. */
  declaredAfterMs: number | undefined;
  /** From the start of the run to the last child back; undefined until every child succeeded. */
  recoveredAfterMs: number | undefined;
  /**
   * Children by outcome against their RTO: back in time, back late, never back (failed, rolled back or
   * blocked), still under way.
   */
  withinRto: { met: number; missed: number; notRecovered: number; open: number };
}

export interface RunView {
  id: string;
  workload: string;
  runbook: string;
  planHash: string;
  planFile: string;
  status: RunStatus;
  startedBy: string;
  startedAt: string;
  finishedAt: string | undefined;
  durationMs: number;
  reason: string | undefined;
  /** Who asked to cancel the run, and why (the reason they gave). */
  cancel: { by: string; reason: string | undefined } | undefined;
  progress: { total: number; done: number; running: number; waiting: number; failed: number };
  running: string[];
  waiting: Array<{ step: string; for: string; on: string[] }>;
  next: string[];
  /** The process driving the run now, if any. */
  driver: { pid: number; host: string } | undefined;
  /**
   * An unfinished run that no live process drives (its driver died or was stopped): its steps shown
   * `running` were in flight then. Since when: the lease's expiry, or the last record without one.
   * `drctl resume`, or a `drctl serve` instance serving its plan, drives it on.
   */
  waitingForDriver: { since: string } | undefined;
  steps: StepView[];
  /** A site run: the lost site, its children (each a workload's failover runbook), tiers and total. */
  site?: SiteView;
}

export function runView(records: readonly JournalRecord[], lease?: Lease): RunView {
  const state: RunState = replay(records);
  const evidence = new Map<string, StepView['evidence']>();
  const checks = new Map<string, StepView['checks']>();
  const approvals = new Map<string, StepView['approvals']>();
  let reason: string | undefined;
  for (const record of records) {
    if (record.type === RECORD.runFinished) reason = record.data.reason as string | undefined;
    if (record.step === undefined) continue;
    if (record.type === RECORD.approvalGranted) {
      const list = approvals.get(record.step) ?? [];
      list.push({
        by: record.actor,
        at: record.at.toISOString(),
        note: record.data.note as string | undefined,
      });
      approvals.set(record.step, list);
    } else if (record.type === RECORD.evidence) {
      const list = evidence.get(record.step) ?? [];
      list.push({ name: record.data.name as string, value: record.data.value, by: record.actor });
      evidence.set(record.step, list);
    } else if (record.type === RECORD.check) {
      const list = checks.get(record.step) ?? [];
      list.push({
        name: record.data.name as string,
        ok: record.data.ok as boolean,
        message: record.data.message as string,
      });
      checks.set(record.step, list);
    }
  }
  const steps: StepView[] = state.order.map((id) => {
    const step = state.steps.get(id);
    if (step === undefined) throw new Error(`step ${id} vanished`);
    const waitsOnPeople = step.snapshot.kind === 'approval' || step.snapshot.kind === 'manual';
    const actualMs =
      step.firstStartedAt === undefined
        ? undefined
        : waitsOnPeople && step.finishedAt
          ? step.finishedAt.getTime() - step.firstStartedAt.getTime()
          : step.activeMs + (step.attemptStartedAt ? Date.now() - step.attemptStartedAt.getTime() : 0);
    const allowed = step.snapshot.expectedMs + step.snapshot.contingencyMs;
    let waitingOn: string[] = [];
    if (step.waitingFor === 'approval')
      waitingOn = (step.snapshot.approval?.approvers ?? []).filter(
        (who) =>
          !step.approvedBy.includes(who) &&
          // four-eyes: the starter is among the approvers named, but may not approve this run
          !(step.snapshot.approval?.fourEyes === true && who === state.created.startedBy),
      );
    if (step.waitingFor === 'decision' && step.escalatedTo) waitingOn = [step.escalatedTo];
    return {
      id,
      name: step.snapshot.name,
      kind: step.snapshot.kind,
      status: step.status,
      needs: step.snapshot.needs,
      attempts: step.attempts,
      waitingFor: step.waitingFor,
      waitingOn,
      options: step.options,
      approvedBy: step.approvedBy,
      approvals: approvals.get(id) ?? [],
      quorum: step.snapshot.approval?.quorum,
      fourEyes: step.snapshot.approval?.fourEyes ?? false,
      startedAt: step.firstStartedAt?.toISOString(),
      finishedAt: step.finishedAt?.toISOString(),
      expectedMs: step.snapshot.expectedMs,
      contingencyMs: step.snapshot.contingencyMs,
      actualMs,
      overrunMs: actualMs === undefined ? undefined : Math.max(0, actualMs - allowed),
      summary: step.summary,
      error: step.error,
      undo: step.undo,
      evidence: evidence.get(id) ?? [],
      checks: checks.get(id) ?? [],
    };
  });
  const count = (status: StepStatus): number => steps.filter((step) => step.status === status).length;
  const finished = state.finishedAt !== undefined;
  const driver =
    lease && !finished && lease.expiresAt.getTime() > Date.now()
      ? { pid: lease.pid, host: lease.host }
      : undefined;
  return {
    id: state.id,
    workload: state.created.workload,
    runbook: state.created.runbook,
    planHash: state.created.planHash,
    planFile: state.created.planFile,
    status: state.status,
    startedBy: state.created.startedBy,
    startedAt: state.createdAt.toISOString(),
    finishedAt: state.finishedAt?.toISOString(),
    durationMs: (state.finishedAt ?? new Date()).getTime() - state.createdAt.getTime(),
    reason,
    cancel: state.cancelRequested,
    progress: {
      total: steps.length,
      done: steps.filter((step) => step.status === 'succeeded' || step.status === 'skipped').length,
      running: count('running') + count('retrying'),
      waiting: count('waiting'),
      failed: count('failed'),
    },
    running: steps
      .filter((step) => step.status === 'running' || step.status === 'retrying')
      .map((step) => step.id),
    waiting: steps
      .filter((step) => step.status === 'waiting')
      .map((step) => ({ step: step.id, for: step.waitingFor ?? '?', on: step.waitingOn })),
    next: finished
      ? []
      : [...state.steps.values()]
          .filter(
            (step) =>
              step.status === 'pending' &&
              needsMet(state, step) &&
              !state.stopping &&
              !state.stoppedChildren.has(childOfStep(step.snapshot.id) ?? ''),
          )
          .map((step) => step.snapshot.id),
    driver,
    waitingForDriver:
      finished || driver !== undefined || state.status !== 'running'
        ? undefined
        : { since: (lease?.expiresAt ?? state.lastAt).toISOString() },
    steps,
    ...(state.created.site === undefined ? {} : { site: siteView(state, state.created.site.site, steps) }),
  };
}

function siteView(state: RunState, site: string, steps: readonly StepView[]): SiteView {
  const children = childViews(state, steps);
  const tiers = [...new Set(children.map((child) => child.tier))]
    .sort((a, b) => a - b)
    .map((tier): TierView => {
      const own = children.filter((child) => child.tier === tier);
      const rtoMs = Math.min(...own.map((child) => child.rtoMs));
      const recoveredAfterMs = latestRecovery(own);
      return {
        tier,
        workloads: own.map((child) => child.workload),
        rtoMs,
        recoveredAfterMs,
        fits: recoveredAfterMs === undefined ? undefined : recoveredAfterMs <= rtoMs,
      };
    });
  // the declaration is the gate in front of every child: the one step that belongs to no child
  const declaration = steps.find((step) => step.kind === 'approval' && childOfStep(step.id) === undefined);
  return {
    site,
    children,
    tiers,
    declaredAfterMs:
      declaration?.finishedAt === undefined || declaration.status !== 'succeeded'
        ? undefined
        : Date.parse(declaration.finishedAt) - state.createdAt.getTime(),
    recoveredAfterMs: latestRecovery(children),
    withinRto: {
      met: children.filter((child) => child.fits === true).length,
      missed: children.filter((child) => child.fits === false).length,
      notRecovered: children.filter((child) => STOPPED_CHILD.has(child.status)).length,
      open: children.filter((child) => child.fits === undefined && !STOPPED_CHILD.has(child.status)).length,
    },
  };
}

const STOPPED_CHILD: ReadonlySet<ChildStatus> = new Set(['failed', 'rolled-back', 'blocked']);

/** When the last of these children was back; undefined while one of them is not. */
function latestRecovery(children: readonly ChildView[]): number | undefined {
  const times = children.map((child) => child.recoveredAfterMs);
  return times.every((ms) => ms !== undefined) ? Math.max(...times) : undefined;
}

function childViews(state: RunState, steps: readonly StepView[]): ChildView[] {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const views = new Map<string, ChildView>();
  for (const child of state.created.site?.children ?? []) {
    const own = child.steps.map((id) => byId.get(id)).filter((step) => step !== undefined);
    const stopped = state.stoppedChildren.get(child.workload);
    const done = own.every((step) => step.status === 'succeeded' || step.status === 'skipped');
    let status: ChildStatus;
    if (stopped?.rolledBack) status = 'rolled-back';
    else if (stopped !== undefined || own.some((step) => step.status === 'failed' && !done))
      status = 'failed';
    else if (done) status = 'succeeded';
    else if (own.some((step) => step.status === 'waiting')) status = 'waiting';
    else if (own.some((step) => step.status !== 'pending')) status = 'running';
    else if (child.after.some((id) => STOPPED_CHILD.has(views.get(id)?.status ?? 'pending')))
      status = 'blocked';
    else status = 'pending';
    const finishedAt = done
      ? Math.max(...own.map((step) => (step.finishedAt ? Date.parse(step.finishedAt) : 0)))
      : undefined;
    const recoveredAfterMs = finishedAt === undefined ? undefined : finishedAt - state.createdAt.getTime();
    views.set(child.workload, {
      workload: child.workload,
      runbook: child.runbook,
      tier: child.tier,
      status,
      after: child.after,
      steps: child.steps,
      rtoMs: child.rtoMs,
      recoveredAfterMs,
      fits: recoveredAfterMs === undefined ? undefined : recoveredAfterMs <= child.rtoMs,
      current: own
        .filter(
          (step) => step.status === 'running' || step.status === 'retrying' || step.status === 'waiting',
        )
        .map((step) => step.id),
      approvals: own
        .filter((step) => step.status === 'waiting' && step.waitingFor === 'approval')
        .map((step) => ({ step: step.id, on: step.waitingOn })),
    });
  }
  return [...views.values()];
}
