/**
 * Rules about time: the plan's review, each workload's sign-off (seed 002: review classifications
 * regularly), instructions not exercised within the review interval (seed 000: validate instructions at
 * least every 12 months) and drills per seed 004's test schedule. All are judged at `context.now`.
 */
import { formatDuration } from '../../plan/duration.ts';
import type { DrillRecord, DrillType } from '../../plan/model.ts';
import type { Rule } from '../context.ts';
import { finding } from '../findings.ts';

const DAY_MS = 86_400_000;

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function age(now: Date, then: Date): string {
  return formatDuration(Math.max(0, now.getTime() - then.getTime()));
}

export const planReview: Rule = (context, report) => {
  const { review } = context.plan;
  const interval = formatDuration(review.intervalMs);
  if (review.last === undefined) {
    report(
      finding(
        'DRCTL_REVIEW_MISSING',
        review.at,
        `the plan does not record when it was last reviewed (review interval ${interval})`,
        `review it with its owners and record review: { last: ${day(context.now)}, by: <contact id> }`,
      ),
    );
    return;
  }
  if (context.now.getTime() - review.last.getTime() > review.intervalMs) {
    report(
      finding(
        'DRCTL_REVIEW_STALE',
        review.at,
        `the plan was last reviewed on ${day(review.last)}, ${age(context.now, review.last)} ago, longer than its review interval of ${interval}`,
        'review the plan with its owners and update review.last',
      ),
    );
  }
};

export const signoffs: Rule = (context, report) => {
  const interval = context.plan.review.intervalMs;
  for (const workload of context.plan.workloads) {
    const signoff = workload.signoff;
    if (signoff === undefined) {
      report(
        finding(
          'DRCTL_SIGNOFF_MISSING',
          workload.at,
          `workload ${workload.id} (tier ${workload.tier}) has no business sign-off of its tier and objectives`,
          `have the business owner confirm tier, RTO and RPO and record signoff: { by: <contact id>, at: ${day(context.now)} }`,
          { workload: workload.id },
        ),
      );
    } else if (context.now.getTime() - signoff.at.getTime() > interval) {
      report(
        finding(
          'DRCTL_SIGNOFF_STALE',
          workload.at,
          `workload ${workload.id} was signed off by ${signoff.by} on ${day(signoff.at)}, ${age(context.now, signoff.at)} ago, longer than the review interval of ${formatDuration(interval)}`,
          'confirm the tier and objectives with the business again and update signoff.at',
          { workload: workload.id },
        ),
      );
    }
  }
};

/** Drill types that exercise a runbook's instructions end to end or on paper. */
const EXERCISES: ReadonlySet<DrillType> = new Set(['tabletop', 'partial', 'full']);

function latest(records: readonly DrillRecord[]): DrillRecord | undefined {
  let best: DrillRecord | undefined;
  for (const r of records) if (best === undefined || r.at.getTime() > best.at.getTime()) best = r;
  return best;
}

/**
 * A runbook with manual steps is exercised by a tabletop, partial or full drill of its workload (or of
 * the whole plan, a drill record without a workload). Without one within the review interval, its
 * instructions may describe screens that have changed.
 */
export const instructionsExercised: Rule = (context, report) => {
  const interval = context.plan.review.intervalMs;
  const scenarios = new Map(context.plan.drills.scenarios.map((s) => [s.id, s]));
  for (const workload of context.plan.workloads) {
    for (const runbook of workload.runbooks) {
      const manual = runbook.steps.find((s) => s.kind === 'manual');
      if (manual === undefined) continue;
      const exercised = latest(
        context.plan.drills.history.filter((r) => {
          if (!EXERCISES.has(r.type)) return false;
          const scenario = r.scenario === undefined ? undefined : scenarios.get(r.scenario);
          if (scenario !== undefined)
            return scenario.workload === workload.id && scenario.runbook === runbook.name;
          return r.workload === undefined || r.workload === workload.id;
        }),
      );
      if (exercised !== undefined && context.now.getTime() - exercised.at.getTime() <= interval) continue;
      const since =
        exercised === undefined ? 'never been exercised' : `not been exercised since ${day(exercised.at)}`;
      report(
        finding(
          'DRCTL_INSTRUCTIONS_STALE',
          manual.at,
          `runbook ${runbook.name} of workload ${workload.id} has manual instructions (first: ${manual.id}) that have ${since} in a drill (review interval ${formatDuration(interval)})`,
          'walk through the runbook in a tabletop or failover drill, fix what changed, and record it in drills.history',
          { workload: workload.id, runbook: runbook.name, step: manual.id },
        ),
      );
    }
  }
};

/** Seed 004's schedule: tabletop quarterly, partial twice a year, full yearly, backup restore monthly. */
export const drillSchedule: Rule = (context, report) => {
  const { plan, now } = context;
  const runbooks = plan.workloads.flatMap((w) => w.runbooks);
  const applies: Record<DrillType, boolean> = {
    tabletop: plan.workloads.length > 0,
    partial: runbooks.some((r) => r.kind === 'failover'),
    full: runbooks.some((r) => r.kind === 'failover'),
    'backup-restore': plan.workloads.some((w) => w.components.some((c) => c.backups.length > 0)),
  };
  for (const [type, everyMs] of Object.entries(plan.drills.schedule) as Array<[DrillType, number]>) {
    if (!applies[type]) continue;
    const last = latest(plan.drills.history.filter((r) => r.type === type));
    if (last?.result === 'failed') {
      report(
        finding(
          'DRCTL_DRILL_FAILED',
          last.location,
          `the last ${type} drill, on ${day(last.at)}${last.scenario ? ` (scenario ${last.scenario})` : ''}, failed`,
          'fix what it found and run the drill again; record the new result in drills.history',
        ),
      );
    }
    // a day of slack so that a drill done on the same date of the next period is on time
    if (last !== undefined && now.getTime() - last.at.getTime() <= everyMs + DAY_MS) continue;
    report(
      finding(
        'DRCTL_DRILL_OVERDUE',
        last?.location ?? plan.at,
        last === undefined
          ? `no ${type} drill is recorded; the schedule asks for one every ${formatDuration(everyMs)}`
          : `the last ${type} drill was on ${day(last.at)}, ${age(now, last.at)} ago; the schedule asks for one every ${formatDuration(everyMs)}`,
        `run a ${type} drill (drctl drill) and record it in drills.history`,
      ),
    );
  }
};
