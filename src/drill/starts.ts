/**
 * What a drill starts for a component, as its provider declares it (`Provider.drill`): the drill never
 * names a component kind.
 */
import type { Component, Placement } from '../plan/model.ts';
import { providerForKind } from '../providers/index.ts';
import type { DrillSupport } from '../providers/provider.ts';

export type DrillStarts = DrillSupport['starts'];

/** How a drill brings the component up; undefined when it is reached where the plan says. */
export function drillStarts(component: Component): DrillStarts | undefined {
  return providerForKind(component.kind)?.drill?.starts;
}

/** Whether the drill starts this placement (a PostgreSQL placement only when it names its data directory). */
export function drillStartsPlacement(component: Component, placement: Placement): boolean {
  const drill = providerForKind(component.kind)?.drill;
  if (drill === undefined) return false;
  return drill.starts === 'command' || typeof placement.fields[drill.field] === 'string';
}
