/**
 * Plan as code: load YAML plan files (with includes), validate them against the schema, and compile
 * them into the model that analysis, rendering and the engine read.
 */
export { loadPlan, type LoadPlanOptions } from './load.ts';
export { planJsonSchema } from './json-schema.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { findCycle } from './compile.ts';
export { Redactor, inlineCredentials, inlineSecrets, redactCredentials } from './secrets.ts';
export type { InlineCredential } from './secrets.ts';
export { TIER_DEFAULTS, DRILL_SCHEDULE_DEFAULTS, RETENTION_DEFAULTS, CADENCE_DEFAULTS } from './defaults.ts';
export type * from './model.ts';
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
