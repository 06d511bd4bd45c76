/**
 * Which drill scenario a run means, and whether a drill can inject its faults: a fault the drill cannot
 * inject is a plan error positioned on the fault, found before anything is brought up.
 */
import { DrctlError, UsageError } from '../errors.ts';
import type { Fault, Plan, Scenario, Workload } from '../plan/model.ts';
import { checkExistingFaults } from './existing.ts';
import { drillStarts, drillStartsPlacement } from './starts.ts';

/** Network faults go through a fault proxy in front of the target. */
export const NETWORK_FAULTS: ReadonlySet<string> = new Set(['latency', 'blackhole', 'reset', 'bandwidth']);
/** Faults after which the target site no longer ships data anywhere. */
export const SITE_CUT: ReadonlySet<string> = new Set(['kill', 'stop', 'blackhole', 'reset']);
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
