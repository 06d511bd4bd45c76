/** `drctl cancel RUN`: stop a run cleanly; running steps get their signal, state is kept, the run ends cancelled. */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCode } from '../../errors.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

/** How long to wait for a live driver to stop its steps before returning. */
const DRIVER_GRACE_MS = 30_000;

export const registerCancel: RegisterCommand = (program, context) => {
  withStateOptions(
    program
      .command('cancel')
      .description('cancel a run cleanly')
      .argument('<run>', 'run id')
      .option('--reason <text>', 'why'),
  ).action(async (runId: string, options: StateOptions & { reason?: string }) => {
    const by = actor(options.as);
    const [{ finishCancelled, requestCancel }, { FINAL_RUN_STATUSES }, { openState, viewOf }] =
      await Promise.all([
        import('../../engine/operator.ts'),
        import('../../store/index.ts'),
        import('./run-state.ts'),
      ]);
    const store = await openState(options);
    try {
      await requestCancel(store, { runId, by, ...(options.reason ? { reason: options.reason } : {}) });
      try {
        await finishCancelled(store, {
          runId,
          by,
          owner: `${hostname()}:${process.pid}:${randomUUID()}`,
          pid: process.pid,
          host: hostname(),
        });
      } catch (error) {
        if (!hasCode(error, 'DRCTL_RUN_LOCKED')) throw error;
        // a live driver stops its steps and ends the run; wait for it
        const deadline = Date.now() + DRIVER_GRACE_MS;
        while (Date.now() < deadline) {
          const run = await store.getRun(runId);
          if (run && FINAL_RUN_STATUSES.includes(run.status)) break;
          await sleep(100);
        }
      }
      const view = await viewOf(store, runId);
      if (options.json)
        printJson(context, {
          run: runId,
          by,
          status: view.status,
          steps: view.steps.filter((step) => step.status === 'cancelled').map((step) => step.id),
        });
      else
        context.out.write(
          `run ${runId} ${view.status === 'cancelled' ? 'cancelled' : `is ${view.status} (cancel requested)`}\n`,
        );
    } finally {
      await store.close();
    }
  });
};
