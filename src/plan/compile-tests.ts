/**
 * The tests each workload must have: seed 004's schedule for its tier (the kinds that apply to it), the
 * plan's drills.schedule over that, and the workload's own tests.schedule over both. Compiled after the
 * scenarios, which the schedules name.
 */
import { Cron } from 'croner';
import type { SourceLocation } from '../errors.ts';
import { TEST_KIND_OF_DRILL, TEST_SCHEDULE_BY_TIER } from './defaults.ts';
import type { DrillType, RequiredTest, Scenario, TestKind, Workload } from './model.ts';
import type { WorkloadInput } from './schema.ts';
import { TEST_KINDS } from './terms.ts';
import { locate } from './source.ts';
import {
  ms,
  optMs,
  reportUnknown,
  type CompileContext,
  type Section,
  type Locator,
  type Report,
} from './compile-context.ts';
import type { WorkloadTestsInput } from './compile-workloads.ts';

/** Sets each workload's `tests`. */
export function compileWorkloadTests(
  ctx: CompileContext,
  inputs: WorkloadTestsInput[],
  scenarios: Scenario[],
  drills: Section<'drills'> | undefined,
): void {
  const planSchedule = new Map<TestKind, { everyMs: number; at: SourceLocation }>();
  for (const [type, every] of Object.entries(drills?.value.schedule ?? {}))
    if (every !== undefined)
      planSchedule.set(TEST_KIND_OF_DRILL[type as DrillType], {
        everyMs: ms(every),
        at: ctx.at(drills!.file, 'drills', 'schedule', type),
      });
  for (const { workload, input, file, path } of inputs) {
    const locator: Locator = (...p) => ctx.at(file, ...path, 'tests', ...p);
    const keyAt = (key: string): SourceLocation =>
      locate(file.source, [...path, 'tests', 'schedule', key], { key: true });
    workload.tests = {
      unattended: input?.unattended ?? false,
      required: compileTests(workload, input, scenarios, planSchedule, locator, keyAt, ctx.report),
    };
  }
}

/**
 * The tests a workload must have: seed 004's schedule for its tier (the kinds that apply to it), the plan's
 * drills.schedule over that, and the workload's own tests.schedule over both.
 */
function compileTests(
  workload: Workload,
  input: WorkloadInput['tests'],
  scenarios: Scenario[],
  planSchedule: Map<TestKind, { everyMs: number; at: SourceLocation }>,
  at: Locator,
  keyAt: (key: string) => SourceLocation,
  report: Report,
): RequiredTest[] {
  const hasFailover = workload.runbooks.some((r) => r.kind === 'failover');
  const applies: Record<TestKind, boolean> = {
    tabletop: workload.runbooks.length > 0,
    'partial-failover': hasFailover,
    'full-failover': hasFailover,
    'backup-restore':
      workload.components.some((c) => c.backups.length > 0) ||
      workload.runbooks.some((r) => r.kind === 'restore'),
  };
  const own = scenarios.filter((s) => s.workload === workload.id);
  const required = new Map<string, RequiredTest>();
  const tierDefaults = TEST_SCHEDULE_BY_TIER[workload.tier];
  for (const kind of TEST_KINDS) {
    if (!applies[kind]) continue;
    const fromPlan = planSchedule.get(kind);
    const everyMs = fromPlan?.everyMs ?? tierDefaults[kind];
    if (everyMs === undefined) continue;
    required.set(kind, {
      id: kind,
      kind,
      // the workload's first scenario of that kind is what an automated test runs
      scenario: own.find((s) => TEST_KIND_OF_DRILL[s.type] === kind)?.id,
      everyMs,
      cron: undefined,
      timezone: undefined,
      source: fromPlan ? 'plan' : 'tier',
      at: fromPlan?.at ?? workload.at,
    });
  }
  for (const [key, value] of Object.entries(input?.schedule ?? {})) {
    const spec = typeof value === 'string' ? { every: value } : value;
    const location = keyAt(key);
    const isKind = (TEST_KINDS as readonly string[]).includes(key);
    const named = own.find((s) => s.id === key);
    if (!isKind && named === undefined) {
      reportUnknown(
        'test kind or drill scenario',
        key,
        [...TEST_KINDS, ...own.map((s) => s.id)],
        location,
        `the test schedule of workload ${workload.id}`,
        report,
      );
      continue;
    }
    const scenarioId = named?.id ?? spec.scenario;
    if (spec.scenario !== undefined && !own.some((s) => s.id === spec.scenario)) {
      reportUnknown(
        'drill scenario',
        spec.scenario,
        own.map((s) => s.id),
        at('schedule', key, 'scenario'),
        `the ${key} test of workload ${workload.id}`,
        report,
      );
    }
    if ((spec.every === undefined) === (spec.cron === undefined)) {
      report(
        'DRCTL_PLAN_SCHEDULE_WHEN',
        `the ${key} test of workload ${workload.id} needs exactly one of every or cron`,
        location,
        'write every: 91d, or cron: "0 2 * * 6"',
      );
      continue;
    }
    // an interval of zero never comes; the schema refuses it (DRCTL_PLAN_VALUE) before this runs
    const everyMs = optMs(spec.every);
    if (spec.cron !== undefined) {
      try {
        new Cron(spec.cron, { paused: true, ...(spec.timezone ? { timezone: spec.timezone } : {}) });
      } catch (error) {
        report(
          'DRCTL_PLAN_SCHEDULE_CRON',
          `the cron expression "${spec.cron}" of the ${key} test of workload ${workload.id} does not parse: ${error instanceof Error ? error.message : String(error)}`,
          at('schedule', key, spec.timezone && validCron(spec.cron) ? 'timezone' : 'cron'),
          'write five fields, minute hour day-of-month month day-of-week, e.g. "0 2 * * 6", and an IANA time zone',
        );
        continue;
      }
    }
    required.set(key, {
      id: key,
      kind: named ? TEST_KIND_OF_DRILL[named.type] : (key as TestKind),
      scenario: scenarioId,
      everyMs,
      cron: spec.cron,
      timezone: spec.timezone,
      source: 'workload',
      at: location,
    });
  }
  return [...required.values()];
}

function validCron(expression: string): boolean {
  try {
    new Cron(expression, { paused: true });
    return true;
  } catch {
    return false;
  }
}
