/**
 * Everything plans schedule, on one scheduler, for the long-running commands (`drctl serve`,
 * `drctl monitor`): backups, prunes and restore verifications (`schedules`), and the test schedule, whose
 * due drills run where the workload allows it, else the owner is reminded. Instances sharing a store run
 * each occurrence once. The caller starts and stops it.
 */
import type { Logger } from 'pino';
import type { Plan } from '../plan/model.ts';
import { Scheduler } from '../schedule/index.ts';
import type { RunStore } from '../store/store.ts';
import { scheduleJobs } from '../verify/index.ts';
import { scheduleTests, type ScheduleTestsOptions } from './scheduled.ts';

export interface PlanSchedulerOptions extends Pick<ScheduleTestsOptions, 'runDrill' | 'notify'> {
  plans: readonly Plan[];
  store: RunStore;
  stateDir: string;
  logger: Logger;
}

export function planScheduler(options: PlanSchedulerOptions): Scheduler {
  const { store, stateDir, logger } = options;
  const scheduler = new Scheduler({ store, logger });
  for (const plan of options.plans) {
    for (const job of scheduleJobs(plan, { store, stateDir, log: logger })) scheduler.add(job);
    scheduleTests({
      plan,
      scheduler,
      store,
      stateDir,
      logger,
      ...(options.runDrill === undefined ? {} : { runDrill: options.runDrill }),
      ...(options.notify === undefined ? {} : { notify: options.notify }),
    });
  }
  return scheduler;
}
