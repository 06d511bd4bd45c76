// Run order for documents, computed by analysis's graph functions so that a printed runbook shows the
// same waves and the same critical path as `drctl analyze` and the engine's dry run.
import { componentWaves, criticalPath, dependencyWaves, stepCostMs } from '../analysis/index.ts';
import type { Component, Runbook, Step } from '../plan/model.ts';

export interface RunOrder {
  waves: Step[][];
  /** 1-based position of each step in run order, and its 1-based wave. */
  position: Map<string, { order: number; wave: number }>;
  /** Longest chain of steps by expected time plus contingency. */
  criticalPath: Step[];
  criticalPathMs: number;
  /** Every step one after the other: what a single executor needs. */
  sequentialMs: number;
}

export function runOrder(runbook: Runbook): RunOrder {
  const byId = new Map(runbook.steps.map((step) => [step.id, step]));
  const waves = dependencyWaves(runbook.steps).map((wave) => wave.flatMap((id) => byId.get(id) ?? []));
  const position = new Map<string, { order: number; wave: number }>();
  let order = 0;
  waves.forEach((wave, index) => {
    for (const step of wave) position.set(step.id, { order: ++order, wave: index + 1 });
  });
  const path = criticalPath(runbook.steps);
  return {
    waves,
    position,
    criticalPath: path.steps.flatMap((id) => byId.get(id) ?? []),
    criticalPathMs: path.ms,
    sequentialMs: runbook.steps.reduce((sum, step) => sum + stepCostMs(step), 0),
  };
}

/** Components in recovery order: foundations first, then along the workflows. */
export function recoveryWaves(components: readonly Component[]): string[][] {
  return componentWaves(components);
}
