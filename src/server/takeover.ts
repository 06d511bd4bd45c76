/**
 * Takeover: with several `drctl serve` instances on one shared store, each one looks every few hundred
 * milliseconds for the runs some instance drove (the `server-runs` documents) that are unfinished, that
 * no live instance holds the lease of, and whose plan it serves, and resumes one of them through the
 * engine's resume path. The store's lease decides who wins when two look at once (the loser gets
 * DRCTL_RUN_LOCKED and moves on); the lease's fencing token keeps a former owner that comes back from
 * writing (see src/store/postgres/ARCHITECTURE.md).
 */
import { DrctlError } from '../errors.ts';
import { FINAL_RUN_STATUSES } from '../store/index.ts';
import { FailureStreak } from '../system/failure-streak.ts';
import type { ServerContext } from './context.ts';
import { SERVER_RUNS } from './runs.ts';
import type { ServerService } from './context.ts';

/** The actor of the `run-driven` record a takeover writes. */
export const TAKEOVER_ACTOR = 'drctl-serve';

/** How often an instance looks: a tenth of the lease, between 100 ms and 1 s. */
export function takeoverEveryMs(leaseTtlMs: number): number {
  return Math.min(1_000, Math.max(100, Math.round(leaseTtlMs / 10)));
}

/** What one instance remembers between looks. */
export class TakeoverMemory {
  /** Runs of another plan version: reported once, never tried again. */
  readonly refused = new Set<string>();
  /** Runs whose takeover failed otherwise, and when to try again. */
  readonly failed = new Map<string, { until: number; delayMs: number }>();
}

/**
 * One look: resumes at most one run no live instance drives and returns its id. Runs of a plan version
 * this instance does not serve are refused (DRCTL_RUN_PLAN_CHANGED), reported once per run.
 */
export async function takeOverOne(
  ctx: Pick<ServerContext, 'store' | 'runs' | 'logger'>,
  memory: TakeoverMemory = new TakeoverMemory(),
): Promise<string | undefined> {
  const driving = new Set(ctx.runs.driving);
  const now = Date.now();
  for (const doc of await ctx.store.listDocuments(SERVER_RUNS, { limit: 10_000 })) {
    if (driving.has(doc.id) || memory.refused.has(doc.id)) continue;
    if ((memory.failed.get(doc.id)?.until ?? 0) > now) continue;
    const run = await ctx.store.getRun(doc.id);
    if (run === undefined || FINAL_RUN_STATUSES.includes(run.status)) continue;
    try {
      ctx.runs.planOf(run);
    } catch {
      // a plan this instance does not serve: another instance's run
      continue;
    }
    try {
      await ctx.runs.resume(run.id, TAKEOVER_ACTOR);
      memory.failed.delete(run.id);
      ctx.logger.info({ run: run.id }, 'took over a run no live instance was driving');
      return run.id;
    } catch (error) {
      const code = error instanceof DrctlError ? error.code : undefined;
      if (code === 'DRCTL_API_STOPPING') return undefined;
      if (code === 'DRCTL_RUN_LOCKED' || code === 'DRCTL_RUN_FINISHED') continue;
      if (code === 'DRCTL_RUN_PLAN_CHANGED') {
        memory.refused.add(run.id);
        ctx.logger.error(
          { run: run.id, code, details: (error as DrctlError).details },
          'refusing to drive a run started from another version of the plan; serve that version to take it over',
        );
        continue;
      }
      // the store down, a provider missing: try again, less and less often
      const delayMs = Math.min(60_000, (memory.failed.get(run.id)?.delayMs ?? 500) * 2);
      memory.failed.set(run.id, { until: Date.now() + delayMs, delayMs });
      ctx.logger.warn(
        { run: run.id, err: error, retryInMs: delayMs },
        'taking over a run failed; trying again later',
      );
    }
  }
  return undefined;
}

/** The takeover loop as a server service. */
export function takeoverService(): ServerService {
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<unknown> | undefined;
  const memory = new TakeoverMemory();
  return {
    name: 'takeover',
    async start(ctx) {
      const streak = new FailureStreak(ctx.logger, { what: 'looking for runs to take over' });
      const look = (): void => {
        if (streak.pausing) return;
        looking ??= takeOverOne(ctx, memory)
          .then(
            () => streak.succeeded(),
            (error: unknown) => streak.failed(error),
          )
          .finally(() => (looking = undefined));
      };
      timer = setInterval(look, takeoverEveryMs(ctx.options.leaseTtlMs));
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await looking;
    },
  };
}
