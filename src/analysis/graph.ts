/**
 * Graph arithmetic shared by analysis, rendering and the engine's dry run: dependency waves, the
 * critical path and the earliest timeline of a runbook's steps, and the recovery order of components.
 * These are plain functions over ids and durations so that every caller computes the same answer.
 */
import { DrctlError } from '../errors.ts';
import type { Component, Step } from '../plan/model.ts';

/** Anything with an id and the ids it must wait for. Unknown ids in `needs` are ignored. */
export interface GraphNode {
  id: string;
  needs: readonly string[];
}

export type TimedNode = GraphNode & Pick<Step, 'expectedMs' | 'contingencyMs' | 'clientsMove'>;

/** What a step adds to the path: expected time, contingency, and the time until clients move after it. */
export function stepCostMs(step: TimedNode): number {
  return step.expectedMs + step.contingencyMs + (step.clientsMove?.ms ?? 0);
}

export interface CriticalPath {
  /** expected + contingency along the longest chain of `needs`, in milliseconds. */
  ms: number;
  /** The same, in seconds (not rounded). */
  seconds: number;
  /** Step ids along the path, first to last. */
  steps: string[];
}

export interface TimelineEntry {
  id: string;
  /** Earliest start when every step takes expected + contingency and runs as soon as its needs finish. */
  startMs: number;
  finishMs: number;
}

/**
 * Nodes in an order where every node comes after the nodes it needs; ties keep the input order.
 * Throws DRCTL_PLAN_CYCLE when the nodes form a cycle (the loader rejects those, so it means a bug or
 * a hand-built plan).
 */
export function topologicalOrder<N extends GraphNode>(nodes: readonly N[]): N[] {
  const index = new Map<string, number>();
  nodes.forEach((node, i) => index.set(node.id, i));
  const pending = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((node, i) => {
    for (const need of new Set(node.needs)) {
      const j = index.get(need);
      if (j === undefined || j === i) continue;
      pending[i] = (pending[i] ?? 0) + 1;
      dependents[j]?.push(i);
    }
  });
  // A plain queue over indices keeps this linear; input order among ready nodes keeps it stable.
  const queue: number[] = [];
  nodes.forEach((_, i) => {
    if (pending[i] === 0) queue.push(i);
  });
  const order: N[] = [];
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head] as number;
    order.push(nodes[i] as N);
    for (const k of dependents[i] ?? []) {
      pending[k] = (pending[k] ?? 0) - 1;
      if (pending[k] === 0) queue.push(k);
    }
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => (pending[i] ?? 0) > 0).map((n) => n.id);
    throw new DrctlError('DRCTL_PLAN_CYCLE', `a cycle runs through ${stuck.slice(0, 5).join(', ')}`, {
      hint: 'remove one of the dependencies so that the graph has a start',
    });
  }
  return order;
}

/**
 * Dependency waves: wave 0 holds the nodes that need nothing, wave k the nodes whose longest chain of
 * needs is k long. Everything in one wave can run in parallel; within a wave the input order is kept.
 */
export function dependencyWaves(nodes: readonly GraphNode[]): string[][] {
  const level = new Map<string, number>();
  const known = new Set(nodes.map((n) => n.id));
  for (const node of topologicalOrder(nodes)) {
    let wave = 0;
    for (const need of node.needs) {
      if (need !== node.id && known.has(need)) wave = Math.max(wave, (level.get(need) ?? 0) + 1);
    }
    level.set(node.id, wave);
  }
  const waves: string[][] = [];
  for (const node of nodes) {
    const wave = level.get(node.id) ?? 0;
    while (waves.length <= wave) waves.push([]);
    waves[wave]?.push(node.id);
  }
  return waves;
}

/** Earliest start and finish of every step, in input order, when steps start as soon as their needs finish. */
export function stepTimeline(steps: readonly TimedNode[]): TimelineEntry[] {
  const finish = new Map<string, number>();
  const start = new Map<string, number>();
  for (const step of topologicalOrder(steps)) {
    let at = 0;
    for (const need of step.needs) at = Math.max(at, finish.get(need) ?? 0);
    start.set(step.id, at);
    finish.set(step.id, at + stepCostMs(step));
  }
  return steps.map((s) => ({ id: s.id, startMs: start.get(s.id) ?? 0, finishMs: finish.get(s.id) ?? 0 }));
}

/**
 * The critical path: the chain of `needs` with the largest total of expected + contingency. When two
 * chains tie, the one whose steps come first in the runbook wins, so the answer is stable.
 */
export function criticalPath(steps: readonly TimedNode[]): CriticalPath {
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  for (const step of topologicalOrder(steps)) {
    let at = 0;
    let before: string | undefined;
    for (const need of step.needs) {
      const f = finish.get(need);
      if (f !== undefined && f > at) {
        at = f;
        before = need;
      }
    }
    // a step whose needs all take no time still follows the first of them on the path
    if (before === undefined) before = step.needs.find((n) => finish.has(n));
    finish.set(step.id, at + stepCostMs(step));
    via.set(step.id, before);
  }
  let last: string | undefined;
  let ms = 0;
  for (const step of steps) {
    const f = finish.get(step.id) ?? 0;
    if (last === undefined || f > ms) {
      last = step.id;
      ms = f;
    }
  }
  const path: string[] = [];
  for (let id = last; id !== undefined; id = via.get(id)) path.push(id);
  return { ms, seconds: ms / 1000, steps: path.reverse() };
}

/**
 * Recovery order of components across workloads: wave 0 holds the foundations (components that depend
 * on nothing), and each later wave only depends on earlier ones; within a wave, tier 0 comes first.
 * Seed 000: recover foundations first, then follow the workflows, in priority order.
 */
export function componentWaves(
  components: readonly (Pick<Component, 'id' | 'dependsOn'> & { tier?: number })[],
): string[][] {
  const tier = new Map(components.map((c) => [c.id, c.tier ?? 0]));
  // within a wave, the more critical tier first (seed 000: recover in priority order); sort is stable
  return dependencyWaves(components.map((c) => ({ id: c.id, needs: c.dependsOn }))).map((wave) =>
    wave.sort((a, b) => (tier.get(a) ?? 0) - (tier.get(b) ?? 0)),
  );
}

/** Every id reachable through `needs` from each node (its ancestors), for order checks on small graphs. */
export function ancestors(nodes: readonly GraphNode[]): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const node of topologicalOrder(nodes)) {
    const set = new Set<string>();
    for (const need of node.needs) {
      const above = result.get(need);
      if (above === undefined) continue;
      set.add(need);
      for (const id of above) set.add(id);
    }
    result.set(node.id, set);
  }
  return result;
}
