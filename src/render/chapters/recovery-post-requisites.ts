/** Recovery post-requisites: the hand-overs and communications that close a recovery. */
import { ms, type Context } from '../document-context.ts';
import type { Block, Inline } from '../document-model.ts';

/** Seed 000's recovery post-requisites: the hand-overs that close a recovery. */
const RECOVERY_POST_REQUISITES = [
  'Hand over to operational support to run the data processes that bring the system up to date.',
  'Hand over to the downstream processes and solutions, confirming the date and the connection details of the DR system.',
  'Confirm with the DR lead that the recovery is complete: the evidence trail and the completed runbook.',
  'Notify security administration that the elevated access granted to the DR team can be removed.',
];

export function recoveryPostRequisites(ctx: Context): Block[] {
  const comms = ctx.plan.communications;
  const items: Inline[] = [
    ...RECOVERY_POST_REQUISITES,
    `Publish the root cause within ${ms(comms.rootCauseWithinMs)} and hold the DR debrief.`,
    [
      { text: 'Update the plan with what the recovery taught; this document was rendered from version ' },
      { text: ctx.plan.hash.slice(0, 12), code: true },
      { text: '.' },
    ],
  ];
  const blocks: Block[] = [{ kind: 'list', checklist: true, items }];
  blocks.push(ctx.heading(3, 'Return to the primary site'));
  for (const w of ctx.workloads) {
    const failback = w.runbooks.find((r) => r.kind === 'failback');
    blocks.push({
      kind: 'paragraph',
      text: failback
        ? [
            { text: `${w.name}: fail back with ` },
            { text: `${w.id}/${failback.name}`, code: true },
            { text: ' once the primary site is healthy and the approvers agree on a window.' },
          ]
        : w.strategy === 'backup-restore'
          ? `${w.name}: restored where it runs, so there is nothing to fail back.`
          : `${w.name}: no failback runbook. Plan the return to the primary site as carefully as the failover.`,
    });
  }
  return blocks;
}
