import type { Component, Contact, Plan, Strategy, Workload } from '../plan/model.ts';
import { kindFacts } from '../plan/schema/kinds.ts';
import type { Finding } from './findings.ts';

/** What every rule reads: the plan, the time it is judged at, lookups built once. */
export interface AnalysisContext {
  plan: Plan;
  now: Date;
  components: Map<string, Component>;
  contacts: Map<string, Contact>;
  workloads: Map<string, Workload>;
  sites: Set<string>;
  /** Ids of components some other component references (cross-store pointers). */
  referenced: Set<string>;
}

/** A rule reads the plan and reports what it finds. */
export type Rule = (context: AnalysisContext, report: (finding: Finding) => void) => void;

export function createContext(plan: Plan, now: Date): AnalysisContext {
  const components = new Map<string, Component>();
  for (const workload of plan.workloads)
    for (const component of workload.components) components.set(component.id, component);
  return {
    plan,
    now,
    components,
    contacts: new Map(plan.contacts.map((c) => [c.id, c])),
    workloads: new Map(plan.workloads.map((w) => [w.id, w])),
    sites: new Set(plan.sites.map((s) => s.id)),
    referenced: referencedComponents(plan),
  };
}

/** Strategies from weakest to strongest; the index is the strategy's strength. */
export const STRATEGY_STRENGTH: readonly Strategy[] = [
  'backup-restore',
  'cold-standby',
  'warm-standby',
  'hot-standby',
  'active-active',
];

export function strength(strategy: Strategy): number {
  return STRATEGY_STRENGTH.indexOf(strategy);
}

/**
 * Strategies each tier calls for, weakest and strongest (seed 002's tier descriptions, with seed 004's
 * table): tier 0 active-active; tier 1 warm or hot standby or active-active; tier 2 warm or cold
 * standby; tier 3 backup and restore or cold standby.
 */
export const TIER_STRATEGIES: Record<0 | 1 | 2 | 3, { weakest: Strategy; strongest: Strategy }> = {
  0: { weakest: 'active-active', strongest: 'active-active' },
  1: { weakest: 'warm-standby', strongest: 'active-active' },
  2: { weakest: 'cold-standby', strongest: 'warm-standby' },
  3: { weakest: 'backup-restore', strongest: 'cold-standby' },
};

/**
 * Whether a component holds data: its kind does (plan/schema/kinds.ts; "holds data" is what a plan fails
 * to say when it forgets backups), or it has replication, backups or cross-store references.
 */
export function holdsData(component: Component, referenced: ReadonlySet<string>): boolean {
  return (
    kindFacts(component.kind)?.holdsData === true ||
    component.replication !== undefined ||
    component.backups.length > 0 ||
    component.references.length > 0 ||
    referenced.has(component.id)
  );
}

/** Ids of components some other component references (cross-store pointers). */
export function referencedComponents(plan: Plan): Set<string> {
  const ids = new Set<string>();
  for (const w of plan.workloads) for (const c of w.components) for (const r of c.references) ids.add(r);
  return ids;
}

/** The component a step acts on, when its parameters name one (`with: { component: db }`). */
export function stepComponent(step: { with: Record<string, unknown> }): string | undefined {
  const value = step.with['component'];
  return typeof value === 'string' ? value : undefined;
}

export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}
