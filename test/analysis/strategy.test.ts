import { describe, expect, it } from 'vitest';
import { baseline, codes, componentOf, findings, runbookOf, workloadOf } from './baseline.ts';

describe("seed 002's strategy checklists", () => {
  it('reports DRCTL_STRATEGY_HOT_REPLICATION for a hot standby database copied only by backups', async () => {
    const plan = await baseline();
    componentOf(plan, 'db').replication = undefined;
    expect(findings(plan, 'DRCTL_STRATEGY_HOT_REPLICATION').map((f) => f.message)).toEqual([
      'component db of hot-standby workload shop is not replicated to the other site',
    ]);
  });

  it('reports asynchronous replication nobody watches, and accepts it with max_lag', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    db.replication = { ...db.replication!, mode: 'async', maxLagMs: undefined };
    expect(findings(plan, 'DRCTL_STRATEGY_HOT_REPLICATION')[0]?.message).toContain('no max_lag');
    db.replication.maxLagMs = 5_000;
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_HOT_REPLICATION');
  });

  it('reports DRCTL_STRATEGY_WARM_SNAPSHOT for a warm standby whose data no schedule ships', async () => {
    const plan = await baseline();
    const shop = workloadOf(plan);
    shop.strategy = 'warm-standby';
    componentOf(plan, 'db').replication = undefined;
    expect(findings(plan, 'DRCTL_STRATEGY_WARM_SNAPSHOT').map((f) => f.subject.component)).toEqual(['db']);
    shop.schedules = [
      {
        id: 'ship',
        workload: 'shop',
        cron: '*/5 * * * *',
        timezone: 'UTC',
        everyMs: undefined,
        task: 'backup',
        target: 'db',
        to: 'west',
        type: undefined,
        at: shop.at,
      },
    ];
    // every five minutes, within tier 1's RPO of 15 minutes
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_WARM_SNAPSHOT');
    shop.rpoMs = 60_000;
    expect(findings(plan, 'DRCTL_STRATEGY_WARM_SNAPSHOT')[0]?.message).toContain('every 5m');
  });

  it('reports DRCTL_STRATEGY_ACTIVE_ROUTING for active-active without a front door to both sites', async () => {
    const plan = await baseline();
    const shop = workloadOf(plan);
    shop.strategy = 'active-active';
    expect(findings(plan, 'DRCTL_STRATEGY_ACTIVE_ROUTING')[0]?.message).toContain('has no front door');
    shop.frontDoor = {
      kind: 'traffic-router',
      admin: undefined,
      fields: {},
      host: '127.0.0.1',
      port: 8080,
      component: 'db',
      probePath: '/health',
      intervalMs: 1000,
      timeoutMs: 500,
      failures: 3,
      successes: 2,
      canary: { writePath: '/orders', readPath: '/catalog', table: 'orders' },
      at: shop.at,
    };
    // db is a standby at west: traffic reaches east only
    expect(findings(plan, 'DRCTL_STRATEGY_ACTIVE_ROUTING')[0]?.message).toContain('only to east');
    shop.frontDoor.component = 'api';
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_ACTIVE_ROUTING');
  });

  it('reports DRCTL_STRATEGY_RESTORE_UNVERIFIED for backup-restore without a recent proven restore', async () => {
    const plan = await baseline();
    workloadOf(plan).strategy = 'backup-restore';
    // the baseline's backup-restore drill of 2026-02-20 counts
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_RESTORE_UNVERIFIED');
    plan.drills.history = plan.drills.history.filter((d) => d.type !== 'backup-restore');
    expect(findings(plan, 'DRCTL_STRATEGY_RESTORE_UNVERIFIED')[0]?.message).toContain(
      'no restore verification and no passed backup-restore drill',
    );
  });

  it('reports DRCTL_STRATEGY_COLD_PROVISION for a cold standby whose failover only asks people to start the compute', async () => {
    const plan = await baseline();
    workloadOf(plan).strategy = 'cold-standby';
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_COLD_PROVISION');
    const failover = runbookOf(plan, 'failover');
    const start = failover.steps.find((s) => s.id === 'start-api')!;
    Object.assign(start, { kind: 'manual', action: undefined, with: {}, manual: 'Start the API at west.' });
    expect(findings(plan, 'DRCTL_STRATEGY_COLD_PROVISION')[0]?.message).toBe(
      'failover runbook failover of cold-standby workload shop has no automated step that brings up its compute (api)',
    );
    // a command that names the component brings it up
    Object.assign(start, { kind: 'shell', run: './deploy.sh api --site west' });
    expect(codes(plan)).not.toContain('DRCTL_STRATEGY_COLD_PROVISION');
  });
});
