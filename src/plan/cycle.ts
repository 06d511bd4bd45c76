/**
 * Finding a cycle in a graph of ids (steps' needs, components' dependencies, a site run's order). Its own
 * module, free of the schema and the compiler, because the engine reads plans through it at start-up.
 */
/** The first cycle found by depth-first search, as the list of ids around it (first id repeated at the end). */
export function findCycle(
  ids: readonly string[],
  next: (id: string) => readonly string[],
): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  // iterative DFS: plans with thousands of components must not overflow the stack
  for (const start of ids) {
    if (state.has(start)) continue;
    const stack: Array<{ id: string; edges: readonly string[]; index: number }> = [
      { id: start, edges: next(start), index: 0 },
    ];
    state.set(start, 'visiting');
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.index >= top.edges.length) {
        state.set(top.id, 'done');
        stack.pop();
        continue;
      }
      const target = top.edges[top.index++]!;
      const seen = state.get(target);
      if (seen === 'visiting') {
        const path = stack.map((f) => f.id);
        return [...path.slice(path.indexOf(target)), target];
      }
      if (seen === undefined) {
        state.set(target, 'visiting');
        stack.push({ id: target, edges: next(target), index: 0 });
      }
    }
  }
  return undefined;
}
