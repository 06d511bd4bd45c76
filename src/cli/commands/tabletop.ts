/**
 * `drctl tabletop PLAN --workload W [--runbook R] [--attendees a,b]`: walk a runbook through with the people
 * who would run it, in the terminal or from a script on stdin; the exercise is kept in the state store.
 * Exit 1 when the input ended before the last step.
 */
import { printJson, type RegisterCommand } from '../context.ts';
import { stateFlag, type StateOptions } from '../state-options.ts';

interface TabletopCommandOptions extends StateOptions {
  workload: string;
  runbook?: string;
  attendees?: string;
  facilitator?: string;
}

export const registerTabletop: RegisterCommand = (program, context) => {
  program
    .command('tabletop')
    .description('a tabletop exercise: walk a runbook step by step, record who attended and what is missing')
    .argument('<plan>', 'plan file (YAML)')
    .requiredOption('--workload <id>', 'the workload whose runbook is walked through')
    .option('--runbook <name>', 'the runbook (default: failover)')
    .option('--attendees <list>', 'who attended, comma separated (asked for when absent)')
    .option('--facilitator <name>', 'who led it (default: the first attendee)')
    .option(...stateFlag())
    .option('--json', 'print the record as JSON at the end (the walk-through goes to stderr)')
    .action(async (file: string, options: TabletopCommandOptions) => {
      const [{ runTabletop }, { loadPlanForCommand }, { openState }] = await Promise.all([
        import('../../tabletop/index.ts'),
        import('../load-plan.ts'),
        import('./run-state.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      const store = await openState(options);
      try {
        const record = await runTabletop({
          plan,
          workload: options.workload,
          store,
          input: process.stdin,
          output: options.json ? context.err : context.out,
          ...(options.runbook === undefined ? {} : { runbook: options.runbook }),
          ...(options.attendees === undefined
            ? {}
            : {
                attendees: options.attendees
                  .split(',')
                  .map((a) => a.trim())
                  .filter((a) => a !== ''),
              }),
          ...(options.facilitator === undefined ? {} : { facilitator: options.facilitator }),
        });
        if (options.json) printJson(context, record);
        context.exitCode = record.status === 'completed' ? 0 : 1;
      } finally {
        await store.close();
      }
    });
};
