/** `drctl status [RUN]`: a run's progress, what runs, what waits for whom, what comes next; or the latest runs. */
import { printJson, type RegisterCommand } from '../context.ts';
import { withStateOptions, type StateOptions } from '../state-options.ts';

export const registerStatus: RegisterCommand = (program, context) => {
  withStateOptions(
    program.command('status').description('show a run (or the latest runs)').argument('[run]', 'run id'),
  ).action(async (runId: string | undefined, options: StateOptions) => {
    const { openState, printView, viewOf } = await import('./run-state.ts');
    const store = await openState(options);
    try {
      if (runId !== undefined) {
        const view = await viewOf(store, runId);
        if (options.json) printJson(context, view);
        else printView(context, view);
        return;
      }
      const runs = [];
      for (const run of await store.listRuns({ limit: 20 })) {
        const view = await viewOf(store, run.id);
        runs.push({
          id: view.id,
          workload: view.workload,
          runbook: view.runbook,
          status: view.status,
          startedBy: view.startedBy,
          startedAt: view.startedAt,
          finishedAt: view.finishedAt,
          progress: view.progress,
          waiting: view.waiting,
        });
      }
      if (options.json) {
        printJson(context, { runs });
        return;
      }
      if (runs.length === 0) context.out.write('no runs yet\n');
      for (const run of runs) {
        context.out.write(
          `${run.id}  ${run.workload}/${run.runbook}  ${run.status}  ${run.progress.done}/${run.progress.total}  started by ${run.startedBy}\n`,
        );
      }
    } finally {
      await store.close();
    }
  });
};
