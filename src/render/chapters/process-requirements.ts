/** Process requirements: the plan's version and review, who declares a disaster, objectives by workload and tier, communications. */
import { ms, isoDate, code, joinParts, type Context } from '../document-context.ts';
import type { Block, Inline } from '../document-model.ts';

export function processRequirements(ctx: Context): Block[] {
  const { plan } = ctx;
  const blocks: Block[] = [];
  blocks.push(ctx.heading(3, 'This plan', 'plan'));
  const review = plan.review;
  const reviewText = review.last
    ? `last reviewed ${isoDate(review.last)}${review.by ? ` by ${ctx.name(review.by)}` : ''}; next review due ${isoDate(new Date(review.last.getTime() + review.intervalMs))}`
    : `no review recorded; review every ${ms(review.intervalMs)}`;
  blocks.push({
    kind: 'fields',
    rows: [
      ['Plan', plan.name],
      ...(plan.description ? ([['Description', plan.description]] as [string, Inline][]) : []),
      ['Version (content hash)', code(plan.hash)],
      ['Plan files', joinParts(plan.files.map((file) => code(file)))],
      ['Review', reviewText],
    ],
  });

  blocks.push(ctx.heading(3, 'Activation criteria'));
  const activation = plan.activation;
  if (activation) {
    blocks.push({ kind: 'paragraph', text: 'Declare DR when any of these holds:' });
    blocks.push({ kind: 'list', items: activation.criteria });
  } else {
    blocks.push({
      kind: 'note',
      text: 'The plan states no activation criteria. Agree them with the approvers before an incident.',
    });
  }

  blocks.push(ctx.heading(3, 'Who may declare DR'));
  if (activation) {
    blocks.push({
      kind: 'table',
      head: ['Approver', 'Role', 'Phone', 'E-mail', 'Backup'],
      rows: activation.approvers.map((id) => approverRow(ctx, id)),
    });
    blocks.push({
      kind: 'fields',
      rows: [
        ['Quorum', `${activation.quorum} of ${activation.approvers.length} approvers must agree`],
        ...(activation.declareWithinMs === undefined
          ? []
          : ([['Decide within', `${ms(activation.declareWithinMs)} of the criteria being met`]] as [
              string,
              Inline,
            ][])),
      ],
    });
  } else {
    blocks.push({
      kind: 'note',
      text: 'The plan names no approvers. Name who may declare DR before an incident.',
    });
  }

  blocks.push(ctx.heading(3, 'Recovery objectives per workload'));
  blocks.push({
    kind: 'table',
    head: ['Workload', 'Tier', 'Strategy', 'RTO', 'RPO', 'Owner', 'Failover'],
    rows: ctx.workloads.map((w) => [
      `${w.name} (${w.id})`,
      `${w.tier} ${plan.tiers[w.tier].name}`,
      w.strategy,
      `${ms(w.rtoMs)}${w.objectivesFrom.rto === 'tier' ? ' (tier default)' : ''}`,
      `${ms(w.rpoMs)}${w.objectivesFrom.rpo === 'tier' ? ' (tier default)' : ''}`,
      ctx.name(w.owner),
      w.automaticFailover
        ? `automatic after ${ms(w.detectAfterMs)} of confirmed loss`
        : 'declared by the approvers',
    ]),
  });

  blocks.push(ctx.heading(3, 'Tiers'));
  blocks.push({
    kind: 'table',
    head: ['Tier', 'Name', 'Availability objective', 'RTO', 'RPO', 'Source'],
    rows: ([0, 1, 2, 3] as const).map((tier) => {
      const policy = plan.tiers[tier];
      return [String(tier), policy.name, policy.slo, ms(policy.rtoMs), ms(policy.rpoMs), policy.source];
    }),
  });

  const comms = plan.communications;
  blocks.push(ctx.heading(3, 'Communication cadence'));
  blocks.push({
    kind: 'fields',
    rows: [
      ['Status page updated within', ms(comms.statusPageWithinMs)],
      ['Updates every', ms(comms.updatesEveryMs)],
      ['Root cause published within', ms(comms.rootCauseWithinMs)],
    ],
  });
  if (comms.templates.length > 0) {
    blocks.push({
      kind: 'table',
      head: ['Template', 'Sent on', 'Channel', 'To', 'Subject'],
      rows: comms.templates.map((t) => [code(t.id), t.on, t.channel, t.to.join(', '), t.subject ?? '']),
    });
  }

  blocks.push(ctx.heading(3, 'If a process requirement is not met'));
  const leads = activation
    ? activation.approvers.map((id) => ctx.name(id)).join(', ')
    : 'the workload owners';
  blocks.push({
    kind: 'paragraph',
    text: `Do not start a runbook. Tell ${leads}, record which requirement is missing (an approver, a contact, access, equipment), and agree in writing whether to wait, work around it, or change the recovery.`,
  });
  return blocks;
}

function approverRow(ctx: Context, id: string): Inline[] {
  const contact = ctx.contacts.get(id);
  if (!contact) return [code(id), '', '', '', ''];
  return [
    contact.name,
    contact.role ?? '',
    contact.phone ? [{ text: contact.phone, href: `tel:${contact.phone.replace(/[^+\d]/g, '')}` }] : '',
    contact.email ? [{ text: contact.email, href: `mailto:${contact.email}` }] : '',
    ctx.name(contact.backup),
  ];
}
