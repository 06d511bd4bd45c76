/**
 * What a watched run is a run of, in the plans at hand: a workload's runbook, or a site run (its
 * children joined, plan/site.ts). Communications speak of a run through this.
 */
import type { Plan, Runbook, Workload } from '../plan/model.ts';
import { siteOfRun, siteRecovery, type SiteRecovery } from '../plan/site.ts';
import type { WatchedRun } from '../status/run-events.ts';

/** What a run is a run of: a workload's runbook, or a site run (its children joined, plan/site.ts). */
export interface RunSubject {
  plan: Plan;
  workload: Pick<Workload, 'id' | 'name' | 'owner'>;
  runbook: Runbook;
}

/** A site run seen as one workload named for the site, owned by the first activation approver. */
function siteRunOf(plan: Plan, site: string): RunSubject | undefined {
  let recovery: SiteRecovery;
  try {
    recovery = siteRecovery(plan, site);
  } catch {
    return undefined;
  }
  const first = plan.workloads.find((w) => w.id === recovery.children[0]?.workload);
  return {
    plan,
    workload: {
      id: recovery.runbook.workload,
      name: `site ${site} (${recovery.children.map((c) => c.workload).join(', ')})`,
      owner: plan.activation?.approvers[0] ?? first?.owner ?? '',
    },
    runbook: recovery.runbook,
  };
}

/** The plan matched by the run's plan hash first, else any plan with its workload and runbook. */
export function runSubject(plans: readonly Plan[], run: WatchedRun): RunSubject | undefined {
  const ordered = [
    ...plans.filter((p) => p.hash === run.planHash),
    ...plans.filter((p) => p.hash !== run.planHash),
  ];
  const site = siteOfRun(run.workload);
  for (const plan of ordered) {
    if (site !== undefined) {
      const found = siteRunOf(plan, site);
      if (found !== undefined) return found;
      continue;
    }
    const workload = plan.workloads.find((w) => w.id === run.workload);
    const runbook = workload?.runbooks.find((r) => r.name === run.runbook);
    if (workload && runbook) return { plan, workload, runbook };
  }
  return undefined;
}

/** "db at west: 2026-12-06T13:59:58.120Z": what each recovered component's data is current to. */
export function dataAsOfText(run: WatchedRun, runbook: Runbook | undefined): string {
  return [...run.dataAsOf]
    .map(([stepId, at]) => {
      const params = runbook?.steps.find((s) => s.id === stepId)?.with ?? {};
      const component = typeof params['component'] === 'string' ? params['component'] : stepId;
      const site = typeof params['site'] === 'string' ? ` at ${params['site']}` : '';
      return `${component}${site}: ${at}`;
    })
    .join(', ');
}
