/**
 * People as a resource (seed 000: "parallel steps may require additional DR executor resources"): a
 * schedule of steps where automated steps start as soon as their needs finish, and manual steps and
 * approvals also need a free person from every pool they draw on (their team's executors, the lost site's
 * executors). When several steps wait for people, the more critical tier goes first, then the step with the
 * longest way still to go (the classic list-scheduling rule, which keeps the critical path moving).
 */
import type { GraphNode } from './graph.ts';
import { topologicalOrder } from './graph.ts';

export interface PeopleTask extends GraphNode {
  /** expected + contingency */
  ms: number;
  /** Pools it takes one person from while it runs; empty for automated steps. */
  pools: readonly string[];
  /** Lower goes first when people are short (the workload's tier). */
  priority: number;
}

export interface ScheduledTask {
  id: string;
  startMs: number;
  finishMs: number;
  /** How long it was ready but waited for a person. */
  waitedMs: number;
}

export interface PeopleSchedule {
  totalMs: number;
  tasks: Map<string, ScheduledTask>;
  /** Summed time steps waited for people. */
  waitedMs: number;
}

/** Schedules tasks within `capacity` people per pool; a pool absent from `capacity` has no limit. */
export function scheduleWithPeople(
  tasks: readonly PeopleTask[],
  capacity: ReadonlyMap<string, number>,
): PeopleSchedule {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  // the longest way from a task to the end, itself included: what the ready list is sorted by
  const tail = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const task of tasks)
    for (const need of task.needs)
      if (byId.has(need)) (dependents.get(need) ?? dependents.set(need, []).get(need)!).push(task.id);
  for (const task of topologicalOrder(tasks).reverse()) {
    const rest = Math.max(0, ...(dependents.get(task.id) ?? []).map((id) => tail.get(id) ?? 0));
    tail.set(task.id, task.ms + rest);
  }
  const free = new Map(capacity);
  const unmet = new Map(tasks.map((task) => [task.id, task.needs.filter((need) => byId.has(need)).length]));
  const readyAt = new Map<string, number>();
  const ready: PeopleTask[] = tasks.filter((task) => unmet.get(task.id) === 0);
  for (const task of ready) readyAt.set(task.id, 0);
  const running: Array<{ task: PeopleTask; finishMs: number }> = [];
  const scheduled = new Map<string, ScheduledTask>();
  let now = 0;
  let waitedMs = 0;
  while (scheduled.size < tasks.length) {
    ready.sort((a, b) => a.priority - b.priority || (tail.get(b.id) ?? 0) - (tail.get(a.id) ?? 0));
    for (let index = 0; index < ready.length;) {
      const task = ready[index] as PeopleTask;
      if (!task.pools.every((pool) => (free.get(pool) ?? Infinity) > 0)) {
        index += 1;
        continue;
      }
      for (const pool of task.pools) if (free.has(pool)) free.set(pool, (free.get(pool) ?? 0) - 1);
      ready.splice(index, 1);
      const waited = now - (readyAt.get(task.id) ?? now);
      waitedMs += waited;
      scheduled.set(task.id, { id: task.id, startMs: now, finishMs: now + task.ms, waitedMs: waited });
      running.push({ task, finishMs: now + task.ms });
    }
    if (running.length === 0) {
      if (scheduled.size < tasks.length)
        throw new Error('a step needs a pool with no people: executors must be at least 1');
      break;
    }
    running.sort((a, b) => a.finishMs - b.finishMs);
    now = (running[0] as { finishMs: number }).finishMs;
    while (running.length > 0 && (running[0] as { finishMs: number }).finishMs === now) {
      const { task } = running.shift() as { task: PeopleTask };
      for (const pool of task.pools) if (free.has(pool)) free.set(pool, (free.get(pool) ?? 0) + 1);
      for (const dependent of dependents.get(task.id) ?? []) {
        const left = (unmet.get(dependent) ?? 1) - 1;
        unmet.set(dependent, left);
        if (left === 0) {
          ready.push(byId.get(dependent) as PeopleTask);
          readyAt.set(dependent, now);
        }
      }
    }
  }
  let totalMs = 0;
  for (const task of scheduled.values()) totalMs = Math.max(totalMs, task.finishMs);
  return { totalMs, tasks: scheduled, waitedMs };
}
