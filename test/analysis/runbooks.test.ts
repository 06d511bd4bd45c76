import { describe, expect, it } from 'vitest';
import { baseline, codes, findings, runbookOf, stepOf, workloadOf } from './baseline.ts';

describe('recovery and failback runbooks', () => {
  it('reports DRCTL_RECOVERY_RUNBOOK_MISSING for a standby workload without a failover runbook', async () => {
    const plan = await baseline();
    workloadOf(plan).runbooks = [];
    expect(findings(plan, 'DRCTL_RECOVERY_RUNBOOK_MISSING').map((f) => f.subject)).toEqual([
      { workload: 'shop' },
    ]);
  });

  it('accepts a restore runbook for a backup-restore workload', async () => {
    const plan = await baseline();
    const workload = workloadOf(plan);
    workload.strategy = 'backup-restore';
    workload.runbooks = workload.runbooks
      .filter((r) => r.name === 'failback')
      .map((r) => ({ ...r, name: 'restore', kind: 'restore' as const }));
    expect(codes(plan)).not.toContain('DRCTL_RECOVERY_RUNBOOK_MISSING');
  });

  it('reports DRCTL_FAILBACK_MISSING for a failover runbook without a failback', async () => {
    const plan = await baseline();
    workloadOf(plan).runbooks = [runbookOf(plan, 'failover')];
    expect(findings(plan, 'DRCTL_FAILBACK_MISSING').map((f) => f.subject)).toEqual([
      { workload: 'shop', runbook: 'failover' },
    ]);
  });

  it('accepts a failover runbook with a failback', async () => {
    expect(codes(await baseline())).not.toContain('DRCTL_FAILBACK_MISSING');
  });
});

describe('validation and evidence', () => {
  it('reports DRCTL_STEP_UNVERIFIED for an action step with neither validate nor evidence', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'promote-db').validate = [];
    expect(findings(plan, 'DRCTL_STEP_UNVERIFIED').map((f) => f.subject.step)).toEqual(['promote-db']);
  });

  it('accepts evidence a person attaches instead of checks, and approvals without either', async () => {
    const plan = await baseline();
    const promote = stepOf(plan, 'failover', 'promote-db');
    promote.validate = [];
    promote.evidence = ['screenshot of the promoted database'];
    expect(codes(plan)).not.toContain('DRCTL_STEP_UNVERIFIED');
  });
});

describe('recovery order', () => {
  it('reports DRCTL_RECOVERY_ORDER when a step recovers a component before what it depends on', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'start-api').needs = ['declare'];
    const [found, ...rest] = findings(plan, 'DRCTL_RECOVERY_ORDER');
    expect(rest).toEqual([]);
    expect(found?.subject).toMatchObject({ step: 'start-api', component: 'api' });
    expect(found?.hint).toContain('promote-db');
  });

  it('accepts a step that waits for its dependency through another step', async () => {
    const plan = await baseline();
    const runbook = runbookOf(plan, 'failover');
    const promote = stepOf(plan, 'failover', 'promote-db');
    runbook.steps.push({
      ...promote,
      id: 'smoke',
      kind: 'check',
      action: undefined,
      with: {},
      needs: ['promote-db'],
    });
    stepOf(plan, 'failover', 'start-api').needs = ['smoke'];
    expect(codes(plan)).not.toContain('DRCTL_RECOVERY_ORDER');
  });

  it('does not ask a step to wait for work on its dependency at another site', async () => {
    const plan = await baseline();
    const start = stepOf(plan, 'failover', 'start-api');
    start.needs = ['declare'];
    start.with = { ...start.with, site: 'east' };
    stepOf(plan, 'failover', 'promote-db').with = {
      ...stepOf(plan, 'failover', 'promote-db').with,
      site: 'west',
    };
    expect(codes(plan)).not.toContain('DRCTL_RECOVERY_ORDER');
  });
});

describe('step targets', () => {
  it('reports DRCTL_STEP_UNKNOWN_TARGET for a step acting on a component or site the plan does not define', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'promote-db').with = { component: 'dbb', site: 'north' };
    const [found] = findings(plan, 'DRCTL_STEP_UNKNOWN_TARGET');
    expect(found?.message).toContain('component dbb and site north');
  });

  it('accepts steps acting on known components and sites', async () => {
    expect(codes(await baseline())).not.toContain('DRCTL_STEP_UNKNOWN_TARGET');
  });
});
