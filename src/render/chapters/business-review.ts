/** Business stakeholder review and approval: the validation and sign-off of each workload. */
import { isoDate, type Context } from '../document-context.ts';
import type { Block } from '../document-model.ts';

export function businessReview(ctx: Context): Block[] {
  const blocks: Block[] = [];
  for (const w of ctx.workloads) {
    blocks.push(ctx.heading(3, w.name, 'review', w.id));
    blocks.push({ kind: 'fields', rows: [['Business contact', ctx.reach(w.owner)]] });
    blocks.push({ kind: 'paragraph', text: [{ text: 'Business validation', strong: true }] });
    blocks.push({
      kind: 'list',
      checklist: true,
      items:
        w.flows.length > 0
          ? w.flows.map((f) => `${f.name} works for ${f.users}.`)
          : ['The workload does what its users rely on (the plan lists no user flows).'],
    });
    const evidence = ctx.runbooks
      .filter((r) => r.workload === w.id)
      .flatMap((r) =>
        r.steps.flatMap((s) => [
          ...s.evidence.map((e) => `${r.name}/${s.id}: ${e}`),
          ...s.validate.flatMap((c) => (c.evidence ? [`${r.name}/${s.id}: ${c.evidence}`] : [])),
        ]),
      );
    blocks.push({ kind: 'paragraph', text: [{ text: 'Evidence trail for the approver', strong: true }] });
    blocks.push({
      kind: 'list',
      checklist: true,
      items: evidence.length > 0 ? evidence : ['The completed runbook with every step recorded.'],
    });
    blocks.push({
      kind: 'paragraph',
      text: w.signoff
        ? `Tier and objectives signed off by ${ctx.name(w.signoff.by)} on ${isoDate(w.signoff.at)}${w.signoff.note ? `: ${w.signoff.note.replace(/[.\s]+$/, '')}` : ''}.`
        : 'The tier and objectives of this workload have no recorded sign-off.',
    });
    // one row per person, with every capacity they sign in
    const signers = new Map<string, string[]>();
    const sign = (name: string, role: string): void => {
      const roles = signers.get(name) ?? [];
      const same = (a: string): boolean =>
        a.toLowerCase().replace(/[-_]/g, ' ') === role.toLowerCase().replace(/[-_]/g, ' ');
      if (!roles.some(same)) roles.push(role);
      signers.set(name, roles);
    };
    sign(ctx.name(w.owner), 'Business owner');
    for (const id of ctx.plan.activation?.approvers ?? []) sign(ctx.name(id), 'DR approver');
    for (const c of ctx.plan.contacts)
      for (const role of c.roles) if (/owner|approver|sme/i.test(role)) sign(c.name, role);
    blocks.push({
      kind: 'table',
      signatures: true,
      head: ['Role', 'Name', 'Signature', 'Date and time'],
      rows: [
        ...[...signers].map(([name, roles]) => [roles.join(', '), name, '', '']),
        ['Business SME', '', '', ''],
      ],
    });
  }
  if (ctx.workloads.length === 0) blocks.push({ kind: 'note', text: 'The plan has no workloads.' });
  return blocks;
}
