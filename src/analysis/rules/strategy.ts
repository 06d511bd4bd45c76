/**
 * Seed 002's suggested actions per strategy, as readiness rules: each action a plan can show it took
 * (replication that keeps a hot standby current, snapshots on a clock for a warm one, a front door sending
 * traffic to both sites of an active-active workload, restores proven for backup and restore, a runbook
 * that provisions a cold standby's compute) is checked here. The rest is people's work, recorded with
 * `drctl attest` (src/plan/strategies.ts says which action is which).
 */
import { Cron } from 'croner';
import { formatDuration } from '../../plan/duration.ts';
import type { BackupSchedule, Component, Step, Workload } from '../../plan/model.ts';
import type { AnalysisContext, Rule } from '../context.ts';
import { holdsData, stepComponent } from '../context.ts';
import { finding } from '../findings.ts';

function dataComponents(context: AnalysisContext, workload: Workload): Component[] {
  return workload.components.filter((c) => holdsData(c, context.referenced));
}

/** Hot standby and active-active: replication that keeps the other site current, and is watched. */
export const hotReplication: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    if (workload.strategy !== 'hot-standby' && workload.strategy !== 'active-active') continue;
    for (const component of dataComponents(context, workload)) {
      const mode = component.replication?.mode ?? 'none';
      const subject = { workload: workload.id, component: component.id };
      if (mode === 'sync' || (mode === 'async' && component.replication?.maxLagMs !== undefined)) continue;
      const problem =
        mode === 'async'
          ? 'replicates asynchronously with no max_lag, so nothing watches how far the standby is behind'
          : mode === 'snapshot'
            ? 'is copied by snapshots, not continuous replication'
            : 'is not replicated to the other site';
      report(
        finding(
          'DRCTL_STRATEGY_HOT_REPLICATION',
          component.replication?.at ?? component.at,
          `component ${component.id} of ${workload.strategy} workload ${workload.id} ${problem}`,
          mode === 'async'
            ? 'set replication.max_lag to the lag you accept (readiness then alerts beyond it), or use mode: sync'
            : 'replicate it continuously: replication: { mode: sync } (or async with max_lag)',
          subject,
        ),
      );
    }
  }
};

/** Interval between two runs of a schedule, in ms (a cron expression's next two occurrences). */
function scheduleInterval(schedule: BackupSchedule): number | undefined {
  if (schedule.everyMs !== undefined) return schedule.everyMs;
  if (schedule.cron === undefined) return undefined;
  const [first, second] = new Cron(schedule.cron, { timezone: schedule.timezone ?? 'UTC' }).nextRuns(2);
  return first && second ? second.getTime() - first.getTime() : undefined;
}

/** Warm standby: a copy of every data component reaches the standby on a clock, within the RPO. */
export const warmSnapshots: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    if (workload.strategy !== 'warm-standby') continue;
    for (const component of dataComponents(context, workload)) {
      const replication = component.replication;
      if (replication !== undefined && replication.mode !== 'none') continue;
      const scheduled = (workload.schedules ?? [])
        .filter((s) => s.task === 'backup' && s.target === component.id)
        .map(scheduleInterval)
        .filter((ms): ms is number => ms !== undefined);
      const best = scheduled.length === 0 ? undefined : Math.min(...scheduled);
      if (best !== undefined && best <= workload.rpoMs) continue;
      report(
        finding(
          'DRCTL_STRATEGY_WARM_SNAPSHOT',
          component.at,
          best === undefined
            ? `component ${component.id} of warm-standby workload ${workload.id} is neither replicated nor backed up on a schedule: nothing ships its data to the standby`
            : `component ${component.id} of warm-standby workload ${workload.id} is backed up every ${formatDuration(best)} on its schedule, longer than the RPO of ${formatDuration(workload.rpoMs)}`,
          `add replication: { mode: snapshot, every: ${formatDuration(workload.rpoMs).replace(/ /g, '')} }, or a schedule { id: ..., backup: ${component.id}, every: ... } within the RPO`,
          { workload: workload.id, component: component.id },
        ),
      );
    }
  }
};

/** Active-active: the front door sends traffic to every site, none of them a standby. */
export const activeRouting: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    if (workload.strategy !== 'active-active') continue;
    const door = workload.frontDoor;
    const served = door === undefined ? undefined : context.components.get(door.component);
    const active = served?.placement.filter((p) => !p.standby).map((p) => p.site) ?? [];
    if (active.length >= 2) continue;
    report(
      finding(
        'DRCTL_STRATEGY_ACTIVE_ROUTING',
        door?.at ?? workload.at,
        door === undefined
          ? `active-active workload ${workload.id} has no front door: nothing sends traffic to both sites`
          : `the front door of active-active workload ${workload.id} sends traffic only to ${active.join(', ') || 'no site'}: component ${door.component} is active at fewer than two sites`,
        door === undefined
          ? 'add front_door: { listen: ..., component: <the served component> } with placements at both sites'
          : `place ${door.component} at a second site without standby: true`,
        { workload: workload.id },
      ),
    );
  }
};

/** Backup and restore: a restore is proven within the review interval (a verification or a drill). */
export const restoreVerified: Rule = (context, report) => {
  const interval = context.plan.review.intervalMs;
  for (const workload of context.plan.workloads) {
    if (workload.strategy !== 'backup-restore') continue;
    const verifications = workload.verifications ?? [];
    if (verifications.some((v) => v.verifyEveryMs <= interval)) continue;
    const drilled = context.plan.drills.history.some(
      (d) =>
        d.type === 'backup-restore' &&
        d.result !== 'failed' &&
        (d.workload === undefined || d.workload === workload.id) &&
        context.now.getTime() - d.at.getTime() <= interval,
    );
    if (drilled) continue;
    report(
      finding(
        'DRCTL_STRATEGY_RESTORE_UNVERIFIED',
        workload.at,
        verifications.length === 0
          ? `backup-restore workload ${workload.id} has no restore verification and no passed backup-restore drill in the last ${formatDuration(interval)}`
          : `the restore verifications of backup-restore workload ${workload.id} run less often than the review interval of ${formatDuration(interval)}`,
        'add verifications: [{ id: ..., component: ..., prove: { ... } }] with a verify schedule, or record a backup-restore drill',
        { workload: workload.id },
      ),
    );
  }
};

/**
 * Whether an automated step brings up a component: it acts on it (`with: { component }`), or its id or
 * command names it (`redeploy-ingestion`, `./deploy.sh ingestion`). Seed 002 asks for automated
 * provisioning, so a manual step does not count.
 */
function bringsUp(step: Step, component: string): boolean {
  if (step.kind !== 'action' && step.kind !== 'shell') return false;
  if (stepComponent(step) === component) return true;
  const word = new RegExp(`(^|[^a-z0-9_])${component.replace(/[^a-z0-9_-]/gi, '')}($|[^a-z0-9_])`, 'i');
  return word.test(step.id) || word.test(step.run ?? '');
}

/** Cold standby: the failover runbook brings up the compute (a step acting on a component without data). */
export const coldProvisioning: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    if (workload.strategy !== 'cold-standby') continue;
    const data = new Set(dataComponents(context, workload).map((c) => c.id));
    const compute = workload.components.filter((c) => !data.has(c.id)).map((c) => c.id);
    const failovers = workload.runbooks.filter((r) => r.kind === 'failover');
    if (compute.length === 0 || failovers.length === 0) continue;
    for (const runbook of failovers) {
      const provisions = runbook.steps.some((s) => compute.some((id) => bringsUp(s, id)));
      if (provisions) continue;
      report(
        finding(
          'DRCTL_STRATEGY_COLD_PROVISION',
          runbook.at,
          `failover runbook ${runbook.name} of cold-standby workload ${workload.id} has no automated step that brings up its compute (${compute.join(', ')})`,
          `add a step acting on ${compute[0]} at the recovery site (e.g. action: process.start with: { component: ${compute[0]}, site: ... })`,
          { workload: workload.id, runbook: runbook.name },
        ),
      );
    }
  }
};
