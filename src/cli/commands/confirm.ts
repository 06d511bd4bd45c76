/** `drctl confirm RUN STEP`: an operator says a manual step is done, with a note and evidence. */
import { UsageError } from '../../errors.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export const registerConfirm: RegisterCommand = (program, context) => {
  withStateOptions(
    program
      .command('confirm')
      .description('confirm a manual step done')
      .argument('<run>', 'run id')
      .argument('<step>', 'step id')
      .option('--note <text>', 'what was done')
      .option('--evidence <name=value>', 'evidence to attach (repeatable)', collect, []),
  ).action(
    async (runId: string, step: string, options: StateOptions & { note?: string; evidence: string[] }) => {
      const evidence: Record<string, string> = {};
      for (const item of options.evidence) {
        const eq = item.indexOf('=');
        if (eq <= 0)
          throw new UsageError('DRCTL_RUN_EVIDENCE_FORMAT', `--evidence ${item} is not name=value`, {
            hint: 'write it like --evidence ticket=INC-42',
          });
        evidence[item.slice(0, eq)] = item.slice(eq + 1);
      }
      const by = actor(options.as);
      const [{ confirmStep }, { openState, viewOf }] = await Promise.all([
        import('../../engine/operator.ts'),
        import('./run-state.ts'),
      ]);
      const store = await openState(options);
      try {
        await confirmStep(store, {
          runId,
          step,
          by,
          evidence,
          ...(options.note ? { note: options.note } : {}),
        });
        const view = await viewOf(store, runId);
        if (options.json)
          printJson(context, {
            run: runId,
            step,
            by,
            confirmed: true,
            evidence: Object.keys(evidence),
            driven: view.driver !== undefined,
          });
        else {
          context.out.write(`${by} confirmed ${step} of run ${runId}\n`);
          if (!view.driver)
            context.out.write(`no process drives the run now: continue it with drctl resume ${runId}\n`);
        }
      } finally {
        await store.close();
      }
    },
  );
};
