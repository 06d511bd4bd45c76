/** `drctl validate PLAN`: every problem of a plan at once, positioned; exit 1 when invalid. */
import { PlanInvalidError } from '../../errors.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import type { Plan } from '../../plan/model.ts';

export const registerValidate: RegisterCommand = (program, context) => {
  program
    .command('validate')
    .description('check a plan against the schema and its references')
    .argument('<plan>', 'plan file (YAML)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      try {
        const plan =
          (await quickly(file)) ?? (await (await import('../load-plan.ts')).loadPlanForCommand(file));
        const summary = {
          valid: true,
          name: plan.name,
          hash: plan.hash,
          files: plan.files,
          workloads: plan.workloads.length,
          components: plan.workloads.reduce((n, w) => n + w.components.length, 0),
          runbooks: plan.workloads.reduce((n, w) => n + w.runbooks.length, 0),
        };
        if (options.json) printJson(context, summary);
        else {
          context.out.write(
            `${file}: valid — ${summary.workloads} workloads, ${summary.components} components, ${summary.runbooks} runbooks, ${plan.files.length} file${plan.files.length === 1 ? '' : 's'} (hash ${plan.hash.slice(0, 12)})\n`,
          );
        }
      } catch (error) {
        if (!(options.json && error instanceof PlanInvalidError)) throw error;
        const { problemsAsJson } = await import('../load-plan.ts');
        printJson(context, {
          valid: false,
          problems: problemsAsJson(error),
        });
        context.exitCode = 1;
      }
    });
};

/**
 * A valid plan, confirmed by the precompiled validators as the build bundled them; undefined for
 * anything else, and always when drctl runs from its sources (no bundle): the full path then decides.
 */
async function quickly(file: string): Promise<Plan | undefined> {
  const quick = (await import('../quick-bundle.ts')).loadQuickBundle();
  return quick?.quicklyValidPlan(file, quick.validators);
}
