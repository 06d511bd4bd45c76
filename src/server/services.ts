/**
 * Background services: what runs beside the HTTP routes for as long as the server does. Each starts
 * after the routes are mounted and before the server listens, and stops (in reverse order) before the
 * store closes. Add one by writing an object satisfying `ServerService` and listing it in `services`.
 */
import { planScheduler } from '../compliance/plan-scheduler.ts';
import { schedulePreflight, type PreflightSchedule } from '../preflight/schedule.ts';
import type { Scheduler } from '../schedule/index.ts';
import type { ServerContext, ServerService } from './context.ts';
import { communicationsService } from './routes/status.ts';
import { exportService } from './export.ts';
import { monitorService } from './monitors.ts';
import { takeoverService } from './takeover.ts';

export type { ServerService } from './context.ts';

/** Publishes every journal record of every run on the bus (SSE), whoever wrote it. */
function runWatcher(): ServerService {
  let context: ServerContext | undefined;
  return {
    name: 'run-watcher',
    async start(ctx) {
      context = ctx;
      await ctx.watcher.start();
    },
    stop: async () => context?.watcher.stop(),
  };
}

/** Keeps the readiness report fresh in the background. */
function readinessChecker(): ServerService {
  let timer: NodeJS.Timeout | undefined;
  let context: ServerContext | undefined;
  const check = (): void => {
    context?.readiness.refresh().catch((error: unknown) => {
      context?.logger.warn({ err: error }, 'the readiness check failed');
    });
  };
  return {
    name: 'readiness',
    async start(ctx) {
      context = ctx;
      check();
      timer = setInterval(check, ctx.options.readinessEveryMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await context?.readiness.idle();
    },
  };
}

/**
 * Preflight of every plan on a schedule (`preflightEveryMs`, 30 minutes by default; 0 turns it off), kept
 * in the store where readiness reads it: a step that can no longer run is known before the disaster.
 */
function preflightChecker(): ServerService {
  let schedule: PreflightSchedule | undefined;
  return {
    name: 'preflight',
    async start(ctx) {
      schedule = schedulePreflight({
        plans: () => ctx.plans.list(),
        providers: ctx.providers,
        store: ctx.store,
        stateDir: ctx.options.state,
        logger: ctx.logger,
        everyMs: ctx.options.preflightEveryMs,
      });
    },
    stop: async () => schedule?.stop(),
  };
}

/** The plans' schedules on one scheduler (compliance/plan-scheduler.ts). */
function schedules(): ServerService {
  let scheduler: Scheduler | undefined;
  return {
    name: 'schedules',
    async start(ctx) {
      scheduler = planScheduler({
        plans: ctx.plans.list(),
        store: ctx.store,
        stateDir: ctx.options.state,
        logger: ctx.logger,
        // as a drill job, so the console shows it beside the drills people started
        runDrill: (options) => ctx.drills.run(options, 'schedule'),
      });
      scheduler.start();
    },
    stop: async () => scheduler?.stop(),
  };
}

/** Every service, in start order. */
export function services(): ServerService[] {
  return [
    runWatcher(),
    readinessChecker(),
    preflightChecker(),
    schedules(),
    communicationsService(),
    takeoverService(),
    monitorService(),
    exportService(),
  ];
}
