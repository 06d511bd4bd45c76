/**
 * `drctl pir RUN [--format md|html] [--out FILE]`: draft the post-incident review of a real failover or
 * restore run from its journal, with the plan it was started from when that can still be loaded.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { runNotFound, UsageError } from '../../errors.ts';
import type { Plan } from '../../plan/index.ts';
import type { RegisterCommand } from '../context.ts';
import { stateFlag, type StateOptions } from '../state-options.ts';

interface PirOptions extends StateOptions {
  format: string;
  out?: string;
  plan?: string;
}

export const registerPir: RegisterCommand = (program, context) => {
  program
    .command('pir')
    .description('draft the post-incident review of a real (non-drill) run from its journal')
    .argument('<run>', 'run id')
    .option('--format <format>', 'md or html', 'md')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--plan <file>', "the plan, when the run's own plan file has moved")
    .option(...stateFlag())
    .action(async (runId: string, options: PirOptions) => {
      if (options.format !== 'md' && options.format !== 'html')
        throw new UsageError('DRCTL_PIR_FORMAT', `--format ${options.format} is not md or html`, {
          hint: 'use --format md or --format html',
        });
      const [report, { loadPlanForCommand }, { openState }] = await Promise.all([
        import('../../report/index.ts'),
        import('../load-plan.ts'),
        import('./run-state.ts'),
      ]);
      const { assertRealRun, draftPir, writeReportHtml, writeReportMarkdown } = report;
      const store = await openState(options);
      try {
        const run = await store.getRun(runId);
        if (run === undefined) throw runNotFound(runId);
        await assertRealRun(store, run);
        const planFile = options.plan ?? run.planFile;
        // a review is still worth drafting when the plan is gone; it then lacks targets and positions
        let plan: Plan | undefined;
        if (existsSync(planFile)) plan = await loadPlanForCommand(planFile).catch(() => undefined);
        const { IncidentBook, runIncidentId } = await import('../../status/index.ts');
        const incident = await new IncidentBook(store).get(runIncidentId(runId));
        const { document } = draftPir({ run, records: await store.readJournal(runId), plan, incident });
        const text = options.format === 'html' ? writeReportHtml(document) : writeReportMarkdown(document);
        if (options.out === undefined) context.out.write(text);
        else {
          await writeFile(options.out, text);
          context.out.write(`post-incident review of run ${runId}: ${options.out}\n`);
        }
      } finally {
        await store.close();
      }
    });
};
