/**
 * Preflight on a timer, for the long-running commands (`drctl serve`, `drctl monitor`): every plan is
 * preflighted the first time a minute after start (sooner when the interval is shorter: a process
 * restarting in a loop must not probe every target each time), then every interval, and each report is
 * kept in the store where readiness reads it. Runs never overlap; a failing run is logged, not thrown.
 */
import type { Logger } from 'pino';
import type { Plan } from '../plan/model.ts';
import type { Provider } from '../providers/provider.ts';
import type { RunStore } from '../store/store.ts';
import { runPreflight, savePreflight, type PreflightReport } from './index.ts';

export interface PreflightScheduleOptions {
  /** The plans to preflight, read at every run (a server reloads its plans). */
  plans(): readonly Plan[];
  providers: readonly Provider[];
  store: RunStore;
  stateDir: string;
  logger: Logger;
  /** @default 1800000 (30 minutes); 0 or less: never */
  everyMs?: number;
  /** Told every report once it is kept. */
  onReport?(plan: Plan, report: PreflightReport): void;
}

export const DEFAULT_PREFLIGHT_EVERY_MS = 30 * 60_000;
const FIRST_AFTER_MS = 60_000;

export interface PreflightSchedule {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

export function schedulePreflight(options: PreflightScheduleOptions): PreflightSchedule {
  const everyMs = options.everyMs ?? DEFAULT_PREFLIGHT_EVERY_MS;
  let running: Promise<void> | undefined;
  const check = (): void => {
    if (running !== undefined) return;
    running = (async () => {
      for (const plan of options.plans()) {
        const report = await runPreflight(plan, {
          providers: options.providers,
          stateDir: options.stateDir,
          store: options.store,
        });
        await savePreflight(options.store, plan, report);
        options.logger.info({ plan: plan.name, ok: report.ok, ...report.summary }, 'preflight done');
        options.onReport?.(plan, report);
      }
    })()
      .catch((error: unknown) => options.logger.warn({ err: error }, 'the preflight failed'))
      .finally(() => {
        running = undefined;
      });
  };
  if (everyMs <= 0) return { stop: async () => undefined };
  const first = setTimeout(check, Math.min(everyMs, FIRST_AFTER_MS));
  first.unref();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
