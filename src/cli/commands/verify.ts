/**
 * `drctl verify PLAN --workload W [--verification ID] [--json]`: runs one restore verification now,
 * keeps its result in the store (collection `verifications`) and prints what proved it good or why not.
 * Exit 1 when it failed.
 */
import { stateFlag } from '../state-options.ts';
import { printJson, type RegisterCommand } from '../context.ts';

export const registerVerify: RegisterCommand = (program, context) => {
  program
    .command('verify')
    .description(
      'restore a backup into a scratch target now and prove it good (checksums, files, queries, probe)',
    )
    .argument('<plan>', 'plan file (YAML)')
    .requiredOption('--workload <id>', 'the workload whose verification runs')
    .option('--verification <id>', "which verification @default the workload's first")
    .option('--json', 'print the result as JSON')
    .option(...stateFlag())
    .action(
      async (
        file: string,
        options: { workload: string; verification?: string; json?: boolean; state: string },
      ) => {
        const [
          { loadPlanForCommand },
          { findVerification, runVerification },
          { openState, localStateDir },
          { formatDuration },
        ] = await Promise.all([
          import('../load-plan.ts'),
          import('../../verify/index.ts'),
          import('./run-state.ts'),
          import('../../plan/duration.ts'),
        ]);
        const plan = await loadPlanForCommand(file);
        const stateDir = localStateDir(options.state);
        const store = await openState(options);
        try {
          const verification = findVerification(plan, options.workload, options.verification);
          const result = await runVerification(plan, verification, { store, stateDir });
          if (options.json) printJson(context, result);
          else {
            const lines = result.proofs.map(
              (p) => `  ${p.ok ? 'ok    ' : 'FAILED'}  ${p.name}: ${p.message}`,
            );
            const head = result.passed
              ? `verification ${verification.id} passed: restored in ${formatDuration(result.restoreMs ?? 0)}`
              : `verification ${verification.id} FAILED: ${result.reason ?? ''}`;
            context.out.write(`${[head, ...lines].join('\n')}\n`);
          }
          context.exitCode = result.passed ? 0 : 1;
        } finally {
          await store.close();
        }
      },
    );
};
