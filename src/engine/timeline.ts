/**
 * The dry run: a runbook's predicted timeline from each step's expected time plus contingency, with
 * unlimited parallelism. Its total is the critical path: the longest chain of expected + contingency
 * through `needs`.
 */
import type { Runbook } from '../plan/model.ts';

export interface PredictedStep {
  id: string;
  name: string;
  kind: string;
  needs: string[];
  startMs: number;
  finishMs: number;
  expectedMs: number;
  contingencyMs: number;
  onCriticalPath: boolean;
}

export interface PredictedTimeline {
  workload: string;
  runbook: string;
  totalMs: number;
  criticalPath: string[];
  steps: PredictedStep[];
}

export function predictTimeline(runbook: Runbook): PredictedTimeline {
  const byId = new Map(runbook.steps.map((step) => [step.id, step]));
  const finish = new Map<string, number>();
  const via = new Map<string, string | undefined>();
  // Kahn's order, so a 10,000-step chain needs no deep recursion; the loader already rejected cycles
  const waitingOn = new Map(
    runbook.steps.map((step) => [step.id, step.needs.filter((need) => byId.has(need)).length]),
  );
  const dependents = new Map<string, string[]>();
  for (const step of runbook.steps) {
    for (const need of step.needs) {
      if (!byId.has(need)) continue;
      const list = dependents.get(need);
      if (list === undefined) dependents.set(need, [step.id]);
      else list.push(step.id);
    }
  }
  const ready = runbook.steps.filter((step) => waitingOn.get(step.id) === 0).map((step) => step.id);
  for (let index = 0; index < ready.length; index += 1) {
    const id = ready[index] as string;
    const step = byId.get(id);
    if (step === undefined) continue;
    let start = 0;
    let longest: string | undefined;
    for (const need of step.needs) {
      const end = finish.get(need) ?? 0;
      if (longest === undefined || end > start) {
        start = end;
        longest = need;
      }
    }
    finish.set(id, start + step.expectedMs + step.contingencyMs + (step.clientsMove?.ms ?? 0));
    via.set(id, longest);
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waitingOn.get(dependent) ?? 1) - 1;
      waitingOn.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  let totalMs = 0;
  let last: string | undefined;
  for (const step of runbook.steps) {
    const end = finish.get(step.id) ?? 0;
    if (last === undefined || end > totalMs) {
      totalMs = end;
      last = step.id;
    }
  }
  const criticalPath: string[] = [];
  for (let id = last; id !== undefined; id = via.get(id)) criticalPath.unshift(id);
  const onPath = new Set(criticalPath);
  return {
    workload: runbook.workload,
    runbook: runbook.name,
    totalMs,
    criticalPath,
    steps: runbook.steps
      .map((step) => {
        const finishMs = finish.get(step.id) ?? 0;
        return {
          id: step.id,
          name: step.name,
          kind: step.kind,
          needs: step.needs,
          startMs: finishMs - step.expectedMs - step.contingencyMs,
          finishMs,
          expectedMs: step.expectedMs,
          contingencyMs: step.contingencyMs,
          onCriticalPath: onPath.has(step.id),
        };
      })
      .sort((a, b) => a.startMs - b.startMs || a.finishMs - b.finishMs),
  };
}
