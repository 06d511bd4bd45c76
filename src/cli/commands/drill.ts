/**
 * `drctl drill PLAN --scenario NAME`: run one drill scenario for real (environment up, canary, faults,
 * failover, measurement, report) and print what was measured. Exit 1 when a target is missed.
 */
import type { DrillOutcome } from '../../drill/index.ts';
import { UsageError } from '../../errors.ts';
import { DEFAULT_STATE_DIR } from '../../store/state-dir.ts';
import { printJson, type CommandContext, type RegisterCommand } from '../context.ts';
import { isolated, registerRehearsal, runIsolatedCommand } from './drill-rehearsal.ts';

interface DrillCommandOptions {
  scenario?: string;
  state: string;
  json?: boolean;
  keepUp?: boolean;
  remapPorts?: boolean;
  failback?: boolean;
  approveAs?: string;
  isolated?: boolean;
  steps?: string;
  pause?: boolean;
  approvedBy?: string;
}

export const registerDrill: RegisterCommand = (program, context) => {
  const drill = program.command('drill');
  registerRehearsal(drill, context);
  drill
    .description('run a drill scenario for real: inject its faults, let drctl fail over, measure RTO and RPO')
    .argument('<plan>', 'plan file (YAML)')
    .option('--scenario <name>', 'drill scenario (drills.scenarios[].id); required')
    .option(
      '--state <dir>',
      'state directory (store, logs, reports)',
      process.env.DRCTL_STATE ?? DEFAULT_STATE_DIR,
    )
    .option('--remap-ports', "use free ports instead of the plan's fixed 127.0.0.1 ports")
    .option(
      '--failback',
      'after the failover, run the failback runbook with the canary still writing and measure it too',
    )
    .option(
      '--approve-as <contact>',
      "with --failback: the contact who grants the failback's approvals (default: the first activation approver)",
    )
    .option(
      '--isolated',
      'test failover: recover into a throw-away copy of the recovery site and prove production untouched',
    )
    .option('--steps <steps>', 'run only these runbook steps: a..b (a range in runbook order) or a,b,c')
    .option('--pause', 'wait before the failover until someone runs `drctl drill continue ID`')
    .option(
      '--approved-by <contact>',
      'a drill acting on a production site of an existing environment: the approver (one of activation.approvers)',
    )
    .option('--keep-up', 'leave the sites and the front door running after the drill until Ctrl-C')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: DrillCommandOptions) => {
      // not a required option: commander would ask for it on `drill continue` and `drill note` too
      const scenario = options.scenario;
      if (scenario === undefined)
        throw new UsageError('DRCTL_DRILL_NO_SCENARIO', 'drctl drill needs --scenario NAME', {
          hint: "name one of the plan's drills.scenarios[].id",
        });
      if (options.approveAs !== undefined && options.failback !== true)
        throw new UsageError('DRCTL_DRILL_NO_FAILBACK', '--approve-as needs --failback', {
          hint: 'add --failback to measure the failback, whose approvals --approve-as grants',
        });
      const [{ pino }, { runDrill }, { loadPlanForCommand }] = await Promise.all([
        import('pino'),
        import('../../drill/index.ts'),
        import('../load-plan.ts'),
      ]);
      const { stateDirectory } = await import('./run-state.ts');
      const stateDir = stateDirectory(options.state, 'drill');
      const plan = await loadPlanForCommand(file);
      if (isolated(plan, { ...options, scenario }))
        return runIsolatedCommand(context, { ...options, scenario, plan, stateDir }, withInterrupt);
      const outcome = await withInterrupt(context, (signal) =>
        runDrill({
          plan,
          scenario,
          stateDir,
          remapPorts: options.remapPorts === true,
          keepUp: options.keepUp === true,
          ...(options.steps === undefined ? {} : { steps: options.steps }),
          pause: options.pause === true,
          onStart: (id) => void context.err.write(`drill ${id}; notes: drctl drill note ${id} "…"\n`),
          ...(options.approvedBy === undefined ? {} : { approvedBy: options.approvedBy }),
          ...(options.failback === true
            ? { failback: options.approveAs === undefined ? {} : { approveAs: options.approveAs } }
            : {}),
          signal,
          log: pino({ level: context.debug ? 'debug' : 'silent' }, process.stderr),
          onProgress: options.json ? () => undefined : (line) => void context.err.write(`${line}\n`),
        }),
      );
      if (options.json) printJson(context, { ...outcome.report, files: outcome.files });
      else await printOutcome(context, outcome);
      context.exitCode = outcome.report.passed ? 0 : 1;
      if (outcome.environment !== undefined) {
        context.err.write(
          `the sites keep running; front door ${outcome.environment.url}. Ctrl-C stops everything.\n`,
        );
        await untilInterrupted();
        await outcome.environment.close();
      }
    });
  drill
    .command('stop')
    .description(
      'emergency stop: abort every drill running on the state directory at once, undoing its faults',
    )
    .option('--by <name>', 'who stops them, for the reports', process.env.USER ?? 'an operator')
    .option('--reason <text>', 'why, for the reports')
    .action(async (options: { by: string; reason?: string }) => {
      const { emergencyStop } = await import('../../drill/safety.ts');
      const state = stateOf(drill);
      await emergencyStop(state, options.by, options.reason);
      context.out.write(
        `emergency stop written to ${state}: every drill running on it aborts within a second and undoes its faults\n`,
      );
    });

  drill
    .command('cleanup')
    .description('list the faults drills left on their hosts (drctl died mid-drill) and remove them')
    .argument('<plan>', 'plan file (YAML): how to reach the hosts')
    .option('--all', 'remove every recorded fault, also those of drills still running')
    .action(async (file: string, options: { all?: boolean }) => {
      // --state and --json are the drill command's own options, written before or after the subcommand
      const state = stateOf(drill);
      const json = drill.opts().json === true;
      const [{ loadPlanForCommand }, { cleanupFaults, recordedFaults }, { closeExecutors }] =
        await Promise.all([
          import('../load-plan.ts'),
          import('../../drill/host-faults.ts'),
          import('../../exec/index.ts'),
        ]);
      const plan = await loadPlanForCommand(file);
      try {
        const found = await recordedFaults(state);
        const result = await cleanupFaults(plan, state, { all: options.all === true });
        context.exitCode = result.failed.length === 0 ? 0 : 1;
        if (json) {
          printJson(context, { found, removed: result.removed, failed: result.failed });
          return;
        }
        const out = (line: string): void => void context.out.write(`${line}\n`);
        if (found.length === 0) out('no fault is recorded: nothing to clean up');
        for (const record of found) {
          const removed = result.removed.some((r) => r.id === record.id);
          const failed = result.failed.find((f) => f.record.id === record.id);
          const state = removed ? 'removed' : failed !== undefined ? 'FAILED ' : 'running';
          out(
            `${state} ${record.kind} ${record.target} ${record.host === undefined ? 'here' : `on ${record.host}`} (drill ${record.drill}, expires ${record.expiresAt})`,
          );
          if (failed !== undefined) out(`        ${failed.error}`);
        }
      } finally {
        await closeExecutors();
      }
    });
};

function stateOf(drill: { opts(): Record<string, unknown> }): string {
  return String(drill.opts().state);
}

/** Runs `work` with an AbortSignal that Ctrl-C (SIGINT) and SIGTERM abort; the work stops what it started. */
export async function withInterrupt<T>(
  context: CommandContext,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!controller.signal.aborted)
      context.err.write(`\n${signal}: stopping everything the drill started…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolvePromise) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolvePromise();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function printOutcome(context: CommandContext, outcome: DrillOutcome): Promise<void> {
  const { formatMs } = await import('../../drill/report.ts');
  const { report } = outcome;
  const m = report.measured;
  const out = (line: string): void => void context.out.write(`${line}\n`);
  out(
    `drill ${report.scenario.id} on ${report.workload.id} (${report.workload.strategy ?? '?'}): ${report.passed ? 'PASSED' : 'FAILED'}`,
  );
  out(`  detection       ${m.detectionMs === undefined ? 'not reported' : formatMs(m.detectionMs)}`);
  out(
    `  RTO (client)    ${m.rtoMs === undefined ? 'not recovered' : formatMs(m.rtoMs)}   objective ${formatMs(report.targets.rtoMs)}`,
  );
  out(
    `  RPO (lost)      ${m.lostWrites.count} acknowledged write${m.lostWrites.count === 1 ? '' : 's'} lost, ${formatMs(m.lostWrites.spanMs)} of data   objective ${formatMs(report.targets.rpoMs)}`,
  );
  out(
    `  writes          ${m.writes.acknowledged} acknowledged, ${m.writes.failed} failed of ${m.writes.sent}`,
  );
  for (const verdict of report.verdicts)
    out(`  ${verdict.pass ? '✔' : '✖'} ${verdict.target.toUpperCase()}: ${verdict.detail}`);
  const back = report.failback;
  if (back !== undefined) {
    out(`  failback        ${back.status} in ${formatMs(back.durationMs)} (approved by ${back.approvedBy})`);
    out(`  outage          ${back.outageMs === undefined ? 'not recovered' : formatMs(back.outageMs)}`);
    out(
      `  lost (drill)    ${back.lostWrites.count} acknowledged write${back.lostWrites.count === 1 ? '' : 's'} lost at ${back.dataSite}, ${formatMs(back.lostWrites.spanMs)} of data`,
    );
    for (const verdict of back.verdicts)
      out(`  ${verdict.pass ? '✔' : '✖'} FAILBACK ${verdict.target.toUpperCase()}: ${verdict.detail}`);
  }
  for (const finding of report.findings) out(`  ${finding.severity} ${finding.code}: ${finding.message}`);
  out(`  report          ${outcome.files.html}`);
  out(`                  ${outcome.files.json}`);
}
