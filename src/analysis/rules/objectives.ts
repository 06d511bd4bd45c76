/**
 * Rules about tiers and strategies (seed 002): a strategy weaker than the tier needs, or much stronger
 * (cost); objectives looser than the tier; a standby strategy with nowhere to stand by; and the weakest
 * link, a component depending on one of a lower tier or a weaker strategy.
 */
import { formatDuration } from '../../plan/duration.ts';
import type { Strategy, TierLevel } from '../../plan/model.ts';
import type { Rule } from '../context.ts';
import { TIER_STRATEGIES, strength } from '../context.ts';
import { finding } from '../findings.ts';
import type { FindingSubject } from '../findings.ts';
import type { SourceLocation } from '../../errors.ts';
import type { Finding } from '../findings.ts';
import { formatMoney, workloadCost } from '../costs.ts';

function strategyFinding(
  what: string,
  tier: TierLevel,
  strategy: Strategy,
  at: SourceLocation,
  subject: FindingSubject,
): Finding | undefined {
  const { weakest, strongest } = TIER_STRATEGIES[tier];
  if (strength(strategy) < strength(weakest)) {
    return finding(
      'DRCTL_STRATEGY_TOO_WEAK',
      at,
      `${what} is tier ${tier} but uses ${strategy}; tier ${tier} calls for ${weakest === strongest ? weakest : `${weakest} to ${strongest}`}`,
      `raise the strategy to ${weakest} or stronger, or lower the tier with the business's sign-off`,
      subject,
    );
  }
  if (strength(strategy) > strength(strongest)) {
    return finding(
      'DRCTL_STRATEGY_OVERSPEND',
      at,
      `${what} is tier ${tier} but uses ${strategy}, stronger than the ${strongest} the tier needs: it costs more than its objectives ask`,
      `keep it if the business asks for it; otherwise ${strongest} meets tier ${tier}`,
      subject,
    );
  }
  return undefined;
}

export const strategyMatchesTier: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    const own = strategyFinding(`workload ${workload.id}`, workload.tier, workload.strategy, workload.at, {
      workload: workload.id,
    });
    if (own) report(own);
    for (const component of workload.components) {
      // only components that set their own tier or strategy can disagree with the workload's verdict
      if (component.tier === workload.tier && component.strategy === workload.strategy) continue;
      const f = strategyFinding(
        `component ${component.id}`,
        component.tier,
        component.strategy,
        component.at,
        {
          workload: workload.id,
          component: component.id,
        },
      );
      if (f) report(f);
    }
  }
};

export const objectivesWithinTier: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    const tier = context.plan.tiers[workload.tier];
    const looser: string[] = [];
    if (workload.objectivesFrom.rto === 'plan' && workload.rtoMs > tier.rtoMs) {
      looser.push(`RTO ${formatDuration(workload.rtoMs)} > ${formatDuration(tier.rtoMs)}`);
    }
    if (workload.objectivesFrom.rpo === 'plan' && workload.rpoMs > tier.rpoMs) {
      looser.push(`RPO ${formatDuration(workload.rpoMs)} > ${formatDuration(tier.rpoMs)}`);
    }
    if (looser.length === 0) continue;
    report(
      finding(
        'DRCTL_OBJECTIVE_LOOSER_THAN_TIER',
        workload.at,
        `workload ${workload.id} is tier ${workload.tier} (${tier.name}) but its objectives are looser than the tier's: ${looser.join(', ')}`,
        `tighten the objectives to the tier's, or move the workload to the tier its objectives match`,
        { workload: workload.id },
      ),
    );
  }
};

/** A standby strategy needs the component placed at a second site. */
export const standbyPlaced: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const component of workload.components) {
      if (component.strategy === 'backup-restore' || component.placement.length === 0) continue;
      const sites = new Set(component.placement.map((p) => p.site));
      if (sites.size > 1) continue;
      report(
        finding(
          'DRCTL_STANDBY_MISSING',
          component.at,
          `component ${component.id} uses ${component.strategy} but is placed only at ${[...sites][0]}`,
          `add a placement at the secondary site (standby: true for a standby copy), or use backup-restore`,
          { workload: workload.id, component: component.id },
        ),
      );
    }
  }
};

/**
 * Seed 002: "your DR plan is only as effective as its weakest component". A component depending on one
 * of a lower tier or a weaker strategy will wait for it on the day.
 */
export const weakestLink: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    for (const component of workload.components) {
      for (const id of component.dependsOn) {
        const dependency = context.components.get(id);
        if (dependency === undefined) continue;
        const reasons: string[] = [];
        if (dependency.tier > component.tier)
          reasons.push(`tier ${dependency.tier} below its own tier ${component.tier}`);
        if (strength(dependency.strategy) < strength(component.strategy)) {
          reasons.push(`${dependency.strategy} weaker than its own ${component.strategy}`);
        }
        if (reasons.length === 0) continue;
        const where = dependency.workload === workload.id ? '' : ` (workload ${dependency.workload})`;
        report(
          finding(
            'DRCTL_WEAKEST_LINK',
            component.at,
            `component ${component.id} of workload ${workload.id} depends on ${dependency.id}${where}: ${reasons.join(', ')}`,
            `raise ${dependency.id} to tier ${component.tier} and ${component.strategy} or stronger, or make ${component.id} degrade gracefully without it`,
            { workload: workload.id, component: component.id },
          ),
        );
      }
    }
  }
};

/** A cheaper strategy the workload's tier still accepts (seed 002: "do cost modeling"). */
export const cheaperStrategy: Rule = (context, report) => {
  for (const workload of context.plan.workloads) {
    const cost = workloadCost(context.plan, workload);
    const cheapest = cost?.alternatives[0];
    if (cost === undefined || cheapest === undefined || cheapest.total >= cost.yearly.total) continue;
    report(
      finding(
        'DRCTL_COST_CHEAPER_STRATEGY',
        workload.at,
        `workload ${workload.id} spends about ${formatMoney(cost.yearly.total, cost.currency)} a year on ${workload.strategy}; ${cheapest.strategy} would cost about ${formatMoney(cheapest.total, cost.currency)} and still meets tier ${workload.tier}`,
        `keep ${workload.strategy} if its RTO and RPO need it (one disaster costs about ${formatMoney(cost.disaster.total, cost.currency)} at the objectives); otherwise consider ${cheapest.strategy}`,
        { workload: workload.id },
      ),
    );
  }
};
