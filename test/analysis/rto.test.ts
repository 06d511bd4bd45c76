import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import { NOW, baseline, componentOf, findings, runbookOf, stepOf, workloadOf } from './baseline.ts';

const m = 60_000;

function failoverOf(analysis: ReturnType<typeof analyzePlan>) {
  const found = analysis.runbooks.find((r) => r.runbook === 'failover');
  if (!found) throw new Error('no failover analysis');
  return found;
}

describe('critical path against the RTO', () => {
  it('reports waves and a fitting critical path for a runbook within its RTO', async () => {
    const analysis = analyzePlan(await baseline(), { now: NOW });
    const failover = failoverOf(analysis);
    expect(failover).toMatchObject({
      waves: [['declare'], ['promote-db'], ['start-api']],
      criticalPath: { ms: 7 * m, seconds: 420, steps: ['declare', 'promote-db', 'start-api'] },
      rtoMs: 30 * m,
      fits: true,
      remedies: [],
    });
    expect(analysis.findings.filter((f) => f.code === 'DRCTL_RTO_EXCEEDED')).toEqual([]);
  });

  it('reports DRCTL_RTO_EXCEEDED with the path and by how much the RTO would have to grow', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'declare').expectedMs = 40 * m;
    const [found, ...rest] = findings(plan, 'DRCTL_RTO_EXCEEDED');
    expect(rest).toEqual([]);
    expect(found).toMatchObject({ severity: 'error', subject: { workload: 'shop', runbook: 'failover' } });
    expect(found?.message).toContain('declare → promote-db → start-api');
    const failover = failoverOf(analyzePlan(plan, { now: NOW }));
    expect(failover).toMatchObject({ fits: false, overMs: 12 * m });
    expect(failover.remedies.find((r) => r.kind === 'extend-rto')?.message).toContain('42m');
  });

  it('suggests automating a long manual step on the critical path but not a short one', async () => {
    const plan = await baseline();
    const runbook = runbookOf(plan, 'failover');
    const promote = stepOf(plan, 'failover', 'promote-db');
    runbook.steps.push(
      {
        ...promote,
        id: 'rebuild-dns',
        kind: 'manual',
        manual: 'Point DNS at west',
        action: undefined,
        with: {},
        needs: ['start-api'],
        expectedMs: 30 * m,
      },
      {
        ...promote,
        id: 'note',
        kind: 'manual',
        manual: 'Write it down',
        action: undefined,
        with: {},
        needs: ['rebuild-dns'],
        expectedMs: 1 * m,
      },
    );
    const automate = failoverOf(analyzePlan(plan, { now: NOW })).remedies.find((r) => r.kind === 'automate');
    expect(automate?.steps).toEqual(['rebuild-dns', 'declare']);
  });

  it('suggests running in parallel path steps whose components do not depend on each other, with the time saved', async () => {
    const plan = await baseline();
    const db = componentOf(plan, 'db');
    workloadOf(plan).components.push({
      ...db,
      id: 'cache',
      kind: 'redis',
      dependsOn: [],
      backups: [],
      replication: undefined,
    });
    const runbook = runbookOf(plan, 'failover');
    const promote = stepOf(plan, 'failover', 'promote-db');
    promote.expectedMs = 20 * m;
    runbook.steps.push({
      ...promote,
      id: 'warm-cache',
      needs: ['promote-db'],
      with: { component: 'cache' },
      expectedMs: 20 * m,
      contingencyMs: 0,
    });
    const failover = failoverOf(analyzePlan(plan, { now: NOW }));
    expect(failover.criticalPath.steps).toEqual(['declare', 'promote-db', 'warm-cache']);
    const parallel = failover.remedies.find((r) => r.kind === 'parallelise');
    expect(parallel).toMatchObject({ steps: ['promote-db', 'warm-cache'], savesMs: 19 * m }); // start-api still follows promote-db
  });

  it('does not suggest parallelising a step that acts on a component depending on the previous one', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'promote-db').expectedMs = 20 * m;
    stepOf(plan, 'failover', 'start-api').expectedMs = 20 * m;
    const failover = failoverOf(analyzePlan(plan, { now: NOW }));
    expect(failover.fits).toBe(false);
    expect(failover.remedies.map((r) => r.kind)).not.toContain('parallelise');
  });

  it('suggests uplifting a standby strategy weaker than hot standby, and not a hot standby', async () => {
    const plan = await baseline();
    stepOf(plan, 'failover', 'declare').expectedMs = 40 * m;
    expect(failoverOf(analyzePlan(plan, { now: NOW })).remedies.map((r) => r.kind)).not.toContain('uplift');
    workloadOf(plan).strategy = 'warm-standby';
    for (const c of workloadOf(plan).components) c.strategy = 'warm-standby';
    const uplift = failoverOf(analyzePlan(plan, { now: NOW })).remedies.find((r) => r.kind === 'uplift');
    expect(uplift).toMatchObject({ components: ['db', 'api'] });
    expect(uplift?.message).toContain('hot-standby');
  });

  it('does not hold a failback runbook to the RTO', async () => {
    const plan = await baseline();
    stepOf(plan, 'failback', 'resync').expectedMs = 120 * m;
    const analysis = analyzePlan(plan, { now: NOW });
    expect(analysis.runbooks.find((r) => r.runbook === 'failback')).toMatchObject({
      rtoApplies: false,
      fits: false,
    });
    expect(analysis.findings.map((f) => f.code)).not.toContain('DRCTL_RTO_EXCEEDED');
  });
});
