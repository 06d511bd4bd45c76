import { describe, expect, it } from 'vitest';
import { assessCompliance, historyOccurrences, type TestOccurrence } from '../../src/compliance/index.ts';
import { PlanInvalidError } from '../../src/errors.ts';
import { loadPlan, type Plan } from '../../src/plan/index.ts';
import { writeFiles } from '../support/tmp.ts';

const DAY = 86_400_000;

function planYaml(tier: number, tests = '', extra = ''): string {
  return `version: 1
name: sched
review: { last: 2026-01-15, by: alice }
sites: { east: { role: primary }, west: { role: secondary } }
contacts:
  - { id: alice, name: Alice, backup: bob }
  - { id: bob, name: Bob, backup: alice }
workloads:
  - id: shop
    tier: ${tier}
    strategy: warm-standby
    owner: alice
    signoff: { by: alice, at: 2026-01-10 }
${tests}
    components:
      - id: db
        kind: sqlite
        placement: { east: { path: a.db }, west: { path: b.db, standby: true } }
        backups: [{ every: 1h, to: west }]
    runbooks:
      failover:
        steps: [{ id: promote, run: "true", expected: 30s }]
drills:
  scenarios:
    - { id: east-killed, disaster: site-loss, type: full, workload: shop, faults: [{ kind: kill, target: db@east }] }
${extra}`;
}

async function load(yaml: string): Promise<Plan> {
  const dir = writeFiles({ 'plan.yaml': yaml });
  return loadPlan(`${dir}/plan.yaml`);
}

async function problems(yaml: string): Promise<string[]> {
  const dir = writeFiles({ 'plan.yaml': yaml });
  try {
    await loadPlan(`${dir}/plan.yaml`);
  } catch (error) {
    if (error instanceof PlanInvalidError)
      return error.problems.map((p) => `${p.location.line}:${p.location.column} ${p.code}`);
    throw error;
  }
  return [];
}

function occurrence(
  kind: TestOccurrence['kind'],
  at: string,
  extra: Partial<TestOccurrence> = {},
): TestOccurrence {
  return {
    kind,
    scenario: undefined,
    workload: 'shop',
    at: new Date(at),
    result: 'passed',
    source: 'drill',
    ref: `${kind}-${at}`,
    missed: [],
    ...extra,
  };
}

const statuses = (plan: Plan, occurrences: TestOccurrence[], now: string) =>
  Object.fromEntries(
    assessCompliance(plan, occurrences, new Date(now)).workloads[0]!.tests.map((t) => [t.id, t.status]),
  );

describe('the test schedule of a workload', () => {
  it("takes seed 004's schedule for tiers 0 and 1 and a lighter one for tiers 2 and 3", async () => {
    const every = async (tier: number) =>
      Object.fromEntries(
        (await load(planYaml(tier))).workloads[0]!.tests!.required.map((t) => [t.id, t.everyMs! / DAY]),
      );
    expect(await every(1)).toEqual({
      tabletop: 91,
      'partial-failover': 183,
      'full-failover': 365,
      'backup-restore': 31,
    });
    expect(await every(2)).toEqual({ tabletop: 183, 'partial-failover': 365, 'backup-restore': 31 });
    expect(await every(3)).toEqual({ tabletop: 365, 'backup-restore': 91 });
  });

  it('lets drills.schedule override the tier default and tests.schedule override both', async () => {
    const plan = await load(
      planYaml(
        1,
        `    tests:
      unattended: true
      schedule:
        backup-restore: 7d
        east-killed: { cron: "0 2 * * 6" }`,
        '  schedule: { tabletop: 30d, backup-restore: 14d }',
      ),
    );
    const tests = plan.workloads[0]!.tests!;
    expect(tests.unattended).toBe(true);
    const byId = Object.fromEntries(tests.required.map((t) => [t.id, t]));
    expect(byId.tabletop).toMatchObject({ everyMs: 30 * DAY, source: 'plan' });
    expect(byId['backup-restore']).toMatchObject({ everyMs: 7 * DAY, source: 'workload' });
    expect(byId['east-killed']).toMatchObject({
      kind: 'full-failover',
      scenario: 'east-killed',
      cron: '0 2 * * 6',
      source: 'workload',
    });
    // the full failover of the tier default is performed by the workload's full scenario
    expect(byId['full-failover']).toMatchObject({ scenario: 'east-killed', source: 'tier' });
  });

  it('reports a cron that does not parse and an unknown scenario at their positions', async () => {
    const found = await problems(
      planYaml(
        1,
        `    tests:
      schedule:
        tabletop: 91d
        full-failover: { cron: "every tuesday" }
        east-kiled: 7d
        partial-failover: { every: 30d, scenario: nowhere }`,
      ),
    );
    expect(found).toEqual([
      '17:33 DRCTL_PLAN_SCHEDULE_CRON',
      '18:9 DRCTL_PLAN_UNKNOWN_REF',
      '19:51 DRCTL_PLAN_UNKNOWN_REF',
    ]);
  });

  it('refuses an interval of zero at its position, as it never comes', async () => {
    const found = await problems(
      planYaml(
        1,
        `    tests:
      schedule:
        tabletop: 0s`,
      ),
    );
    expect(found).toEqual(['16:19 DRCTL_PLAN_VALUE']);
  });
});

describe('due and overdue, judged on a fake clock', () => {
  it('is never done, then ok, then due soon, then overdue a day after its due date', async () => {
    const plan = await load(planYaml(3));
    expect(statuses(plan, [], '2026-03-01')).toEqual({ tabletop: 'never', 'backup-restore': 'never' });
    const done = [occurrence('tabletop', '2026-03-01'), occurrence('backup-restore', '2026-03-01')];
    expect(statuses(plan, done, '2026-03-02')).toEqual({ tabletop: 'ok', 'backup-restore': 'ok' });
    // 91 days: due 2026-05-31; within 14 days of it, due soon
    expect(statuses(plan, done, '2026-05-20')['backup-restore']).toBe('due-soon');
    expect(statuses(plan, done, '2026-06-01')['backup-restore']).toBe('due-soon');
    expect(statuses(plan, done, '2026-06-02')['backup-restore']).toBe('overdue');
    // across a year boundary: a yearly tabletop of 2026-03-01 is due 2027-03-01
    expect(statuses(plan, done, '2027-02-27').tabletop).toBe('due-soon');
    expect(statuses(plan, done, '2027-03-03').tabletop).toBe('overdue');
    const report = assessCompliance(plan, done, new Date('2027-03-03'));
    expect(report.workloads[0]!.tests.find((t) => t.id === 'tabletop')!.nextDueAt).toEqual(
      new Date('2027-03-01'),
    );
    expect(report.ok).toBe(false);
  });

  it('takes the next cron time after the last test, across months', async () => {
    const plan = await load(
      planYaml(
        3,
        `    tests:
      schedule:
        backup-restore: { cron: "0 2 1 * *" }`,
      ),
    );
    const done = [occurrence('tabletop', '2026-01-20'), occurrence('backup-restore', '2026-01-20T10:00:00Z')];
    const test = () =>
      assessCompliance(plan, done, new Date('2026-02-01T12:00:00Z')).workloads[0]!.tests.find(
        (t) => t.id === 'backup-restore',
      )!;
    expect(test().nextDueAt).toEqual(new Date('2026-02-01T02:00:00Z'));
    expect(test().status).toBe('due-soon');
    expect(statuses(plan, done, '2026-02-03')['backup-restore']).toBe('overdue');
  });

  it('is failed while the last test failed, and ok again once a later one passed', async () => {
    const plan = await load(planYaml(3));
    const failed = [
      occurrence('tabletop', '2026-03-01'),
      occurrence('backup-restore', '2026-03-01', { result: 'failed' }),
    ];
    expect(statuses(plan, failed, '2026-03-10')['backup-restore']).toBe('failed');
    const fixed = [...failed, occurrence('backup-restore', '2026-03-05')];
    expect(statuses(plan, fixed, '2026-03-10')['backup-restore']).toBe('ok');
  });

  it("counts the plan's drills.history, a whole-plan record for every workload", async () => {
    const plan = await load(
      planYaml(
        3,
        '',
        `  history:\n    - { type: tabletop, at: 2026-02-01 }\n    - { type: backup-restore, at: 2026-02-10, workload: shop }`,
      ),
    );
    expect(statuses(plan, historyOccurrences(plan), '2026-03-01')).toEqual({
      tabletop: 'ok',
      'backup-restore': 'ok',
    });
  });

  it('keeps a drill that missed its RTO an issue until the scenario passes again', async () => {
    const plan = await load(planYaml(3));
    const base = [occurrence('tabletop', '2026-03-01'), occurrence('backup-restore', '2026-03-01')];
    const missed = occurrence('full-failover', '2026-03-02', {
      scenario: 'east-killed',
      result: 'failed',
      missed: ['rto'],
      ref: 'east-killed-1',
    });
    const issues = (list: TestOccurrence[]) =>
      assessCompliance(plan, list, new Date('2026-03-10')).issues.map((i) => i.code);
    expect(issues([...base, missed])).toEqual(['DRCTL_COMPLIANCE_TARGET_MISSED']);
    const rerun = { ...missed, at: new Date('2026-03-05'), result: 'passed' as const, missed: [] };
    expect(issues([...base, missed, rerun])).toEqual([]);
  });

  it('reports a stale plan review and an expired sign-off as issues', async () => {
    const plan = await load(planYaml(3));
    const done = [occurrence('tabletop', '2027-03-01'), occurrence('backup-restore', '2027-03-01')];
    const codes = assessCompliance(plan, done, new Date('2027-03-02')).issues.map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['DRCTL_REVIEW_STALE', 'DRCTL_SIGNOFF_STALE']));
  });
});
