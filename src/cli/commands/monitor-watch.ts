/** What `drctl monitor` does once its plan is loaded: probe every site once, or watch and act until stopped. */
import { DrctlError, UsageError } from '../../errors.ts';
import type { RunDriver } from '../../engine/index.ts';
import {
  engineRunbookStarter,
  failoverRunbook,
  Monitor,
  runProbe,
  watchTargets,
} from '../../monitor/index.ts';
import type { MonitorEvent } from '../../monitor/index.ts';
import { planScheduler } from '../../compliance/plan-scheduler.ts';
import { formatDuration } from '../../plan/index.ts';
import { parseDuration } from '../../plan/duration.ts';
import { schedulePreflight } from '../../preflight/schedule.ts';
import { providers } from '../../providers/index.ts';
import type { Plan } from '../../plan/index.ts';
import type { Scheduler } from '../../schedule/index.ts';
import type { RunStore } from '../../store/index.ts';
import { printJson } from '../context.ts';
import type { CommandContext } from '../context.ts';
import { commandLogger, engineFor, localStateDir, openState } from './run-shared.ts';

export interface MonitorFlags {
  state: string;
  preflightEvery: string;
  once?: boolean;
  json?: boolean;
  workload?: string[];
}

export async function probeOnce(context: CommandContext, plan: Plan, flags: MonitorFlags): Promise<void> {
  const workloads = plan.workloads.filter(
    (w) => flags.workload === undefined || flags.workload.includes(w.id),
  );
  const targets = workloads.flatMap((w) => watchTargets(w));
  const signal = new AbortController().signal;
  const results = await Promise.all(
    targets.map(async (t) => {
      const result = await runProbe(t, signal);
      return {
        workload: t.workload,
        component: t.component.id,
        site: t.site,
        ok: result.ok,
        latencyMs: Math.round(result.latencyMs),
        message: result.message,
      };
    }),
  );
  if (results.some((r) => !r.ok)) context.exitCode = 1;
  if (flags.json) {
    printJson(context, {
      plan: plan.name,
      hash: plan.hash,
      checkedAt: new Date().toISOString(),
      ok: results.every((r) => r.ok),
      probes: results,
    });
    return;
  }
  if (results.length === 0) {
    context.out.write(`${plan.name}: no probe is aimed at a site; nothing to watch\n`);
    return;
  }
  for (const r of results) {
    context.out.write(
      `${r.workload.padEnd(14)} ${r.component.padEnd(14)} ${r.site.padEnd(8)} ${r.ok ? 'ok    ' : 'FAILED'} ${r.message}\n`,
    );
  }
}

export async function watch(context: CommandContext, plan: Plan, flags: MonitorFlags): Promise<void> {
  const preflightEveryMs = flags.preflightEvery === '0' ? 0 : parseDuration(flags.preflightEvery);
  if (preflightEveryMs === undefined)
    throw new UsageError(
      'DRCTL_MONITOR_PREFLIGHT_EVERY',
      `--preflight-every ${flags.preflightEvery} is not a duration`,
      { hint: 'write it like 30m, 1h or 0 (off)' },
    );
  const stateDir = localStateDir(flags.state);
  const store = await openState({ state: flags.state });
  const drivers = new Map<string, RunDriver>();
  try {
    const engine = engineFor(store, { state: flags.state }, plan, context, []);
    // decisions go, redacted, to <state>/logs/monitor.log (and to stderr with --debug)
    const log = commandLogger(stateDir, 'monitor.log', plan, context);

    // the plan's schedules run beside the watch: backups, prunes, verifications; due drills where
    // allowed, else reminders
    const scheduler = planScheduler({
      plans: [plan],
      store,
      stateDir,
      logger: log,
      notify: async (reminder) =>
        say(
          context,
          flags,
          { type: 'test-reminder', ...reminder, at: Date.now() },
          `reminder to ${reminder.owner}: ${reminder.message}`,
        ),
    });

    const latched = await latchedRuns(store, plan);
    const monitor = startOrOnlySchedules(scheduler, () =>
      Monitor.start({
        plan,
        logger: log,
        ...(flags.workload === undefined ? {} : { workloads: flags.workload }),
        startRunbook: engineRunbookStarter(engine, plan, {
          onRun: (driver) => {
            drivers.set(driver.runId, driver);
            void driver.done
              .then((outcome) =>
                say(
                  context,
                  flags,
                  { type: 'run-finished', runId: outcome.runId, status: outcome.status, at: Date.now() },
                  `run ${outcome.runId} ${outcome.status}`,
                ),
              )
              .catch((error: unknown) => log.error({ err: error, runId: driver.runId }, 'run driver failed'))
              .finally(() => drivers.delete(driver.runId));
          },
        }),
        runStatus: async (runId) => (await store.getRun(runId))?.status,
        latched,
      }),
    );
    if (monitor === undefined) {
      const ids = scheduler.jobs.map((j) => j.id);
      say(
        context,
        flags,
        { type: 'schedules-only', schedules: ids, at: Date.now() },
        `${plan.name}: no probe is aimed at a site; running its ${ids.length} schedule${ids.length === 1 ? '' : 's'} only (${ids.join(', ')})`,
      );
    }
    monitor?.on('event', (event) => printEvent(context, flags, event));
    for (const w of monitor?.status() ?? []) {
      const line = `watching ${w.workload}: sites ${Object.keys(w.sites).join(', ')}, loss of ${w.watchedSites.join(', ')} after ${formatDuration(w.detectAfterMs)} → ${
        w.runbook === undefined
          ? 'no failover runbook'
          : w.automaticFailover
            ? `automatic ${w.runbook}`
            : `${w.runbook} waiting for activation approval`
      }`;
      say(context, flags, { type: 'watching', ...w, at: Date.now() }, line);
    }

    scheduler.start();
    // every step of the plan checked on the same schedule as drctl serve's, kept for readiness
    const preflight = schedulePreflight({
      plans: () => [plan],
      providers,
      store,
      stateDir,
      logger: log,
      everyMs: preflightEveryMs,
      onReport: (_plan, report) =>
        say(
          context,
          flags,
          {
            type: 'preflight',
            ok: report.ok,
            summary: report.summary,
            planHash: report.planHash,
            at: Date.now(),
          },
          `preflight: ${report.ok ? 'every step can run' : 'some steps cannot run'} (${report.summary.passed} passed, ${report.summary.failed} failed, ${report.summary['timed-out']} timed out; drctl preflight for the details)`,
        ),
    });

    // the scheduler's timer does not hold the process open (unref'd for tests and the server); the
    // monitor's probes do, and without them this does until a signal
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    let interrupts = 0;
    await new Promise<void>((resolveStop) => {
      const onSignal = (): void => {
        interrupts += 1;
        if (interrupts === 1) resolveStop();
        else {
          // a second Ctrl-C leaves runs in flight to `drctl resume`
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    clearInterval(keepAlive);
    await monitor?.stop();
    await scheduler.stop();
    await preflight.stop();
    if (drivers.size > 0) {
      say(
        context,
        flags,
        { type: 'stopping', waitingFor: [...drivers.keys()], at: Date.now() },
        `monitor stopped; waiting for run ${[...drivers.keys()].join(', ')} (Ctrl-C again to leave it; drctl resume RUN continues it)`,
      );
      await Promise.race([
        Promise.allSettled([...drivers.values()].map((d) => d.done)),
        new Promise<void>((resolveLeave) => {
          const leave = (): void => resolveLeave();
          process.once('SIGINT', leave);
          process.once('SIGTERM', leave);
        }),
      ]);
    }
    say(context, flags, { type: 'stopped', at: Date.now() }, 'monitor stopped');
  } finally {
    await store.close();
  }
}

/**
 * A plan with no probe aimed at a site (a backup-only plan) still has schedules to run: watch those alone
 * rather than refuse; with neither, DRCTL_MONITOR_NOTHING_TO_WATCH stands.
 */
function startOrOnlySchedules(scheduler: Scheduler, start: () => Monitor): Monitor | undefined {
  try {
    return start();
  } catch (error) {
    if (
      error instanceof DrctlError &&
      error.code === 'DRCTL_MONITOR_NOTHING_TO_WATCH' &&
      scheduler.jobs.length > 0
    )
      return undefined;
    throw error;
  }
}

/** Failovers an earlier monitor started that are still going or succeeded: a restart must not repeat them. */
async function latchedRuns(store: RunStore, plan: Plan): Promise<Record<string, string>> {
  const latched: Record<string, string> = {};
  // newest first, so the first match per workload is its latest failover
  for (const run of await store.listRuns({ limit: 500 })) {
    const workload = plan.workloads.find((w) => w.id === run.workload);
    if (workload === undefined || latched[run.workload] !== undefined || run.startedBy !== 'monitor')
      continue;
    if (run.runbook !== failoverRunbook(workload)?.name) continue;
    if (['failed', 'cancelled', 'rolled-back'].includes(run.status)) continue;
    latched[run.workload] = run.id;
  }
  return latched;
}

function say<T extends { type: string; at?: number }>(
  context: CommandContext,
  flags: MonitorFlags,
  json: T,
  text: string,
): void {
  context.out.write(
    flags.json ? `${JSON.stringify(json)}\n` : `${new Date(json.at ?? Date.now()).toISOString()} ${text}\n`,
  );
}

function printEvent(context: CommandContext, flags: MonitorFlags, event: MonitorEvent): void {
  // a passing probe every interval per site would drown what matters; failures are printed as probe-failed
  if (event.type === 'probe') return;
  switch (event.type) {
    case 'probe-failed':
      return say(
        context,
        flags,
        event,
        `${event.workload} ${event.component} at ${event.site}: probe failed (${event.error ?? 'no detail'})`,
      );
    case 'site-suspect':
      return say(
        context,
        flags,
        event,
        `${event.workload} ${event.site} suspect (${event.component} failing)`,
      );
    case 'site-lost':
      return say(
        context,
        flags,
        event,
        `${event.workload} ${event.site} LOST after ${formatDuration(event.confirmedAt - event.firstFailureAt)}: ${event.reason}`,
      );
    case 'site-recovered':
      return say(
        context,
        flags,
        event,
        `${event.workload} ${event.site} answers again after ${formatDuration(event.downMs)}${event.wasLost ? ' (failback stays a controlled runbook)' : ' (transient, no action)'}`,
      );
    case 'failover-started':
      return say(
        context,
        flags,
        event,
        `${event.workload} failover run ${event.runId} started${event.automatic ? ' automatically' : ', waiting for activation approval (drctl approve RUN activation, then drctl resume RUN)'}`,
      );
    case 'failover-skipped':
      return say(
        context,
        flags,
        event,
        `${event.workload} ${event.site}: no failover started (${event.why}): ${event.reason}`,
      );
    case 'failover-error':
      return say(
        context,
        flags,
        event,
        `${event.workload} failover could not start: ${event.code} ${event.message}`,
      );
  }
}
