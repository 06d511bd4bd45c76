/**
 * `drctl preflight PLAN [--state DIR|URL] [--timeout 10s] [--json]`: can every step of every runbook still
 * run? Changes nothing. Exit 1 when a check failed or timed out (docs/preflight.md).
 */
import { UsageError } from '../../errors.ts';
import { formatDuration, parseDuration } from '../../plan/duration.ts';
import { printJson, type RegisterCommand } from '../context.ts';

interface PreflightCliOptions {
  state?: string;
  timeout: string;
  json?: boolean;
}

export const registerPreflight: RegisterCommand = (program, context) => {
  program
    .command('preflight')
    .description('check that every step can still run: targets, credentials, tools, capacity, people')
    .argument('<plan>', 'plan file (YAML)')
    .option(
      '--state <dir|url>',
      'state store: approvers and escalation contacts must hold a token there; the result is kept for readiness',
    )
    .option('--timeout <duration>', 'each check is cut after this long', '10s')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: PreflightCliOptions) => {
      const timeoutMs = parseDuration(options.timeout);
      if (timeoutMs === undefined || timeoutMs <= 0) {
        throw new UsageError('DRCTL_PREFLIGHT_TIMEOUT', `--timeout ${options.timeout} is not a duration`, {
          hint: 'write it like 10s or 2m',
        });
      }
      const [{ loadPlanForCommand }, { runPreflight, savePreflight }, { providers }, state] =
        await Promise.all([
          import('../load-plan.ts'),
          import('../../preflight/index.ts'),
          import('../../providers/index.ts'),
          import('./run-state.ts'),
        ]);
      const plan = await loadPlanForCommand(file);
      const stateDir = state.localStateDir(options.state ?? '.drctl');
      const store = options.state === undefined ? undefined : await state.openState({ state: options.state });
      try {
        const report = await runPreflight(plan, {
          providers,
          stateDir,
          timeoutMs,
          ...(store === undefined ? {} : { store }),
        });
        if (store !== undefined) await savePreflight(store, plan, report);
        context.exitCode = report.ok ? 0 : 1;
        if (options.json) {
          printJson(context, report);
          return;
        }
        const out = (line: string): void => void context.out.write(`${line}\n`);
        out(
          `preflight of ${plan.name} (${plan.hash.slice(0, 12)}): ${report.ok ? 'every step can run' : 'some steps cannot run'} — ${report.summary.passed} passed, ${report.summary.failed} failed, ${report.summary['timed-out']} timed out`,
        );
        for (const item of report.items) {
          if (item.status === 'passed') continue;
          out(
            `  ${item.location.file}:${item.location.line}:${item.location.column}  ${item.status.toUpperCase()} ${item.kind}  ${item.workload}/${item.runbook} step ${item.step}: ${item.check}: ${item.message} (${formatDuration(item.durationMs)})`,
          );
        }
        for (const [workload, result] of Object.entries(report.workloads))
          out(`  ${workload}: ${result.ok ? 'ready' : `${result.failed} check(s) not passed`}`);
      } finally {
        await store?.close();
      }
    });
};
