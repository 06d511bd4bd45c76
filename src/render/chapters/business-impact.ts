/** Business impact analysis: what each user flow costs the longer it is down, against the RTO and RPO. */
import { formatMoney, workloadCost } from '../../analysis/index.ts';
import { ms, type Context } from '../document-context.ts';
import type { Block } from '../document-model.ts';

/** How long an outage lasts in the impact table: seed 000's "impact over time", up to three days. */
const IMPACT_AFTER_MS = [15 * 60_000, 3_600_000, 4 * 3_600_000, 24 * 3_600_000, 72 * 3_600_000];

export function businessImpact(ctx: Context): Block[] {
  const blocks: Block[] = [
    {
      kind: 'paragraph',
      text: "What each user flow costs the business the longer it is down, against the workload's RTO and RPO. Costs are the flows' downtime_cost per hour; flows without one show their impact in words only.",
    },
  ];
  for (const w of ctx.workloads) {
    blocks.push(ctx.heading(3, `Impact of losing ${w.name}`, 'impact', w.id));
    if (w.flows.length === 0) {
      blocks.push({
        kind: 'note',
        text: `${w.name} names no user flows: add flows with who relies on them and the impact.`,
      });
      continue;
    }
    const currency = ctx.plan.costs?.currency ?? '';
    const money = (amount: number | undefined): string =>
      amount === undefined ? '—' : formatMoney(amount, currency).trim();
    blocks.push({
      kind: 'table',
      head: [
        'Flow',
        'Users',
        'Impact',
        'Degraded mode',
        ...IMPACT_AFTER_MS.map((t) => `down ${ms(t)}`),
        `down ${ms(w.rtoMs)} (RTO)`,
      ],
      rows: w.flows.map((f) => {
        const at = (t: number): string =>
          money(f.downtimeCost === undefined ? undefined : (f.downtimeCost * t) / 3_600_000);
        return [f.name, f.users, f.impact, f.degraded ?? '—', ...IMPACT_AFTER_MS.map(at), at(w.rtoMs)];
      }),
    });
    const cost = workloadCost(ctx.plan, w);
    if (cost !== undefined)
      blocks.push({
        kind: 'fields',
        rows: [
          [
            'One disaster at the objectives',
            w.flows.some((f) => f.downtimeCost !== undefined)
              ? `${money(cost.disaster.total)} (downtime over the RTO ${money(cost.disaster.downtime)}, business whose data is lost over the RPO ${money(cost.disaster.dataLoss)})`
              : 'unknown: no flow states a downtime_cost',
          ],
          [
            'DR a year',
            `${money(cost.yearly.total)} for ${w.strategy}; the tier accepts ${cost.alternatives.map((a) => `${a.strategy} ${money(a.total)}`).join(', ')}`,
          ],
        ],
      });
  }
  if (ctx.workloads.length === 0) blocks.push({ kind: 'note', text: 'The plan has no workloads.' });
  return blocks;
}
