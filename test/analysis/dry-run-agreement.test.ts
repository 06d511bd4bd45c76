import { describe, expect, it } from 'vitest';
import { criticalPath, stepTimeline } from '../../src/analysis/index.ts';
import { predictTimeline } from '../../src/engine/timeline.ts';
import type { Runbook, Step } from '../../src/plan/model.ts';
import { baseline, stepOf } from './baseline.ts';

/** Deterministic pseudo-random numbers so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe("the engine's dry run", () => {
  it('predicts the same total, critical path and step times as analysis on random runbooks, ties included', async () => {
    const template: Step = stepOf(await baseline(), 'failover', 'promote-db');
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const count = 1 + Math.floor(next() * 12);
      const steps: Step[] = [];
      for (let i = 0; i < count; i++) {
        const needs = steps.filter(() => next() < 0.3).map((s) => s.id);
        // minutes from a small set so that equal-length branches (ties) are common
        steps.push({
          ...template,
          id: `s${i}`,
          needs,
          expectedMs: Math.floor(next() * 4) * 60_000,
          contingencyMs: next() < 0.5 ? 0 : 60_000,
        });
      }
      const runbook: Runbook = {
        workload: 'w',
        name: 'r',
        kind: 'failover',
        description: undefined,
        prerequisites: [],
        postRequisites: [],
        steps,
        at: template.at,
      };
      const predicted = predictTimeline(runbook);
      const path = criticalPath(steps);
      expect({ seed, ms: predicted.totalMs, steps: predicted.criticalPath }).toEqual({
        seed,
        ms: path.ms,
        steps: path.steps,
      });
      const timeline = stepTimeline(steps);
      // the engine lists steps by start time; compare per step
      const byId = (rows: Array<{ id: string; startMs: number; finishMs: number }>) =>
        Object.fromEntries(rows.map((r) => [r.id, [r.startMs, r.finishMs]]));
      expect(byId(predicted.steps)).toEqual(byId(timeline));
    }
  });
});
