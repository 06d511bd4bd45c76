/**
 * How a confirmed site loss becomes a run: the `startRunbook` the CLI hands the monitor. An automatic
 * failover runs at once; any other failover opens a run gated by the plan's activation approvers (an
 * approval step in front of the runbook, see the engine's activation gate), so nothing changes until people
 * declare the disaster. Both runs record why they started and that the monitor started them.
 */
import type { Engine, RunDriver } from '../engine/index.ts';
import type { Plan } from '../plan/model.ts';
import type { MonitorOptions } from './monitor.ts';

export interface EngineStarterOptions {
  /** Who the run says started it; four-eyes approvals never refuse a person for it. @default 'monitor' */
  startedBy?: string;
  /** Called with every driver started, so the caller can wait for it or report on it. */
  /** The drill that starts these runs, recorded in their trigger. @default not a drill */
  drill?: { scenario: string; announce: boolean };
  onRun?(driver: RunDriver, request: { workload: string; runbook: string; automatic: boolean }): void;
  /** Steps the runs leave out, with why (a rehearsal of part of the runbook). @default none */
  skip?: ReadonlyMap<string, string>;
  /** Awaited before each run starts: a drill paused for people to observe holds the failover here. */
  beforeStart?(): Promise<void>;
}

/** A `startRunbook` that starts runs on this engine. */
export function engineRunbookStarter(
  engine: Engine,
  plan: Plan,
  options: EngineStarterOptions = {},
): MonitorOptions['startRunbook'] {
  const startedBy = options.startedBy ?? 'monitor';
  return async (request) => {
    const gate = request.automatic
      ? {}
      : {
          activation: {
            approvers: plan.activation?.approvers ?? [],
            quorum: plan.activation?.quorum ?? 1,
            reason: request.reason,
          },
          // the run only waits for people now; whoever approves resumes it (drctl approve, drctl resume)
          returnWhenWaiting: true,
        };
    await options.beforeStart?.();
    const driver = await engine.start({
      plan,
      runbook: request.runbook,
      workload: request.workload,
      startedBy,
      trigger: {
        automatic: request.automatic,
        reason: request.reason,
        ...(options.drill === undefined ? {} : { drill: options.drill }),
      },
      ...gate,
      ...(options.skip === undefined ? {} : { skip: options.skip }),
    });
    options.onRun?.(driver, request);
    return { runId: driver.runId };
  };
}
