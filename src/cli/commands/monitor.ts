/**
 * `drctl monitor PLAN [--state DIR] [--once] [--json]`: watch the sites of every workload and act on a
 * confirmed site loss (automatic failover where the workload allows it, a run waiting for activation
 * approval elsewhere), printing what it sees until SIGINT/SIGTERM. `--once` probes every site one time and
 * reports, starting nothing. The watching itself is in monitor-watch.ts, loaded when the command runs.
 */
import { stateFlag } from '../state-options.ts';
import type { RegisterCommand } from '../context.ts';
import type { MonitorFlags } from './monitor-watch.ts';

export const registerMonitor: RegisterCommand = (program, context) => {
  program
    .command('monitor')
    .description(
      'watch the sites; fail over by itself where the plan allows it, else open a run waiting for activation',
    )
    .argument('<plan>', 'plan file (YAML)')
    .option(...stateFlag('state directory or postgres:// URL (runs are kept there)'))
    .option('--workload <id...>', 'watch only these workloads (default: all)')
    .option(
      '--once',
      'probe every site once, print the result and exit (1 when a site does not answer); starts nothing',
    )
    .option(
      '--preflight-every <duration>',
      'how often the plan is preflighted, as drctl serve does (docs/preflight.md); 0 turns it off',
      '30m',
    )
    .option('--json', 'print events as one JSON object per line')
    .action(async (file: string, flags: MonitorFlags) => {
      const [{ loadPlanForCommand }, { probeOnce, watch }] = await Promise.all([
        import('../load-plan.ts'),
        import('./monitor-watch.ts'),
      ]);
      const plan = await loadPlanForCommand(file);
      if (flags.once) {
        await probeOnce(context, plan, flags);
        return;
      }
      await watch(context, plan, flags);
    });
};
