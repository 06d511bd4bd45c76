import { describe, expect, it } from 'vitest';
import { baseline, codes, componentOf, findings, workloadOf } from './baseline.ts';

const m = 60_000;

describe('strategy and tier', () => {
  it('reports DRCTL_STRATEGY_TOO_WEAK for a tier 1 workload on cold standby', async () => {
    const plan = await baseline();
    workloadOf(plan).strategy = 'cold-standby';
    expect(findings(plan, 'DRCTL_STRATEGY_TOO_WEAK').map((f) => f.subject)).toContainEqual({
      workload: 'shop',
    });
  });

  it('reports DRCTL_STRATEGY_TOO_WEAK for a tier 0 workload that is not active-active', async () => {
    const plan = await baseline();
    workloadOf(plan).tier = 0;
    for (const c of workloadOf(plan).components) c.tier = 0;
    expect(codes(plan)).toContain('DRCTL_STRATEGY_TOO_WEAK');
  });

  it('reports DRCTL_STRATEGY_OVERSPEND as info for a tier 3 workload running active-active', async () => {
    const plan = await baseline();
    const workload = workloadOf(plan);
    workload.tier = 3;
    workload.strategy = 'active-active';
    for (const c of workload.components) Object.assign(c, { tier: 3, strategy: 'active-active' });
    const [found] = findings(plan, 'DRCTL_STRATEGY_OVERSPEND');
    expect(found).toMatchObject({ severity: 'info', subject: { workload: 'shop' } });
  });

  it('checks a component that sets its own strategy against its own tier', async () => {
    const plan = await baseline();
    componentOf(plan, 'api').strategy = 'backup-restore';
    expect(findings(plan, 'DRCTL_STRATEGY_TOO_WEAK').map((f) => f.subject.component)).toEqual(['api']);
  });

  it('accepts strategies within the range of the tier', async () => {
    const plan = await baseline();
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_TOO_WEAK');
    workloadOf(plan).strategy = 'warm-standby';
    for (const c of workloadOf(plan).components) c.strategy = 'warm-standby';
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_TOO_WEAK');
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_OVERSPEND');
  });
});

describe('objectives against the tier', () => {
  it('reports DRCTL_OBJECTIVE_LOOSER_THAN_TIER when a workload sets an RTO longer than its tier allows', async () => {
    const plan = await baseline();
    const workload = workloadOf(plan);
    workload.rtoMs = 4 * 60 * m;
    workload.objectivesFrom.rto = 'plan';
    expect(findings(plan, 'DRCTL_OBJECTIVE_LOOSER_THAN_TIER')[0]?.message).toContain('RTO 4h');
  });

  it('accepts objectives tighter than the tier', async () => {
    const plan = await baseline();
    const workload = workloadOf(plan);
    workload.rtoMs = 10 * m;
    workload.objectivesFrom.rto = 'plan';
    expect(codes(plan)).not.toContain('DRCTL_OBJECTIVE_LOOSER_THAN_TIER');
  });
});

describe('standby placement', () => {
  it('reports DRCTL_STANDBY_MISSING for a hot standby component placed at one site only', async () => {
    const plan = await baseline();
    const api = componentOf(plan, 'api');
    api.placement = api.placement.filter((p) => p.site === 'east');
    expect(findings(plan, 'DRCTL_STANDBY_MISSING').map((f) => f.subject.component)).toEqual(['api']);
  });

  it('does not ask a backup-restore component for a standby', async () => {
    const plan = await baseline();
    const api = componentOf(plan, 'api');
    api.strategy = 'backup-restore';
    api.placement = api.placement.filter((p) => p.site === 'east');
    expect(codes(plan)).not.toContain('DRCTL_STANDBY_MISSING');
  });
});

describe('weakest link', () => {
  it('reports DRCTL_WEAKEST_LINK when a component depends on one of a lower tier', async () => {
    const plan = await baseline();
    componentOf(plan, 'db').tier = 2;
    const [found] = findings(plan, 'DRCTL_WEAKEST_LINK');
    expect(found?.subject).toEqual({ workload: 'shop', component: 'api' });
    expect(found?.message).toContain('tier 2');
  });

  it('reports DRCTL_WEAKEST_LINK when a component depends on one with a weaker strategy in another workload', async () => {
    const plan = await baseline();
    const shop = workloadOf(plan);
    const db = componentOf(plan, 'db');
    plan.workloads.push({
      ...shop,
      id: 'shared',
      runbooks: [],
      components: [{ ...db, id: 'vault', workload: 'shared', strategy: 'cold-standby' }],
    });
    componentOf(plan, 'api').dependsOn.push('vault');
    expect(findings(plan, 'DRCTL_WEAKEST_LINK')[0]?.message).toContain('(workload shared)');
  });

  it('accepts dependencies of the same tier and strategy', async () => {
    expect(codes(await baseline())).not.toContain('DRCTL_WEAKEST_LINK');
  });
});
