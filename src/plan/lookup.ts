/**
 * Looking things up in a compiled plan, in one place: a workload, a component, a placement, a runbook,
 * and the `${NAME}` references a plan's URLs take from the environment. Free of zod, for the engine and
 * the providers alike.
 */
import type { Component, Plan, Placement, Runbook, Workload } from './model.ts';

export function findWorkload(plan: Plan, id: string): Workload | undefined {
  return plan.workloads.find((w) => w.id === id);
}

export function findComponent(plan: Plan, id: string): Component | undefined {
  for (const workload of plan.workloads) {
    const component = workload.components.find((c) => c.id === id);
    if (component) return component;
  }
  return undefined;
}

export function findPlacement(plan: Plan, componentId: string, site: string): Placement | undefined {
  return findComponent(plan, componentId)?.placement.find((p) => p.site === site);
}

/** A runbook by `workload/name`, or by name alone when only one workload has it. */
export function findRunbook(plan: Plan, ref: string): Runbook | undefined {
  const [first, second] = ref.split('/');
  if (second !== undefined) return findWorkload(plan, first!)?.runbooks.find((r) => r.name === second);
  const matches = plan.workloads.flatMap((w) => w.runbooks.filter((r) => r.name === first));
  return matches.length === 1 ? matches[0] : undefined;
}

/**
 * `${NAME}` in a URL comes from the environment (URL-encoded), so passwords stay out of plan files;
 * `missing(name)` makes the error for a variable that is not set.
 */
export function expandEnv(text: string, missing: (name: string) => Error): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const value = process.env[name];
    if (value === undefined) throw missing(name);
    return encodeURIComponent(value);
  });
}
