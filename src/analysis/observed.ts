/**
 * What readiness observed, fed back into the analysis: a step that switches DNS declares the TTL it sets,
 * but the clients holding the answer served now wait out the TTL the server hands out today, which may
 * be longer (a record never lowered ahead of a failover). The analysis judges the longer of the two.
 */
import { formatDuration } from '../plan/duration.ts';
import type { Plan, Step } from '../plan/model.ts';

/** A delay until clients move, as observed (a readiness fact's `clientsMove`). */
export interface ObservedDelay {
  /** Matches a step's `clientsMove.observedAs`. */
  key: string;
  ms: number;
}

/** The plan with each observed delay longer than a step's own put on that step; the plan itself when none is. */
export function withObservedDelays(plan: Plan, observed: readonly ObservedDelay[]): Plan {
  const longest = new Map<string, number>();
  for (const { key, ms } of observed) longest.set(key, Math.max(longest.get(key) ?? 0, ms));
  let changed = false;
  const adjust = (step: Step): Step => {
    const planned = step.clientsMove;
    const seen = planned?.observedAs === undefined ? undefined : longest.get(planned.observedAs);
    if (planned === undefined || seen === undefined || seen <= planned.ms) return step;
    changed = true;
    const reason = `${planned.reason} as served now (the step sets ${formatDuration(planned.ms)})`;
    return { ...step, clientsMove: { ...planned, ms: seen, reason } };
  };
  const workloads = plan.workloads.map((workload) => ({
    ...workload,
    runbooks: workload.runbooks.map((runbook) => ({ ...runbook, steps: runbook.steps.map(adjust) })),
  }));
  return changed ? { ...plan, workloads } : plan;
}
