/**
 * Seed 002's cost modelling: what a workload's DR costs a year by strategy, and what one disaster costs
 * the business, from the plan's unit costs (`costs:`), the flows' hourly downtime cost and the objectives.
 * The model is deliberately simple and every assumption is written in docs/analysis.md: compute standing at
 * the recovery sites scaled by the strategy's share, one deduplicated copy per backup policy, one replica
 * per standby placement of replicated data, and for a disaster the flows' hourly cost over the RTO
 * (downtime) and over the RPO (business whose data is lost).
 */
import type { Costs, Plan, Strategy, Workload } from '../plan/model.ts';
import { STRATEGY_STRENGTH, TIER_STRATEGIES, strength } from './context.ts';
import { workloadSites } from './rules/domains.ts';

const HOUR_MS = 3_600_000;
/** Strategies that keep a live replica of replicated data at the recovery site. */
const KEEPS_REPLICAS: ReadonlySet<Strategy> = new Set(['warm-standby', 'hot-standby', 'active-active']);

export interface YearlyCost {
  strategy: Strategy;
  compute: number;
  backups: number;
  replicas: number;
  total: number;
}

export interface WorkloadCost {
  workload: string;
  currency: string;
  /** The workload's own strategy, costed. */
  yearly: YearlyCost;
  /** What one disaster costs at the workload's objectives. */
  disaster: { downtime: number; dataLoss: number; total: number };
  /** Every strategy the workload's tier accepts, cheapest first. */
  alternatives: YearlyCost[];
  /** Recovery sites without a unit cost: their compute is counted as 0. */
  unpricedSites: string[];
}

function yearlyCost(plan: Plan, costs: Costs, workload: Workload, strategy: Strategy): YearlyCost {
  const { recovery } = workloadSites(plan, workload);
  const share = costs.standbyShare[strategy];
  const compute = recovery.reduce(
    (sum, site) => sum + (costs.standbySiteMonth[site.id] ?? 0) * 12 * share,
    0,
  );
  let backups = 0;
  let replicas = 0;
  for (const component of workload.components) {
    const size = component.sizeGb ?? 0;
    backups += size * costs.backupGbMonth * 12 * component.backups.length;
    const mode = component.replication?.mode;
    if (mode !== undefined && mode !== 'none' && KEEPS_REPLICAS.has(strategy)) {
      const copies = Math.max(1, component.placement.filter((p) => p.standby).length);
      replicas += size * costs.replicaGbMonth * 12 * copies;
    }
  }
  return { strategy, compute, backups, replicas, total: compute + backups + replicas };
}

export function workloadCost(plan: Plan, workload: Workload): WorkloadCost | undefined {
  const costs = plan.costs;
  if (costs === undefined) return undefined;
  const hourly = workload.flows.reduce((sum, f) => sum + (f.downtimeCost ?? 0), 0);
  const downtime = (hourly * workload.rtoMs) / HOUR_MS;
  const dataLoss = (hourly * workload.rpoMs) / HOUR_MS;
  const { weakest, strongest } = TIER_STRATEGIES[workload.tier];
  const alternatives = STRATEGY_STRENGTH.filter(
    (s) => strength(s) >= strength(weakest) && strength(s) <= strength(strongest),
  )
    .map((s) => yearlyCost(plan, costs, workload, s))
    .sort((a, b) => a.total - b.total);
  return {
    workload: workload.id,
    currency: costs.currency,
    yearly: yearlyCost(plan, costs, workload, workload.strategy),
    disaster: { downtime, dataLoss, total: downtime + dataLoss },
    alternatives,
    unpricedSites: workloadSites(plan, workload)
      .recovery.map((s) => s.id)
      .filter((id) => costs.standbySiteMonth[id] === undefined),
  };
}

/** Amounts as people read them: whole units with thousands separators. */
export function formatMoney(amount: number, currency: string): string {
  return `${Math.round(amount).toLocaleString('en-US')} ${currency}`;
}
