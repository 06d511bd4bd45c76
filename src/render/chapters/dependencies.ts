/** Dependencies: the recovery waves and what each component needs and is needed by. */
import { code, joinParts, componentLabel, componentsInScope, type Context } from '../document-context.ts';
import type { Block } from '../document-model.ts';

export function dependencies(ctx: Context): Block[] {
  const blocks: Block[] = [];
  const components = componentsInScope(ctx);
  if (components.length === 0) return [{ kind: 'note', text: 'The plan lists no components.' }];
  const graph = ctx.graph();
  blocks.push(ctx.heading(3, 'Recovery order'));
  blocks.push({
    kind: 'paragraph',
    text: 'Recover the foundation first, then follow the workflow: every wave needs only the waves before it, and the components of one wave can be recovered in parallel.',
  });
  blocks.push({
    kind: 'list',
    ordered: true,
    items: graph.waves.map((wave, index) => [
      { text: `Wave ${index + 1}:`, strong: true },
      { text: ' ' },
      ...joinParts(wave.map((id) => [{ text: componentLabel(ctx, id) }])),
    ]),
  });
  blocks.push(ctx.heading(3, 'Relationships'));
  const neededBy = new Map<string, string[]>();
  for (const c of components)
    for (const d of c.dependsOn) neededBy.set(d, [...(neededBy.get(d) ?? []), c.id]);
  blocks.push({
    kind: 'table',
    head: ['Component', 'Workload', 'Depends on', 'Needed by', 'Points at data in'],
    rows: components.map((c) => [
      code(c.id),
      ctx.workload(c.workload)?.name ?? c.workload,
      c.dependsOn.length > 0 ? joinParts(c.dependsOn.map(code)) : 'nothing',
      (neededBy.get(c.id) ?? []).length > 0 ? joinParts((neededBy.get(c.id) ?? []).map(code)) : 'nothing',
      c.references.length > 0 ? joinParts(c.references.map(code)) : '',
    ]),
  });
  if (components.some((c) => c.references.length > 0)) {
    blocks.push({
      kind: 'note',
      text: 'A component that points at data in another one must be restored to a consistent point with it: a row restored from a later backup may point at a file or blob the other store never had.',
    });
  }
  return blocks;
}
