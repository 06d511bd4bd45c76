/**
 * The test schedule put on the shared scheduler (src/schedule): one job per required test of every
 * workload. When a job is due and the test was not done meanwhile by other means, an automated test (the
 * workload allows unattended drills and a scenario performs it) runs the drill for real; any other test
 * becomes a reminder to the workload's owner, kept in the store (collection `reminders`) and handed to
 * the `notify` seam, which the notifications side fills with the plan's channels.
 */
import type { Logger } from 'pino';
import pino from 'pino';
import type { DrillOptions, DrillOutcome } from '../drill/index.ts';
import type { Plan, RequiredTest, Workload } from '../plan/model.ts';
import type { Occurrence, Scheduler } from '../schedule/index.ts';
import type { RunStore } from '../store/store.ts';
import { assessTest, describeSchedule } from './assess.ts';
import { collectOccurrences } from './occurrences.ts';

export const REMINDERS_COLLECTION = 'reminders';

export interface TestReminder {
  id: string;
  plan: string;
  workload: string;
  /** The contact who owns the workload: who is reminded. */
  owner: string;
  test: string;
  kind: RequiredTest['kind'];
  /** ISO time the test fell due; `late` when drctl was down over it. */
  dueAt: string;
  late: boolean;
  /** Why a drill did not run by itself, or what the drill that ran found. */
  reason: string;
  message: string;
}

export interface ScheduleTestsOptions {
  plan: Plan;
  scheduler: Scheduler;
  store: RunStore;
  /** Where automated drills keep their environment and reports. */
  stateDir: string;
  /** Runs one drill; the real runner by default, loaded only when a drill is due. */
  runDrill?: (options: DrillOptions) => Promise<DrillOutcome>;
  /** Sends a reminder through the plan's channels. @default nothing beyond the store document */
  notify?: (reminder: TestReminder) => Promise<void>;
  /** @default the scheduler's clock is not known here: `new Date()` */
  clock?: () => Date;
  logger?: Logger;
}

/** The scheduler job id of a workload's test. */
export function testJobId(plan: Plan, workload: Workload, test: RequiredTest): string {
  return `test:${plan.name}:${workload.id}:${test.id}`;
}

/** Adds one job per required test; returns the job ids. */
export function scheduleTests(options: ScheduleTestsOptions): string[] {
  const { plan, scheduler, store } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const clock = options.clock ?? (() => new Date());
  const ids: string[] = [];
  for (const workload of plan.workloads) {
    for (const test of workload.tests?.required ?? []) {
      const id = testJobId(plan, workload, test);
      ids.push(id);
      scheduler.add({
        spec: {
          id,
          ...(test.cron === undefined ? { everyMs: test.everyMs! } : { cron: test.cron }),
          ...(test.timezone === undefined ? {} : { timezone: test.timezone }),
        },
        run: async (occurrence) => {
          const now = clock();
          const state = assessTest(test, workload, await collectOccurrences(plan, store), now);
          // done meanwhile (by hand, a real failover, a verification): not due again yet
          if (
            state.nextDueAt !== undefined &&
            state.nextDueAt.getTime() > now.getTime() &&
            state.status !== 'failed'
          ) {
            log.info({ test: id, last: state.last?.ref }, 'test done meanwhile; not run');
            return;
          }
          if (
            workload.tests?.unattended === true &&
            test.scenario !== undefined &&
            test.kind !== 'tabletop'
          ) {
            const run = options.runDrill ?? (await import('../drill/index.ts')).runDrill;
            log.info(
              { test: id, scenario: test.scenario, late: occurrence.late },
              'running a scheduled drill',
            );
            let outcome: DrillOutcome;
            try {
              outcome = await run({
                plan,
                scenario: test.scenario,
                stateDir: options.stateDir,
                remapPorts: true,
                log,
              });
            } catch (error) {
              const why = error instanceof Error ? error.message : String(error);
              await remind(options, workload, test, occurrence, `the scheduled drill could not run: ${why}`);
              throw error;
            }
            if (!outcome.report.passed)
              await remind(
                options,
                workload,
                test,
                occurrence,
                `the scheduled drill ${outcome.report.id} failed`,
              );
            return;
          }
          await remind(
            options,
            workload,
            test,
            occurrence,
            test.kind === 'tabletop'
              ? 'a tabletop exercise needs people'
              : workload.tests?.unattended !== true
                ? `workload ${workload.id} does not allow unattended drills (tests.unattended)`
                : 'no drill scenario performs this test',
          );
        },
      });
    }
  }
  return ids;
}

async function remind(
  options: ScheduleTestsOptions,
  workload: Workload,
  test: RequiredTest,
  occurrence: Occurrence,
  reason: string,
): Promise<void> {
  const { plan, store } = options;
  const dueAt = occurrence.dueAt.toISOString();
  const reminder: TestReminder = {
    id: `${testJobId(plan, workload, test)}:${dueAt}`,
    plan: plan.name,
    workload: workload.id,
    owner: workload.owner,
    test: test.id,
    kind: test.kind,
    dueAt,
    late: occurrence.late,
    reason,
    message: `The ${test.id} test of ${workload.name} (${describeSchedule(test)}) fell due on ${dueAt.slice(0, 10)}${occurrence.late ? ' and is late' : ''}: ${reason}. Run it and record it (drctl drill, drctl tabletop).`,
  };
  await store.putDocument(REMINDERS_COLLECTION, reminder.id, reminder as unknown as Record<string, unknown>);
  await options.notify?.(reminder);
}
