import { describe, expect, it } from 'vitest';
import { analyzePlan } from '../../src/analysis/index.ts';
import { NOW, baseline, codes, findings, runbookOf, stepOf, workloadOf } from './baseline.ts';

const day = 86_400_000;

describe('plan review', () => {
  it('reports DRCTL_REVIEW_MISSING when the plan never records a review', async () => {
    const plan = await baseline();
    plan.review.last = undefined;
    expect(codes(plan)).toContain('DRCTL_REVIEW_MISSING');
  });

  it('reports DRCTL_REVIEW_STALE once the review is older than the 12-month default interval', async () => {
    const plan = await baseline();
    plan.review.last = new Date(NOW.getTime() - 400 * day);
    expect(codes(plan)).toContain('DRCTL_REVIEW_STALE');
    plan.review.last = new Date(NOW.getTime() - 300 * day);
    expect(codes(plan)).not.toContain('DRCTL_REVIEW_STALE');
  });

  it('judges staleness at the time it is given', async () => {
    const plan = await baseline();
    const later = new Date(NOW.getTime() + 400 * day);
    expect(analyzePlan(plan, { now: later }).findings.map((f) => f.code)).toContain('DRCTL_REVIEW_STALE');
  });
});

describe('sign-off', () => {
  it('reports DRCTL_SIGNOFF_MISSING for a workload nobody signed off', async () => {
    const plan = await baseline();
    workloadOf(plan).signoff = undefined;
    expect(findings(plan, 'DRCTL_SIGNOFF_MISSING').map((f) => f.subject)).toEqual([{ workload: 'shop' }]);
  });

  it('reports DRCTL_SIGNOFF_STALE for a sign-off older than the review interval', async () => {
    const plan = await baseline();
    workloadOf(plan).signoff = { by: 'carol', at: new Date('2024-06-01'), note: undefined };
    expect(findings(plan, 'DRCTL_SIGNOFF_STALE')[0]?.message).toContain('2024-06-01');
  });

  it('accepts a recent sign-off', async () => {
    const plan = await baseline();
    expect(codes(plan)).not.toContain('DRCTL_SIGNOFF_STALE');
    expect(codes(plan)).not.toContain('DRCTL_SIGNOFF_MISSING');
  });
});

describe('instructions', () => {
  it('reports DRCTL_INSTRUCTIONS_STALE at the first manual step of a runbook no drill exercised within the interval', async () => {
    const plan = await baseline();
    plan.drills.history = plan.drills.history.filter((r) => r.type === 'backup-restore' || r.type === 'full');
    plan.drills.history.find((r) => r.type === 'full')!.at = new Date('2024-01-01');
    const [found] = findings(plan, 'DRCTL_INSTRUCTIONS_STALE');
    expect(found?.subject).toEqual({ workload: 'shop', runbook: 'failback', step: 'tell-users' });
    expect(found?.location).toEqual(stepOf(plan, 'failback', 'tell-users').at);
  });

  it('accepts manual instructions walked through in a recent tabletop of their workload', async () => {
    const plan = await baseline();
    expect(runbookOf(plan, 'failback').steps.some((s) => s.kind === 'manual')).toBe(true);
    expect(codes(plan)).not.toContain('DRCTL_INSTRUCTIONS_STALE');
  });
});

describe('drill schedule', () => {
  it('reports DRCTL_DRILL_OVERDUE for a drill type never recorded', async () => {
    const plan = await baseline();
    plan.drills.history = plan.drills.history.filter((r) => r.type !== 'partial');
    expect(findings(plan, 'DRCTL_DRILL_OVERDUE').map((f) => f.message)).toEqual([
      expect.stringContaining('no partial drill is recorded'),
    ]);
  });

  it('reports DRCTL_DRILL_OVERDUE when the last drill of a type is older than its schedule', async () => {
    const plan = await baseline();
    plan.drills.history.find((r) => r.type === 'backup-restore')!.at = new Date('2026-01-01');
    expect(findings(plan, 'DRCTL_DRILL_OVERDUE')[0]?.message).toContain(
      'last backup-restore drill was on 2026-01-01',
    );
  });

  it('does not ask for backup-restore drills when nothing is backed up', async () => {
    const plan = await baseline();
    plan.drills.history = plan.drills.history.filter((r) => r.type !== 'backup-restore');
    for (const w of plan.workloads) for (const c of w.components) c.backups = [];
    expect(findings(plan, 'DRCTL_DRILL_OVERDUE')).toEqual([]);
  });

  it('reports DRCTL_DRILL_FAILED when the last drill of a type failed, and not when a later one passed', async () => {
    const plan = await baseline();
    const full = plan.drills.history.find((r) => r.type === 'full')!;
    full.result = 'failed';
    expect(codes(plan)).toContain('DRCTL_DRILL_FAILED');
    plan.drills.history.push({ ...full, at: new Date('2026-02-15'), result: 'passed' });
    expect(codes(plan)).not.toContain('DRCTL_DRILL_FAILED');
  });
});
