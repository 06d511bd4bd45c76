/**
 * The loss of a whole site, predicted: every workload it serves recovered in one run (plan/site.ts), its
 * steps scheduled within the DR executors the plan has (people.ts), and each workload's and each tier's
 * finish time compared with its RTO. The dry run of `drctl run --site-lost` prints this; the analysis
 * reports a finding when the site's order (DRCTL_SITE_RTO_EXCEEDED) or its people (DRCTL_PEOPLE_RTO) make
 * a workload miss an RTO its own runbook would meet.
 */
import { formatDuration } from '../plan/duration.ts';
import type { Plan, TierLevel } from '../plan/model.ts';
import { siteRecovery, type SiteRecovery } from '../plan/site.ts';
import { finding } from './findings.ts';
import type { Finding } from './findings.ts';
import { criticalPath } from './graph.ts';
import { scheduleWithPeople, type PeopleSchedule, type PeopleTask } from './people.ts';

export interface SiteChildTiming {
  workload: string;
  runbook: string;
  tier: TierLevel;
  team: string;
  after: string[];
  startMs: number;
  finishMs: number;
  /** Finish with no limit on people. */
  unlimitedFinishMs: number;
  /** The workload's own runbook alone, with no limit on people: its critical path. */
  ownPathMs: number;
  rtoMs: number;
  fits: boolean;
  /** Time its manual steps and approvals waited for a person. */
  waitedForPeopleMs: number;
}

export interface SiteTierTiming {
  tier: TierLevel;
  workloads: string[];
  finishMs: number;
  unlimitedFinishMs: number;
  /** The tightest RTO among its workloads. */
  rtoMs: number;
  fits: boolean;
}

export interface SiteStepTiming {
  id: string;
  kind: string;
  startMs: number;
  finishMs: number;
  waitedMs: number;
  /** Pools of people it draws on. */
  pools: string[];
}

export interface SiteAnalysis {
  site: string;
  recovery: SiteRecovery;
  /** Executors that limit this site's recovery: `team:<id>` and `site:<id>` pools with their size. */
  executors: Record<string, number>;
  totalMs: number;
  unlimitedTotalMs: number;
  /** Children in the order the schedule starts them. */
  order: SiteChildTiming[];
  tiers: SiteTierTiming[];
  steps: SiteStepTiming[];
}

const PEOPLE_KINDS = new Set(['manual', 'approval']);

export function analyzeSite(plan: Plan, site: string): SiteAnalysis {
  const recovery = siteRecovery(plan, site);
  const capacity = new Map<string, number>();
  for (const [team, count] of Object.entries(plan.executors?.teams ?? {}))
    capacity.set(`team:${team}`, count);
  const siteLimit = plan.executors?.sites[site];
  if (siteLimit !== undefined) capacity.set(`site:${site}`, siteLimit);
  const childOf = new Map(recovery.children.flatMap((child) => child.steps.map((id) => [id, child])));
  const tasks: PeopleTask[] = recovery.runbook.steps.map((step) => {
    const child = childOf.get(step.id);
    const pools =
      PEOPLE_KINDS.has(step.kind) && child !== undefined
        ? [`team:${child.team}`, `site:${site}`].filter((pool) => capacity.has(pool))
        : [];
    return {
      id: step.id,
      needs: step.needs,
      ms: step.expectedMs + step.contingencyMs,
      pools,
      priority: child?.tier ?? 0,
    };
  });
  const limited = scheduleWithPeople(tasks, capacity);
  const unlimited = scheduleWithPeople(tasks, new Map());
  const span = (schedule: PeopleSchedule, ids: readonly string[]): { start: number; finish: number } => {
    const times = ids.map((id) => schedule.tasks.get(id)).filter((task) => task !== undefined);
    return {
      start: Math.min(...times.map((task) => task.startMs)),
      finish: Math.max(0, ...times.map((task) => task.finishMs)),
    };
  };
  const order: SiteChildTiming[] = recovery.children
    .map((child) => {
      const { start, finish } = span(limited, child.steps);
      const runbook = plan.workloads
        .find((workload) => workload.id === child.workload)
        ?.runbooks.find((candidate) => candidate.name === child.runbook);
      return {
        workload: child.workload,
        runbook: child.runbook,
        tier: child.tier,
        team: child.team,
        after: child.after,
        startMs: Number.isFinite(start) ? start : 0,
        finishMs: finish,
        unlimitedFinishMs: span(unlimited, child.steps).finish,
        ownPathMs: runbook === undefined ? 0 : criticalPath(runbook.steps).ms,
        rtoMs: child.rtoMs,
        fits: finish <= child.rtoMs,
        waitedForPeopleMs: child.steps.reduce((sum, id) => sum + (limited.tasks.get(id)?.waitedMs ?? 0), 0),
      };
    })
    .sort((a, b) => a.startMs - b.startMs || a.tier - b.tier);
  const tiers: SiteTierTiming[] = [];
  for (const tier of [...new Set(order.map((child) => child.tier))].sort()) {
    const members = order.filter((child) => child.tier === tier);
    const finishMs = Math.max(...members.map((child) => child.finishMs));
    const rtoMs = Math.min(...members.map((child) => child.rtoMs));
    tiers.push({
      tier,
      workloads: members.map((child) => child.workload),
      finishMs,
      unlimitedFinishMs: Math.max(...members.map((child) => child.unlimitedFinishMs)),
      rtoMs,
      fits: members.every((child) => child.fits),
    });
  }
  const steps = tasks
    .map((task) => {
      const timing = limited.tasks.get(task.id);
      return {
        id: task.id,
        kind: recovery.runbook.steps.find((step) => step.id === task.id)?.kind ?? 'manual',
        startMs: timing?.startMs ?? 0,
        finishMs: timing?.finishMs ?? 0,
        waitedMs: timing?.waitedMs ?? 0,
        pools: [...task.pools],
      };
    })
    .sort((a, b) => a.startMs - b.startMs || a.finishMs - b.finishMs);
  return {
    site,
    recovery,
    executors: Object.fromEntries(capacity),
    totalMs: limited.totalMs,
    unlimitedTotalMs: unlimited.totalMs,
    order,
    tiers,
    steps,
  };
}

/** Sites whose loss takes down at least one workload, in plan order. */
export function servingSites(plan: Plan): string[] {
  return plan.sites
    .map((site) => site.id)
    .filter((site) =>
      plan.workloads.some((workload) =>
        workload.components.some((c) => c.placement.some((p) => p.site === site && !p.standby)),
      ),
    );
}

/**
 * Findings of one site's loss: a workload whose own runbook fits its RTO but that finishes too late in
 * the site's run, because of the order (it waits for another workload) or because of people.
 */
export function siteFindings(plan: Plan, analysis: SiteAnalysis): Finding[] {
  const found: Finding[] = [];
  for (const child of analysis.order) {
    if (child.fits || child.ownPathMs > child.rtoMs) continue;
    const workload = plan.workloads.find((candidate) => candidate.id === child.workload);
    if (workload === undefined) continue;
    const late = `${formatDuration(child.finishMs)} into the loss of site ${analysis.site}, ${formatDuration(child.finishMs - child.rtoMs)} over its RTO of ${formatDuration(child.rtoMs)} (tier ${child.tier})`;
    const subject = { workload: child.workload, runbook: child.runbook };
    if (child.unlimitedFinishMs <= child.rtoMs) {
      const manual = analysis.steps
        .filter(
          (step) => step.waitedMs > 0 && analysis.recovery.children.some((c) => c.steps.includes(step.id)),
        )
        .sort((a, b) => b.waitedMs - a.waitedMs)
        .slice(0, 3)
        .map((step) => step.id);
      const pools = [
        ...new Set(analysis.steps.filter((step) => step.waitedMs > 0).flatMap((step) => step.pools)),
      ];
      found.push(
        finding(
          'DRCTL_PEOPLE_RTO',
          workload.at,
          `workload ${child.workload} recovers ${late}: people, not machines, make it late (its steps waited ${formatDuration(child.waitedForPeopleMs)} for a DR executor; with enough people it would finish in ${formatDuration(child.unlimitedFinishMs)})`,
          [
            manual.length > 0 ? `automate ${manual.join(', ')}` : undefined,
            pools.length > 0
              ? `add executors to ${pools.map((pool) => `${pool} (${analysis.executors[pool]})`).join(', ')}`
              : undefined,
            `uplift ${child.workload} so that less is manual on the day`,
            `extend its RTO to at least ${formatDuration(Math.ceil(child.finishMs / 60_000) * 60_000)}`,
          ]
            .filter((line) => line !== undefined)
            .join('; '),
          subject,
        ),
      );
    } else {
      found.push(
        finding(
          'DRCTL_SITE_RTO_EXCEEDED',
          workload.at,
          `workload ${child.workload} recovers ${late}: it waits for ${child.after.join(', ') || 'the workloads before it'}, though its own runbook takes ${formatDuration(child.ownPathMs)}`,
          `shorten what it waits for, drop a depends_on that is not needed on the day, uplift the workloads before it, or extend its RTO to at least ${formatDuration(Math.ceil(child.unlimitedFinishMs / 60_000) * 60_000)}`,
          subject,
        ),
      );
    }
  }
  return found;
}
