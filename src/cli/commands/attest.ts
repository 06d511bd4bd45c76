/**
 * `drctl attest PLAN --workload W --item ID --by CONTACT [--note TEXT]`: a person vouches for one of seed
 * 002's suggested actions that no rule can check from the plan (docs/compliance.md#attestations). Without
 * --item it lists what each workload needs attested and where each stands.
 */
import { printJson, type RegisterCommand } from '../context.ts';
import { parseDateOption, type StateOptions, stateFlag } from '../state-options.ts';

interface AttestOptions extends StateOptions {
  workload?: string;
  item?: string;
  by?: string;
  note?: string;
  now?: string;
}

export const registerAttest: RegisterCommand = (program, context) => {
  program
    .command('attest')
    .description("record that a person did one of the strategy's suggested actions, or list them")
    .argument('<plan>', 'plan file (YAML)')
    .option('--workload <id>', 'the workload (listing: only this one)')
    .option('--item <id>', 'the suggested action attested (listed without --item)')
    .option('--by <contact>', 'the contact who attests (required with --item)')
    .option('--note <text>', 'what was done, where the evidence is')
    .option(...stateFlag('state directory or postgres:// URL'))
    .option('--now <date>', 'judge (or record) at this date instead of now')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: AttestOptions) => {
      const now = parseDateOption('--now', options.now);
      const [
        { attestationsOf, formatAttestations, recordAttestation },
        { loadPlanForCommand },
        { openState },
        { UsageError },
      ] = await Promise.all([
        import('../../compliance/index.ts'),
        import('../load-plan.ts'),
        import('./run-state.ts'),
        import('../../errors.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      const store = await openState(options);
      try {
        if (options.item !== undefined) {
          if (options.workload === undefined || options.by === undefined)
            throw new UsageError('DRCTL_ATTEST_UNKNOWN', '--item needs --workload and --by', {
              hint: 'drctl attest PLAN --workload W --item ID --by CONTACT [--note TEXT]',
            });
          const record = await recordAttestation(plan, store, {
            workload: options.workload,
            item: options.item,
            by: options.by,
            note: options.note,
            now,
          });
          if (options.json) printJson(context, record);
          else
            context.out.write(
              `attested ${record.workload}/${record.item} by ${record.by} on ${record.at.slice(0, 10)}\n`,
            );
          return;
        }
        const all = await attestationsOf(plan, store, now);
        const shown = all.filter((a) => options.workload === undefined || a.workload === options.workload);
        if (options.json) printJson(context, shown);
        else context.out.write(formatAttestations(shown));
      } finally {
        await store.close();
      }
    });
};
