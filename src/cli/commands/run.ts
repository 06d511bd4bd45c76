/** `drctl run PLAN --runbook NAME`: execute a runbook durably, or predict its timeline with --dry-run. */
import { userInfo } from 'node:os';
import { UsageError } from '../../errors.ts';
import { formatDuration } from '../../plan/duration.ts';
import { printJson, type RegisterCommand } from '../context.ts';
import { actor, withStateOptions, type StateOptions } from '../state-options.ts';

interface RunOptions extends StateOptions {
  runbook?: string;
  siteLost?: string;
  workload?: string;
  dryRun?: boolean;
  parallel?: string;
  wait: boolean;
}

export const registerRun: RegisterCommand = (program, context) => {
  withStateOptions(
    program
      .command('run')
      .description('execute a runbook, or recover a whole site (or predict the timeline with --dry-run)')
      .argument('<plan>', 'plan file (YAML)')
      .option('--runbook <name>', 'runbook to run')
      .option(
        '--site-lost <site>',
        'recover every workload the site serves in one run (docs/site-recovery.md)',
      )
      .option('--workload <id>', 'workload, when several have a runbook of that name')
      .option('--dry-run', 'predict the timeline from expected + contingency; touch nothing')
      .option('--parallel <n>', 'steps running at once (default 8)')
      .option('--no-wait', 'return when the run waits for people; continue later with drctl resume'),
  ).action(async (file: string, options: RunOptions) => {
    const [{ findRunbook, predictTimeline }, { loadPlanForCommand }, shared] = await Promise.all([
      import('../../engine/index.ts'),
      import('../load-plan.ts'),
      import('./run-shared.ts'),
    ]);
    const { driveAndReport, engineFor, openState, progressHooks } = shared;
    if ((options.runbook === undefined) === (options.siteLost === undefined)) {
      throw new UsageError('DRCTL_RUN_TARGET', 'name either --runbook or --site-lost', {
        hint: 'drctl run PLAN --runbook shop/failover, or drctl run PLAN --site-lost east',
      });
    }
    const plan = await loadPlanForCommand(file);
    if (options.siteLost !== undefined && options.dryRun) {
      const [{ analyzeSite }, { printSiteDryRun }] = await Promise.all([
        import('../../analysis/site.ts'),
        import('./run-site.ts'),
      ]);
      printSiteDryRun(context, analyzeSite(plan, options.siteLost), options.json === true);
      return;
    }
    if (options.runbook !== undefined && options.dryRun) {
      const timeline = predictTimeline(findRunbook(plan, options.runbook, options.workload));
      if (options.json) {
        printJson(context, { dryRun: true, planHash: plan.hash, ...timeline });
        return;
      }
      context.out.write(
        `dry run of ${timeline.workload}/${timeline.runbook}: ${formatDuration(timeline.totalMs)} (critical path ${timeline.criticalPath.join(' → ')})\n`,
      );
      for (const step of timeline.steps) {
        context.out.write(
          `  ${formatDuration(step.startMs).padStart(8)} → ${formatDuration(step.finishMs).padEnd(8)} ${step.onCriticalPath ? '*' : ' '} ${step.id}\n`,
        );
      }
      return;
    }
    const parallel = options.parallel === undefined ? undefined : Number(options.parallel);
    if (parallel !== undefined && (!Number.isInteger(parallel) || parallel < 1)) {
      throw new UsageError(
        'DRCTL_RUN_PARALLEL',
        `--parallel must be a whole number of at least 1, not ${options.parallel}`,
      );
    }
    const startedBy = actor(options.as ?? process.env.DRCTL_USER ?? userInfo().username);
    const store = await openState(options);
    try {
      const engine = engineFor(store, options, plan, context, [
        progressHooks(context, options.json === true),
      ]);
      const run = await engine.start({
        plan,
        ...(options.siteLost === undefined
          ? { runbook: options.runbook ?? '' }
          : { site: options.siteLost, runbook: '' }),
        startedBy,
        returnWhenWaiting: !options.wait,
        ...(options.workload === undefined ? {} : { workload: options.workload }),
        ...(parallel === undefined ? {} : { parallel }),
      });
      await driveAndReport(context, store, run, { by: startedBy, json: options.json });
    } finally {
      await store.close();
    }
  });
};
