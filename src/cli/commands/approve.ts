/** `drctl approve RUN STEP` and `drctl reject RUN STEP`: an approver's answer to a waiting approval step. */
import { printJson, type RegisterCommand } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

async function answer(
  context: Parameters<RegisterCommand>[1],
  runId: string,
  step: string,
  options: StateOptions & { note?: string; reason?: string },
  approve: boolean,
): Promise<void> {
  const by = actor(options.as);
  const [{ approveStep, rejectStep }, { openState, viewOf }] = await Promise.all([
    import('../../engine/operator.ts'),
    import('./run-state.ts'),
  ]);
  const store = await openState(options);
  try {
    if (approve)
      await approveStep(store, { runId, step, by, ...(options.note ? { note: options.note } : {}) });
    else await rejectStep(store, { runId, step, by, ...(options.reason ? { reason: options.reason } : {}) });
    const view = await viewOf(store, runId);
    const shown = view.steps.find((candidate) => candidate.id === step);
    const result = {
      run: runId,
      step,
      by,
      decision: approve ? 'approved' : 'rejected',
      approvals: shown?.approvedBy ?? [],
      quorum: shown?.quorum,
      driven: view.driver !== undefined,
    };
    if (options.json) printJson(context, result);
    else {
      context.out.write(
        `${by} ${result.decision} ${step} of run ${runId} (${result.approvals.length}/${result.quorum ?? 1})\n`,
      );
      if (!result.driven)
        context.out.write(`no process drives the run now: continue it with drctl resume ${runId}\n`);
    }
  } finally {
    await store.close();
  }
}

export const registerApprove: RegisterCommand = (program, context) => {
  withStateOptions(
    program
      .command('approve')
      .description('approve a step that waits for approval')
      .argument('<run>', 'run id')
      .argument('<step>', 'step id')
      .option('--note <text>', 'a note kept with the approval'),
  ).action((runId: string, step: string, options: StateOptions & { note?: string }) =>
    answer(context, runId, step, options, true),
  );
  withStateOptions(
    program
      .command('reject')
      .description('reject a step that waits for approval (the step fails)')
      .argument('<run>', 'run id')
      .argument('<step>', 'step id')
      .option('--reason <text>', 'why'),
  ).action((runId: string, step: string, options: StateOptions & { reason?: string }) =>
    answer(context, runId, step, options, false),
  );
};
