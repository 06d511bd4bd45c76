/**
 * Site recovery: when a site is lost, every workload it serves fails over in one run. This module derives
 * that run from the plan alone: which workloads (a component placed in the site, not as a standby), each
 * one's failover runbook as a child, and the order between children (a workload whose components depend on
 * another workload's components starts after that workload's runbook has finished). The children's steps
 * are joined into one runbook whose step ids are `<workload>.<step>`, so one journal, one declaration and
 * one audit chain cover the whole site while each child keeps its own approvals, manual steps and evidence.
 * The engine (start and resume), the dry run and analysis all build it with this one function.
 */
import { DrctlError, UsageError } from '../errors.ts';
import { findCycle } from './cycle.ts';
import type { Plan, Runbook, Site, Step, TierLevel, Workload } from './model.ts';

/** What separates a workload from its step in a site run's step ids (ids never contain a dot). */
export const CHILD_SEPARATOR = '.';

/** The run's workload column names the site, so lists and the status page tell it from a workload's run. */
export const SITE_RUN_PREFIX = 'site:';
export const SITE_RUNBOOK = 'site-lost';

export interface SiteChild {
  workload: string;
  runbook: string;
  tier: TierLevel;
  rtoMs: number;
  team: string;
  /** Workloads (children of the same run) whose runbooks must finish before this one starts. */
  after: string[];
  /** The child's step ids in the site run (prefixed). */
  steps: string[];
}

export interface SiteRecovery {
  site: string;
  /** Children in the order they are listed: by tier, then dependency order, then plan order. */
  children: SiteChild[];
  /** Workload ids by wave: a wave's children can run in parallel once the earlier waves are done. */
  waves: string[][];
  /** Every child's steps in one runbook (no activation gate: the engine puts the declaration in front). */
  runbook: Runbook;
}

export function siteRunWorkload(site: string): string {
  return `${SITE_RUN_PREFIX}${site}`;
}

/** The site of a run's workload column (`site:east` → `east`), or undefined for a workload's run. */
export function siteOfRun(workload: string): string | undefined {
  return workload.startsWith(SITE_RUN_PREFIX) ? workload.slice(SITE_RUN_PREFIX.length) : undefined;
}

/** The workload a site run's step belongs to (`shop.promote` → `shop`); undefined for the declaration. */
export function childOfStep(stepId: string): string | undefined {
  const dot = stepId.indexOf(CHILD_SEPARATOR);
  return dot < 0 ? undefined : stepId.slice(0, dot);
}

function servedFrom(workload: Workload, site: string): boolean {
  return workload.components.some((component) =>
    component.placement.some((placement) => placement.site === site && !placement.standby),
  );
}

function findSite(plan: Plan, site: string): Site {
  const found = plan.sites.find((candidate) => candidate.id === site);
  if (found === undefined) {
    throw new UsageError('DRCTL_SITE_UNKNOWN', `the plan has no site ${site}`, {
      hint: `sites in this plan: ${plan.sites.map((candidate) => candidate.id).join(', ')}`,
      location: plan.at,
    });
  }
  return found;
}

/**
 * The workloads a site's loss takes down and the order they come back in. Throws DRCTL_SITE_UNKNOWN or
 * DRCTL_SITE_UNUSED (usage) for a site with nothing to recover, DRCTL_SITE_FAILOVER_MISSING and
 * DRCTL_SITE_CYCLE (plan errors, positioned on the workload) when the plan cannot make one run of it.
 */
export function siteRecovery(plan: Plan, site: string): SiteRecovery {
  const siteEntry = findSite(plan, site);
  const lost = plan.workloads.filter((workload) => servedFrom(workload, site));
  if (lost.length === 0) {
    const standbys = plan.workloads
      .filter((workload) => workload.components.some((c) => c.placement.some((p) => p.site === site)))
      .map((workload) => workload.id);
    throw new UsageError('DRCTL_SITE_UNUSED', `no workload is served from site ${site}`, {
      hint:
        standbys.length > 0
          ? `only standbys of ${standbys.join(', ')} are placed there: losing it needs no failover (rebuild the standby)`
          : 'place a component there, or name the site whose loss you mean',
      location: siteEntry.at,
    });
  }
  for (const workload of lost) {
    if (!workload.runbooks.some((runbook) => runbook.kind === 'failover')) {
      throw new DrctlError(
        'DRCTL_SITE_FAILOVER_MISSING',
        `workload ${workload.id} is served from site ${site} but has no failover runbook`,
        { hint: 'add runbooks: { failover: { steps: [...] } } to the workload', location: workload.at },
      );
    }
  }
  const owner = new Map<string, string>();
  for (const workload of plan.workloads)
    for (const component of workload.components) owner.set(component.id, workload.id);
  const lostIds = new Set(lost.map((workload) => workload.id));
  const after = new Map<string, string[]>();
  for (const workload of lost) {
    const needs = new Set<string>();
    for (const component of workload.components)
      for (const dependency of component.dependsOn) {
        const other = owner.get(dependency);
        if (other !== undefined && other !== workload.id && lostIds.has(other)) needs.add(other);
      }
    after.set(workload.id, [...needs]);
  }
  const cycle = findCycle([...lostIds], (id) => after.get(id) ?? []);
  if (cycle !== undefined) {
    const first = lost.find((workload) => workload.id === cycle[0]);
    throw new DrctlError(
      'DRCTL_SITE_CYCLE',
      `workloads depend on each other in a cycle: ${cycle.join(' → ')}; no order recovers site ${site}`,
      {
        hint: 'remove one depends_on between their components, or merge the workloads',
        ...(first === undefined ? {} : { location: first.at }),
      },
    );
  }
  const waves = workloadWaves(lost, after);
  const waveOf = new Map(waves.flatMap((wave, index) => wave.map((id) => [id, index] as const)));
  const ordered = [...lost].sort(
    (a, b) => (waveOf.get(a.id) ?? 0) - (waveOf.get(b.id) ?? 0) || a.tier - b.tier,
  );
  const children: SiteChild[] = [];
  const steps: Step[] = [];
  const lastSteps = new Map<string, string[]>();
  for (const workload of ordered) {
    const runbook = workload.runbooks.find((candidate) => candidate.kind === 'failover') as Runbook;
    const prefix = (id: string): string => `${workload.id}${CHILD_SEPARATOR}${id}`;
    const needed = new Set(runbook.steps.flatMap((step) => step.needs));
    lastSteps.set(
      workload.id,
      runbook.steps.filter((step) => !needed.has(step.id)).map((step) => prefix(step.id)),
    );
    const entry = (after.get(workload.id) ?? []).flatMap((id) => lastSteps.get(id) ?? []);
    for (const step of runbook.steps) {
      steps.push({
        ...step,
        id: prefix(step.id),
        needs: step.needs.length === 0 ? entry : step.needs.map(prefix),
      });
    }
    children.push({
      workload: workload.id,
      runbook: runbook.name,
      tier: workload.tier,
      rtoMs: workload.rtoMs,
      team: workload.team ?? workload.id,
      after: after.get(workload.id) ?? [],
      steps: runbook.steps.map((step) => prefix(step.id)),
    });
  }
  return {
    site,
    children,
    waves,
    runbook: {
      workload: siteRunWorkload(site),
      name: SITE_RUNBOOK,
      kind: 'failover',
      description: `Recover every workload served from site ${site}: ${children.map((child) => child.workload).join(', ')}`,
      prerequisites: [],
      postRequisites: [],
      steps,
      at: siteEntry.at,
    },
  };
}

/** Waves of workloads; within a wave, lower tiers (more critical) first, then plan order. */
function workloadWaves(workloads: readonly Workload[], after: ReadonlyMap<string, string[]>): string[][] {
  const level = new Map<string, number>();
  const levelOf = (id: string): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    // cycles were refused before, and the chain is as long as the number of workloads at most
    const value = Math.max(-1, ...(after.get(id) ?? []).map(levelOf)) + 1;
    level.set(id, value);
    return value;
  };
  const waves: string[][] = [];
  for (const workload of [...workloads].sort((a, b) => a.tier - b.tier)) {
    const index = levelOf(workload.id);
    (waves[index] ??= []).push(workload.id);
  }
  return waves.filter((wave) => wave !== undefined);
}
