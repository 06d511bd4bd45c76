/** Contact listing: everyone the plan names, how to reach them and their backups. */
import { code, type Context } from '../document-context.ts';
import type { Block, Inline } from '../document-model.ts';

export function contactListing(ctx: Context): Block[] {
  const { plan } = ctx;
  const blocks: Block[] = [];
  if (plan.contacts.length === 0) {
    return [
      {
        kind: 'note',
        text: 'The plan lists no contacts. Every runbook needs at least a DR lead and a backup.',
      },
    ];
  }
  blocks.push({
    kind: 'table',
    head: ['Name', 'Id', 'Role', 'Phone', 'E-mail', 'Backup', 'Escalation path'],
    rows: plan.contacts.map((c) => [
      [{ text: c.name, strong: true }, ...(c.roles.length > 0 ? [{ text: ` (${c.roles.join(', ')})` }] : [])],
      code(c.id),
      c.role ?? '',
      c.phone ? [{ text: c.phone, href: `tel:${c.phone.replace(/[^+\d]/g, '')}` }] : '',
      c.email ? [{ text: c.email, href: `mailto:${c.email}` }] : '',
      ctx.name(c.backup),
      c.escalation.map((id) => ctx.name(id)).join(' → '),
    ]),
  });

  blocks.push(ctx.heading(3, 'Who is responsible for what'));
  const rows: Inline[][] = [];
  for (const id of plan.activation?.approvers ?? []) rows.push(['Declares DR', ctx.reach(id)]);
  for (const w of ctx.workloads)
    rows.push([`Owns ${w.name}: business validation and sign-off`, ctx.reach(w.owner)]);
  for (const runbook of ctx.runbooks) {
    const escalation = [...new Set(runbook.steps.flatMap((s) => (s.escalateTo ? [s.escalateTo] : [])))];
    for (const id of escalation)
      rows.push([`Escalation point for ${runbook.workload}/${runbook.name}`, ctx.reach(id)]);
    const owners = [...new Set(runbook.steps.flatMap((s) => (s.owner ? [s.owner] : [])))];
    for (const id of owners)
      rows.push([`Executes steps of ${runbook.workload}/${runbook.name}`, ctx.reach(id)]);
  }
  blocks.push({ kind: 'table', head: ['Responsibility', 'Contact'], rows });

  const withoutBackup = plan.contacts.filter((c) => c.backup === undefined);
  if (withoutBackup.length > 0) {
    blocks.push({
      kind: 'note',
      text: `No backup named for: ${withoutBackup.map((c) => c.name).join(', ')}. Find a stand-in before relying on them.`,
    });
  }
  return blocks;
}
