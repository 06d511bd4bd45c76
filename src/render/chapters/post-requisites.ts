/** Technical recovery post-requisites: what each runbook leaves to do once its steps are done. */
import { code, runbookTitle, type Context } from '../document-context.ts';
import type { Block, Inline } from '../document-model.ts';

export function postRequisites(ctx: Context): Block[] {
  const blocks: Block[] = [];
  for (const runbook of ctx.runbooks) {
    blocks.push(ctx.heading(3, runbookTitle(ctx, runbook), 'post', runbook.workload, runbook.name));
    blocks.push({
      kind: 'list',
      checklist: true,
      items: [
        ...runbook.postRequisites,
        'Confirm the current date and time stamp of the data in each data component.',
        'Confirm the addresses of the recovered system (below).',
        'Prepare the business review: the business SMEs have access and know what to validate.',
      ],
    });
  }
  blocks.push(ctx.heading(3, 'Addresses of the system at each site'));
  const rows: Inline[][] = [];
  for (const w of ctx.workloads) {
    for (const c of w.components) {
      for (const p of c.placement) {
        const where = p.url ?? p.path ?? p.command;
        if (where) rows.push([code(c.id), `${p.site}${p.standby ? ' (standby)' : ''}`, code(where)]);
      }
    }
  }
  if (rows.length > 0)
    blocks.push({ kind: 'table', head: ['Component', 'Site', 'Address or command'], rows });
  else blocks.push({ kind: 'paragraph', text: 'The plan records no addresses.' });
  return blocks;
}
