/**
 * `drctl compliance PLAN [--json] [--state DIR] [--now DATE]`: per workload, each required test with its
 * last occurrence, result and next due date, and the reviews, sign-offs and missed drill targets that
 * need attention. Exit 1 when anything is overdue, never done or failed, so CI and cron can gate on it.
 */
import { printJson, type RegisterCommand } from '../context.ts';
import { parseDateOption, type StateOptions, stateFlag } from '../state-options.ts';

export const registerCompliance: RegisterCommand = (program, context) => {
  program
    .command('compliance')
    .description('which tests each workload must have, when each was last done, and what is overdue')
    .argument('<plan>', 'plan file (YAML)')
    .option(...stateFlag('state directory or postgres:// URL (drill reports, tabletops, runs)'))
    .option('--now <date>', 'judge at this date instead of today')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: StateOptions & { now?: string }) => {
      const now = parseDateOption('--now', options.now);
      const [{ complianceOf, complianceToJson, formatCompliance }, { loadPlanForCommand }, { openState }] =
        await Promise.all([
          import('../../compliance/index.ts'),
          import('../load-plan.ts'),
          import('./run-state.ts'),
        ]);
      const plan = await loadPlanForCommand(file);
      const store = await openState(options);
      try {
        const report = await complianceOf(plan, store, now);
        if (options.json) printJson(context, complianceToJson(report));
        else context.out.write(formatCompliance(report));
        context.exitCode = report.ok ? 0 : 1;
      } finally {
        await store.close();
      }
    });
};
