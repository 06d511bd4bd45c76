/**
 * Judging the test schedule: for each workload, each required test's last occurrence, its result and
 * when the next one is due, at a given moment (tests pass a fake one). Reviews, sign-offs and stale
 * instructions are the analysis rules of src/analysis run over the plan's history plus what the store
 * recorded, so `drctl analyze` and `drctl compliance` never disagree on them.
 */
import { Cron } from 'croner';
import { analyzePlan } from '../analysis/index.ts';
import type { SourceLocation } from '../errors.ts';
import { formatDuration } from '../plan/duration.ts';
import type { DrillRecord, DrillType, Plan, RequiredTest, TestKind, Workload } from '../plan/model.ts';
import type { AttestationStatus } from './attestations.ts';
import type { TrainingStatus } from './training.ts';
import type { TestOccurrence } from './occurrences.ts';

const DAY_MS = 86_400_000;
/** A test done on the same date of the next period is on time (the analysis rules allow the same). */
export const GRACE_MS = DAY_MS;
/** "due soon": the next due date is this close. */
export const DUE_SOON_MS = 14 * DAY_MS;

/** Where one required test stands. */
export type TestStatus =
  /** done within its schedule, and its last result was not a failure */
  | 'ok'
  /** done, but due within the next 14 days */
  | 'due-soon'
  /** its next due date (plus a day) has passed */
  | 'overdue'
  /** never recorded anywhere */
  | 'never'
  /** the last occurrence failed */
  | 'failed';

export const FAILING_STATUSES: ReadonlySet<TestStatus> = new Set(['overdue', 'never', 'failed']);

export interface TestAssessment {
  id: string;
  kind: TestKind;
  scenario: string | undefined;
  /** "every 91d" or "cron 0 2 * * 6". */
  schedule: string;
  source: RequiredTest['source'];
  /** Whether the scheduler runs it on its own (the workload is unattended and a scenario performs it). */
  automated: boolean;
  last: TestOccurrence | undefined;
  nextDueAt: Date | undefined;
  status: TestStatus;
  at: SourceLocation;
}

export interface ComplianceIssue {
  code: string;
  workload: string | undefined;
  message: string;
  hint: string;
  at: SourceLocation | undefined;
}

export interface WorkloadCompliance {
  id: string;
  tier: number;
  owner: string;
  unattended: boolean;
  tests: TestAssessment[];
}

export interface ComplianceReport {
  plan: { name: string; hash: string };
  now: Date;
  workloads: WorkloadCompliance[];
  /** Reviews, sign-offs, instructions, drill targets missed and not re-run since. */
  issues: ComplianceIssue[];
  /** Nothing overdue, never done or failed, and no issue. */
  ok: boolean;
  /** seed 002's people's work per workload (drctl attest); informational, `ok` does not depend on it. */
  attestations?: AttestationStatus[];
  /** Each DR executor's last drill or tabletop against the review interval (seed 003); informational. */
  training?: TrainingStatus[];
}

/** The analysis findings compliance reports as issues. */
const REVIEW_CODES = new Set([
  'DRCTL_REVIEW_MISSING',
  'DRCTL_REVIEW_STALE',
  'DRCTL_SIGNOFF_MISSING',
  'DRCTL_SIGNOFF_STALE',
  'DRCTL_INSTRUCTIONS_STALE',
]);

const DRILL_TYPE_OF_KIND: Record<TestKind, DrillType> = {
  tabletop: 'tabletop',
  'partial-failover': 'partial',
  'full-failover': 'full',
  'backup-restore': 'backup-restore',
};

/** The required tests of a workload; a workload built by hand in code has none. */
export function requiredTests(workload: Workload): RequiredTest[] {
  return workload.tests?.required ?? [];
}

export function describeSchedule(test: Pick<RequiredTest, 'everyMs' | 'cron' | 'timezone'>): string {
  if (test.cron !== undefined) return `cron ${test.cron}${test.timezone ? ` (${test.timezone})` : ''}`;
  return `every ${formatDuration(test.everyMs ?? 0)}`;
}

/** When the test is next due after it was last done at `last`. */
export function nextDue(test: Pick<RequiredTest, 'everyMs' | 'cron' | 'timezone'>, last: Date): Date {
  if (test.cron !== undefined) {
    const cron = new Cron(test.cron, { paused: true, ...(test.timezone ? { timezone: test.timezone } : {}) });
    return cron.nextRun(last) ?? new Date(8.64e15);
  }
  return new Date(last.getTime() + (test.everyMs ?? 0));
}

/** Whether an occurrence counts for a required test of a workload. */
export function counts(test: RequiredTest, workload: string, occurrence: TestOccurrence): boolean {
  if (occurrence.workload !== undefined && occurrence.workload !== workload) return false;
  // a test named by its scenario needs that scenario; a kind takes any test of the kind
  if (test.id === test.scenario) return occurrence.scenario === test.scenario;
  return occurrence.kind === test.kind;
}

export function assessTest(
  test: RequiredTest,
  workload: Workload,
  occurrences: readonly TestOccurrence[],
  now: Date,
): TestAssessment {
  const mine = occurrences.filter((o) => counts(test, workload.id, o) && o.at.getTime() <= now.getTime());
  const last = mine.reduce<TestOccurrence | undefined>(
    (best, o) => (best === undefined || o.at.getTime() >= best.at.getTime() ? o : best),
    undefined,
  );
  const nextDueAt = last === undefined ? undefined : nextDue(test, last.at);
  let status: TestStatus;
  if (last === undefined) status = 'never';
  else if (last.result === 'failed') status = 'failed';
  else if (now.getTime() > nextDueAt!.getTime() + GRACE_MS) status = 'overdue';
  else if (nextDueAt!.getTime() - now.getTime() <= DUE_SOON_MS) status = 'due-soon';
  else status = 'ok';
  return {
    id: test.id,
    kind: test.kind,
    scenario: test.scenario,
    schedule: describeSchedule(test),
    source: test.source,
    automated: (workload.tests?.unattended ?? false) && test.scenario !== undefined,
    last,
    nextDueAt,
    status,
    at: test.at,
  };
}

export function assessCompliance(
  plan: Plan,
  occurrences: readonly TestOccurrence[],
  now: Date,
): ComplianceReport {
  const workloads = plan.workloads.map((w) => ({
    id: w.id,
    tier: w.tier,
    owner: w.owner,
    unattended: w.tests?.unattended ?? false,
    tests: requiredTests(w).map((t) => assessTest(t, w, occurrences, now)),
  }));
  const issues = [...reviewIssues(plan, occurrences, now), ...missedTargets(plan, occurrences, now)];
  const ok =
    issues.length === 0 && workloads.every((w) => w.tests.every((t) => !FAILING_STATUSES.has(t.status)));
  return { plan: { name: plan.name, hash: plan.hash }, now, workloads, issues, ok };
}

/** The staleness rules of analysis, over the plan's history and every stored test as if recorded there. */
function reviewIssues(plan: Plan, occurrences: readonly TestOccurrence[], now: Date): ComplianceIssue[] {
  const history: DrillRecord[] = occurrences
    .filter((o) => o.at.getTime() <= now.getTime())
    .map((o) => ({
      type: DRILL_TYPE_OF_KIND[o.kind],
      at: o.at,
      workload: o.workload,
      scenario: o.scenario,
      result: o.result,
      note: undefined,
      location: plan.at,
    }));
  const merged: Plan = { ...plan, drills: { ...plan.drills, history } };
  return analyzePlan(merged, { now })
    .findings.filter((f) => REVIEW_CODES.has(f.code))
    .map((f) => ({
      code: f.code,
      workload: f.subject?.workload,
      message: f.message,
      hint: f.hint,
      at: f.location,
    }));
}

/** A drill that missed its RTO or RPO stays an issue until the same scenario passes a later drill. */
function missedTargets(plan: Plan, occurrences: readonly TestOccurrence[], now: Date): ComplianceIssue[] {
  const issues: ComplianceIssue[] = [];
  const drills = occurrences.filter((o) => o.source === 'drill' && o.at.getTime() <= now.getTime());
  const latestMiss = new Map<string, TestOccurrence>();
  for (const o of drills) if (o.missed.length > 0) latestMiss.set(`${o.workload}/${o.scenario}`, o);
  for (const miss of latestMiss.values()) {
    const rerun = drills.some(
      (o) =>
        o.workload === miss.workload &&
        o.scenario === miss.scenario &&
        o.at.getTime() > miss.at.getTime() &&
        o.result === 'passed',
    );
    if (rerun) continue;
    const scenario = plan.drills.scenarios.find((s) => s.id === miss.scenario);
    issues.push({
      code: 'DRCTL_COMPLIANCE_TARGET_MISSED',
      workload: miss.workload,
      message: `drill ${miss.ref} of scenario ${miss.scenario} on ${miss.at.toISOString().slice(0, 10)} missed its ${miss.missed.map((t) => t.toUpperCase()).join(' and ')} and has not passed since`,
      hint: `fix what the report names and run the drill again: drctl drill PLAN --scenario ${miss.scenario}`,
      at: scenario?.at,
    });
  }
  return issues;
}
