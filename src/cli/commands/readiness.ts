/**
 * `drctl readiness PLAN [--json]`: what every component's provider and probe say today, compared with
 * what the plan promises. Exit 1 when a promise is broken (a fact not ok), 0 when all hold.
 */
import { existsSync } from 'node:fs';
import { DEFAULT_STATE_DIR } from '../../store/state-dir.ts';
import { printJson, type RegisterCommand } from '../context.ts';

export const registerReadiness: RegisterCommand = (program, context) => {
  program
    .command('readiness')
    .description('check that what the plan promises still holds: probes, standbys, lag, backup age')
    .argument('<plan>', 'plan file (YAML)')
    .option('--json', 'print the report as JSON')
    .option('--state <dir>', 'state directory (pid files, backup catalogues)', DEFAULT_STATE_DIR)
    .action(async (file: string, options: { json?: boolean; state: string }) => {
      const [{ loadPlanForCommand }, { formatReadiness, checkReadiness }, { openStore }] = await Promise.all([
        import('../load-plan.ts'),
        import('../../monitor/readiness.ts'),
        import('../../store/index.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      const { stateDirectory } = await import('./run-state.ts');
      const stateDir = stateDirectory(options.state, 'readiness');
      // restore verification results and the newest preflight live in the store; without either, none is opened
      const store =
        plan.workloads.some((w) => (w.verifications ?? []).length > 0) || existsSync(stateDir)
          ? await openStore(stateDir)
          : undefined;
      const report = await checkReadiness(plan, {
        stateDir,
        ...(store === undefined ? {} : { store }),
      }).finally(() => store?.close());
      if (options.json) {
        printJson(context, { ...report, facts: report.facts.map((f) => ({ ...f, site: f.site ?? null })) });
      } else context.out.write(formatReadiness(report));
      context.exitCode = report.ok ? 0 : 1;
    });
};
