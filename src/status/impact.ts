/**
 * Impact through the plan's dependency graph: the state of components (a probe that fails, a run acting
 * on them, an incident or a maintenance naming them) becomes the state of every user flow that needs
 * them, directly or through `depends_on`, in any workload. A flow that the plan says survives the loss of
 * a component (`flows[].survives`) shows degraded instead of down. The same walk tells which workloads
 * are affected, and so who is told.
 */
import type { Plan, Workload } from '../plan/model.ts';
import { siteOfRun, siteRecovery, type SiteRecovery } from '../plan/site.ts';

/** What is known about one component. */
export type ComponentState =
  /** lost, or being recovered by a run */
  | 'down'
  /** working with reduced capacity (some of its placements fail) */
  | 'degraded'
  /** in a scheduled maintenance window */
  | 'maintenance';

/** What a user of a flow sees, worst last. */
export const FLOW_STATES = [
  'operational',
  'under-maintenance',
  'degraded',
  'partial-outage',
  'major-outage',
] as const;
export type FlowState = (typeof FLOW_STATES)[number];

export interface FlowImpact {
  workload: string;
  flow: string;
  state: FlowState;
  /** The components (with their state) that make the flow what it is, for "why". */
  because: Array<{ component: string; state: ComponentState }>;
}

/** Every component a flow needs: its own depends_on and everything those depend on, across workloads. */
export function flowNeeds(plan: Plan, workload: Workload, flowName: string): Set<string> {
  const flow = workload.flows.find((f) => f.name === flowName);
  const byId = new Map(plan.workloads.flatMap((w) => w.components).map((c) => [c.id, c]));
  const needs = new Set<string>();
  const stack = [...(flow?.dependsOn ?? [])];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (needs.has(id)) continue;
    needs.add(id);
    stack.push(...(byId.get(id)?.dependsOn ?? []));
  }
  return needs;
}

export function worstFlowState(states: Iterable<FlowState>): FlowState {
  let worst: FlowState = 'operational';
  for (const state of states) if (FLOW_STATES.indexOf(state) > FLOW_STATES.indexOf(worst)) worst = state;
  return worst;
}

/** The state of every flow of the plan, given what is known about components (absent means working). */
export function flowImpact(plan: Plan, components: ReadonlyMap<string, ComponentState>): FlowImpact[] {
  const result: FlowImpact[] = [];
  for (const workload of plan.workloads) {
    for (const flow of workload.flows) {
      const because: FlowImpact['because'] = [];
      for (const id of flowNeeds(plan, workload, flow.name)) {
        const state = components.get(id);
        if (state !== undefined) because.push({ component: id, state });
      }
      const survives = new Set(flow.survives);
      const states = because.map(({ component, state }): FlowState => {
        if (state === 'maintenance') return 'under-maintenance';
        if (survives.has(component)) return 'degraded';
        return state === 'down' ? 'major-outage' : 'partial-outage';
      });
      result.push({ workload: workload.id, flow: flow.name, state: worstFlowState(states), because });
    }
  }
  return result;
}

/** Flows that are not operational when these components are lost. */
export function affectedFlows(
  plan: Plan,
  lost: readonly string[],
  state: ComponentState = 'down',
): FlowImpact[] {
  return flowImpact(plan, new Map(lost.map((id) => [id, state]))).filter((f) => f.state !== 'operational');
}

/**
 * Workloads touched by the loss: the ones owning a lost component and the ones with an affected flow,
 * the run's own workload first.
 */
export function affectedWorkloads(plan: Plan, lost: readonly string[], first?: string): string[] {
  const owners = plan.workloads.filter((w) => w.components.some((c) => lost.includes(c.id))).map((w) => w.id);
  const flows = affectedFlows(plan, lost).map((f) => f.workload);
  const ids = new Set([...(first === undefined ? [] : [first]), ...owners, ...flows]);
  return [...ids];
}

/**
 * The people of a workload: its owner, the owners and escalation contacts of its runbooks' steps, and who
 * signed its objectives off. Backups are not here: they are reached through escalation.
 */
export function workloadContacts(workload: Workload): string[] {
  const ids = new Set<string>([workload.owner]);
  for (const runbook of workload.runbooks)
    for (const step of runbook.steps) {
      if (step.owner !== undefined) ids.add(step.owner);
      if (step.escalateTo !== undefined) ids.add(step.escalateTo);
    }
  if (workload.signoff !== undefined) ids.add(workload.signoff.by);
  return [...ids];
}

/** Components a runbook acts on or checks: what a run of it takes away while it runs. */
export function runbookComponents(plan: Plan, workloadId: string, runbookName: string): string[] {
  const site = siteOfRun(workloadId);
  if (site !== undefined) return siteRunComponents(plan, site);
  const workload = plan.workloads.find((w) => w.id === workloadId);
  const runbook = workload?.runbooks.find((r) => r.name === runbookName);
  if (workload === undefined || runbook === undefined) return [];
  const known = new Set(plan.workloads.flatMap((w) => w.components.map((c) => c.id)));
  const ids = new Set<string>();
  for (const step of runbook.steps) {
    const named = step.with.component;
    if (typeof named === 'string' && known.has(named)) ids.add(named);
    for (const check of step.validate) if (check.component !== undefined) ids.add(check.component);
  }
  if (workload.frontDoor !== undefined) ids.add(workload.frontDoor.component);
  return ids.size > 0 ? [...ids] : workload.components.map((c) => c.id);
}

/**
 * A site run takes away what each of its children's runbooks acts on; `children` narrows it to some
 * (those not back yet). Empty when the plan no longer makes a run of the site.
 */
export function siteRunComponents(plan: Plan, site: string, children?: readonly string[]): string[] {
  let recovery: SiteRecovery;
  try {
    recovery = siteRecovery(plan, site);
  } catch {
    return [];
  }
  const ids = recovery.children
    .filter((child) => children === undefined || children.includes(child.workload))
    .flatMap((child) => runbookComponents(plan, child.workload, child.runbook));
  return [...new Set(ids)];
}
