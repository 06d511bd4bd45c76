import { describe, expect, it } from 'vitest';
import { componentWaves, criticalPath, dependencyWaves, stepTimeline } from '../../src/analysis/index.ts';

const m = 60_000;
const step = (id: string, minutes: number, needs: string[] = [], contingency = 0) => ({
  id,
  needs,
  expectedMs: minutes * m,
  contingencyMs: contingency * m,
});

describe('dependencyWaves', () => {
  it('puts steps that need nothing in the first wave and each other step one wave after its latest need', () => {
    const steps = [
      step('a', 1),
      step('b', 1, ['a']),
      step('c', 1, ['a']),
      step('d', 1, ['b', 'c']),
      step('e', 1),
    ];
    expect(dependencyWaves(steps)).toEqual([['a', 'e'], ['b', 'c'], ['d']]);
  });

  it('throws DRCTL_PLAN_CYCLE for a cycle instead of looping', () => {
    expect(() => dependencyWaves([step('a', 1, ['b']), step('b', 1, ['a'])])).toThrow(
      expect.objectContaining({ code: 'DRCTL_PLAN_CYCLE' }),
    );
  });
});

describe('criticalPath', () => {
  it('follows the chain with the largest expected plus contingency', () => {
    const steps = [
      step('declare', 5),
      step('db', 10, ['declare'], 5),
      step('cache', 2, ['declare']),
      step('api', 1, ['db', 'cache']),
    ];
    expect(criticalPath(steps)).toEqual({ ms: 21 * m, seconds: 1260, steps: ['declare', 'db', 'api'] });
  });

  it('counts parallel branches once, not their sum', () => {
    expect(criticalPath([step('a', 3), step('b', 4), step('c', 1, ['a', 'b'])]).ms).toBe(5 * m);
  });

  it('is zero and empty for no steps', () => {
    expect(criticalPath([])).toEqual({ ms: 0, seconds: 0, steps: [] });
  });

  it('agrees with the latest finish of the timeline', () => {
    const steps = [step('a', 3), step('b', 4, ['a'], 1), step('c', 2, ['a']), step('d', 1, ['c'])];
    const timeline = stepTimeline(steps);
    expect(Math.max(...timeline.map((t) => t.finishMs))).toBe(criticalPath(steps).ms);
    expect(timeline.find((t) => t.id === 'd')).toEqual({ id: 'd', startMs: 5 * m, finishMs: 6 * m });
  });
});

describe('componentWaves', () => {
  it('orders foundations before the components that depend on them, across workloads', () => {
    const components = [
      { id: 'reporting', dependsOn: ['warehouse'] },
      { id: 'warehouse', dependsOn: ['vault', 'storage'] },
      { id: 'vault', dependsOn: [] },
      { id: 'storage', dependsOn: ['vault'] },
    ];
    expect(componentWaves(components)).toEqual([['vault'], ['storage'], ['warehouse'], ['reporting']]);
  });

  it('puts the more critical tier first within a wave', () => {
    const components = [
      { id: 'lab', dependsOn: [], tier: 3 },
      { id: 'orders', dependsOn: [], tier: 0 },
      { id: 'reports', dependsOn: [], tier: 2 },
    ];
    expect(componentWaves(components)).toEqual([['orders', 'reports', 'lab']]);
  });
});
