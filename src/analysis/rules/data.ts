/**
 * Rules about data: RPO feasibility from replication and backups, components holding data with no
 * copy at all, the 3-2-1 backup rule (seed 004) and cross-store consistency (seed 003).
 */
import { formatDuration } from '../../plan/duration.ts';
import type { Component, Plan } from '../../plan/model.ts';
import type { Rule } from '../context.ts';
import { holdsData, referencedComponents } from '../context.ts';
import { finding } from '../findings.ts';

/** Worst lag assumed for async replication that does not state `max_lag`. */
export const DEFAULT_ASYNC_LAG_MS = 60_000;
/** Interval assumed for snapshot replication that does not state `every`. */
export const DEFAULT_SNAPSHOT_EVERY_MS = 3_600_000;

export interface RecoveryPoint {
  /** Worst data loss, in ms; Infinity when nothing copies the data. */
  ms: number;
  /** What gives it: `sync replication`, `async replication`, `snapshots every 15m`, `backups every 1h`. */
  source: string;
  /** A default was assumed because the plan does not say. */
  assumed: string | undefined;
}

/**
 * The best recovery point a component's copies allow: sync replication loses nothing, async loses its
 * lag, snapshots lose up to their interval, backups up to theirs (seed 003: "the frequency of running
 * the backup process determines your RPO").
 */
export function recoveryPoint(component: Component): RecoveryPoint {
  const options: RecoveryPoint[] = [];
  const replication = component.replication;
  if (replication?.mode === 'sync') options.push({ ms: 0, source: 'sync replication', assumed: undefined });
  if (replication?.mode === 'async') {
    const lag = replication.maxLagMs;
    options.push({
      ms: lag ?? DEFAULT_ASYNC_LAG_MS,
      source: `async replication (lag ${formatDuration(lag ?? DEFAULT_ASYNC_LAG_MS)})`,
      assumed: lag === undefined ? `a lag of ${formatDuration(DEFAULT_ASYNC_LAG_MS)}` : undefined,
    });
  }
  if (replication?.mode === 'snapshot') {
    const every = replication.everyMs;
    options.push({
      ms: every ?? DEFAULT_SNAPSHOT_EVERY_MS,
      source: `snapshots every ${formatDuration(every ?? DEFAULT_SNAPSHOT_EVERY_MS)}`,
      assumed:
        every === undefined ? `snapshots every ${formatDuration(DEFAULT_SNAPSHOT_EVERY_MS)}` : undefined,
    });
  }
  const backup = backupInterval(component);
  if (backup !== undefined)
    options.push({ ms: backup, source: `backups every ${formatDuration(backup)}`, assumed: undefined });
  options.sort((a, b) => a.ms - b.ms);
  return options[0] ?? { ms: Number.POSITIVE_INFINITY, source: 'nothing', assumed: undefined };
}

function backupInterval(component: Component): number | undefined {
  return component.backups.length === 0 ? undefined : Math.min(...component.backups.map((b) => b.everyMs));
}

export const rpoRules: Rule = (context, report) => {
  const referenced = referencedComponents(context.plan);
  for (const workload of context.plan.workloads) {
    for (const component of workload.components) {
      if (!holdsData(component, referenced)) continue;
      const point = recoveryPoint(component);
      const subject = { workload: workload.id, component: component.id };
      if (!Number.isFinite(point.ms)) {
        report(
          finding(
            'DRCTL_DATA_UNPROTECTED',
            component.at,
            `component ${component.id} (${component.kind}) of workload ${workload.id} holds data but has no replication and no backups`,
            `add backups (e.g. backups: [{ every: ${formatDuration(workload.rpoMs).replace(/ /g, '')}, to: <other site> }]) or replication to another site`,
            subject,
          ),
        );
        continue;
      }
      if (point.assumed !== undefined) {
        report(
          finding(
            'DRCTL_RPO_ASSUMED',
            component.replication?.at ?? component.at,
            `component ${component.id}: the plan does not say how much data its ${component.replication?.mode} replication can lose; assuming ${point.assumed}`,
            component.replication?.mode === 'async'
              ? 'set replication.max_lag to the worst lag you accept'
              : 'set replication.every',
            subject,
          ),
        );
      }
      if (point.ms > workload.rpoMs) {
        report(
          finding(
            'DRCTL_RPO_EXCEEDED',
            component.at,
            `component ${component.id} can lose up to ${formatDuration(point.ms)} of data (${point.source}), over the RPO of ${formatDuration(workload.rpoMs)} of workload ${workload.id}`,
            `copy it at least every ${formatDuration(workload.rpoMs)} (more frequent backups, snapshots, or async/sync replication), or agree a longer RPO`,
            subject,
          ),
        );
      }
    }
  }
};

/** The sites where a component serves (its non-standby placements), or every placement when all are standby. */
function primarySites(component: Component, plan: Plan): Set<string> {
  const active = component.placement.filter((p) => !p.standby).map((p) => p.site);
  if (active.length > 0) return new Set(active);
  const primary = plan.sites.filter((s) => s.role === 'primary').map((s) => s.id);
  return new Set(primary);
}

/**
 * 3-2-1 (seed 004): three copies of the data (the live one counts; a replica counts), on two different
 * media (the live copy counts as `disk`, or `database` for replicated databases), one of them off the
 * site where the component runs. Only backups count as off-site: a replica copies a corruption too.
 */
export const backup321: Rule = (context, report) => {
  const referenced = referencedComponents(context.plan);
  for (const workload of context.plan.workloads) {
    for (const component of workload.components) {
      if (!holdsData(component, referenced)) continue;
      if (
        component.backups.length === 0 &&
        (component.replication === undefined || component.replication.mode === 'none')
      )
        continue;
      const replicated = component.replication !== undefined && component.replication.mode !== 'none';
      const copies = 1 + component.backups.length + (replicated ? 1 : 0);
      const media = new Set<string>(['disk', ...component.backups.map((b) => b.media)]);
      const home = primarySites(component, context.plan);
      const offsite = component.backups.some((b) => !home.has(b.to));
      const missing: string[] = [];
      if (copies < 3) missing.push(`${copies} of 3 copies`);
      if (media.size < 2) missing.push(`${media.size} of 2 media`);
      if (!offsite) missing.push('no off-site backup');
      if (missing.length === 0) continue;
      report(
        finding(
          'DRCTL_BACKUP_321',
          component.backups[0]?.at ?? component.at,
          `component ${component.id} of workload ${workload.id} breaks the 3-2-1 backup rule: ${missing.join(', ')}`,
          'keep three copies on two media with one off-site: e.g. add a backup with media: object (or tape) to another site',
          { workload: workload.id, component: component.id },
        ),
      );
    }
  }
};

/** The fix, naming both backup schedules and the one to use. */
function alignHint(
  mineId: string,
  mine: number | undefined,
  theirsId: string,
  theirs: number | undefined,
): string {
  const check = `, and prove the pair after a restore with a verification's prove.references (docs/data-integrity.md)`;
  if (mine === undefined || theirs === undefined) {
    const [missing, present, every] =
      mine === undefined ? [mineId, theirsId, theirs] : [theirsId, mineId, mine];
    return `back up ${missing} on the schedule of ${present} (every ${formatDuration(every ?? 0)})${check}`;
  }
  return `align the backup schedules of ${mineId} (every ${formatDuration(mine)}) and ${theirsId} (every ${formatDuration(theirs)}): back both up every ${formatDuration(Math.min(mine, theirs))}${check}`;
}

/**
 * Seed 003: "a database row pointing at a blob that was never backed up". When a component references
 * another store, both must be copied, on the same schedule, or a restore leaves dangling pointers.
 */
export const crossStore: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const component of workload.components) {
      for (const id of component.references) {
        const other = context.components.get(id);
        if (other === undefined) continue;
        const mine = backupInterval(component);
        const theirs = backupInterval(other);
        let problem: string | undefined;
        if (theirs === undefined && mine !== undefined) problem = `${other.id} is not backed up`;
        else if (mine === undefined && theirs !== undefined) problem = `${component.id} is not backed up`;
        else if (mine !== undefined && theirs !== undefined && mine !== theirs) {
          problem = `${component.id} is backed up every ${formatDuration(mine)} but ${other.id} every ${formatDuration(theirs)}`;
        }
        if (problem === undefined) continue;
        report(
          finding(
            'DRCTL_CROSS_STORE_INCONSISTENT',
            component.at,
            `component ${component.id} references data in ${other.id}, but ${problem}: after a restore it may point at data that is not there`,
            alignHint(component.id, mine, other.id, theirs),
            { workload: workload.id, component: component.id },
          ),
        );
      }
    }
  }
};
