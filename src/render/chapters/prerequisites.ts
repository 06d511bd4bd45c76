/** DR prerequisites: what must hold before a runbook starts, and what to do when it does not. */
import { runbookTitle, type Context } from '../document-context.ts';
import type { Block } from '../document-model.ts';

export function prerequisites(ctx: Context): Block[] {
  const blocks: Block[] = [];
  const activation = ctx.plan.activation;
  blocks.push(ctx.heading(3, 'Before any runbook'));
  blocks.push({
    kind: 'list',
    checklist: true,
    items: [
      activation
        ? `DR is declared by ${activation.quorum} of: ${activation.approvers.map((id) => ctx.name(id)).join(', ')}.`
        : 'DR is declared by the approvers.',
      'The DR executor and their backup are reachable and have the access each runbook needs.',
      'This document matches the plan version in use (compare the content hash above).',
    ],
  });
  for (const runbook of ctx.runbooks) {
    blocks.push(
      ctx.heading(3, `${runbookTitle(ctx, runbook)}`, 'prerequisites', runbook.workload, runbook.name),
    );
    if (runbook.prerequisites.length > 0) {
      blocks.push({ kind: 'list', checklist: true, items: runbook.prerequisites });
    } else {
      blocks.push({ kind: 'paragraph', text: 'No prerequisites beyond the ones above.' });
    }
  }
  blocks.push(ctx.heading(3, 'If a prerequisite is not met'));
  blocks.push({
    kind: 'paragraph',
    text: 'Do not start the runbook. Record which prerequisite failed, call the workload owner and the DR approvers, and agree whether to wait for it, work around it, or choose another recovery.',
  });
  return blocks;
}
