/**
 * `drctl resume RUN`: drive a run again after a crash, a pause, or to act on a decision. With
 * --retry/--skip/--done/--abort STEP it first records the operator's decision for a step that waits for one.
 */
import type { Decision } from '../../engine/index.ts';
import { hasCode, runNotFound, UsageError } from '../../errors.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

interface ResumeOptions extends StateOptions {
  retry: string[];
  skip: string[];
  done: string[];
  abort: string[];
  plan?: string;
  wait: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const registerResume: RegisterCommand = (program, context) => {
  withStateOptions(
    program
      .command('resume')
      .description('continue a run (after a crash or a pause), optionally deciding for a waiting step')
      .argument('<run>', 'run id')
      .option('--retry <step>', 'run the step again (repeatable)', collect, [])
      .option('--skip <step>', 'skip the escalated step; its dependents go on (repeatable)', collect, [])
      .option(
        '--done <step>',
        'mark an interrupted step done without running it again (repeatable)',
        collect,
        [],
      )
      .option('--abort <step>', 'abort the run at this step (repeatable)', collect, [])
      .option('--plan <file>', 'the plan file, when it moved since the run started')
      .option('--no-wait', 'return when the run waits for people'),
  ).action(async (runId: string, options: ResumeOptions) => {
    const by = actor(options.as);
    const [{ decideStep }, { FINAL_RUN_STATUSES }, { loadPlanForCommand }, shared] = await Promise.all([
      import('../../engine/index.ts'),
      import('../../store/index.ts'),
      import('../load-plan.ts'),
      import('./run-shared.ts'),
    ]);
    const { driveAndReport, engineFor, openState, progressHooks } = shared;
    const store = await openState(options);
    try {
      const run = await store.getRun(runId);
      if (run === undefined) {
        throw runNotFound(runId);
      }
      if (FINAL_RUN_STATUSES.includes(run.status)) {
        throw new UsageError(
          'DRCTL_RUN_FINISHED',
          `run ${runId} already finished (${run.status}); there is nothing to resume`,
          {
            hint: 'start a new run with `drctl run`',
          },
        );
      }
      const decisions: Array<[string, Decision]> = [
        ...options.retry.map((step): [string, Decision] => [step, 'retry']),
        ...options.skip.map((step): [string, Decision] => [step, 'skip']),
        ...options.done.map((step): [string, Decision] => [step, 'done']),
        ...options.abort.map((step): [string, Decision] => [step, 'abort']),
      ];
      for (const [step, choice] of decisions) await decideStep(store, { runId, step, by, choice });
      const plan = await loadPlanForCommand(options.plan ?? run.planFile);
      const engine = engineFor(store, options, plan, context, [
        progressHooks(context, options.json === true),
      ]);
      let driver;
      try {
        driver = await engine.resume({ plan, runId, by, returnWhenWaiting: !options.wait });
      } catch (error) {
        // a live driver will act on the decision itself
        if (hasCode(error, 'DRCTL_RUN_LOCKED') && decisions.length > 0) {
          if (options.json)
            printJson(context, {
              run: runId,
              decisions: decisions.map(([step, choice]) => ({ step, choice, by })),
              driven: true,
            });
          else context.out.write(`decision recorded; ${error.message}, which will act on it\n`);
          return;
        }
        throw error;
      }
      await driveAndReport(context, store, driver, { by: by, json: options.json });
    } finally {
      await store.close();
    }
  });
};
