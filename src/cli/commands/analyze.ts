/**
 * `drctl analyze PLAN [--json] [--now DATE] [--observe]`: findings grouped by severity, each positioned
 * with its code and hint, then a summary per runbook (waves, critical path against the RTO, remedies).
 * With `--observe`, what readiness reads from the systems (the TTL a DNS server serves now) is judged
 * beside the plan's figures. Exit 1 when any finding is an error.
 */
import { PlanInvalidError, formatLocation } from '../../errors.ts';
import type { Analysis, ObservedDelay, Severity } from '../../analysis/index.ts';
import type { Plan } from '../../plan/model.ts';
import { DEFAULT_STATE_DIR } from '../../store/state-dir.ts';
import { formatDuration } from '../../plan/duration.ts';
import { printJson } from '../context.ts';
import type { RegisterCommand } from '../context.ts';
import { countBySeverity, SEVERITIES } from '../../analysis/findings.ts';
import { formatMoney } from '../../analysis/costs.ts';
import { parseDateOption } from '../state-options.ts';

const HEADINGS: Record<Severity, string> = { error: 'Errors', warning: 'Warnings', info: 'Info' };

export const registerAnalyze: RegisterCommand = (program, context) => {
  program
    .command('analyze')
    .description('check that a plan can keep its promises: RTO, RPO, dependencies, people, backups, drills')
    .argument('<plan>', 'plan file (YAML)')
    .option('--json', 'print findings and runbook summaries as JSON')
    .option('--now <date>', 'judge staleness (reviews, sign-offs, drills) at this date instead of today')
    .option(
      '--observe',
      'ask the systems too (readiness): judge the DNS TTL served now, not only the planned one',
    )
    .action(async (file: string, options: { json?: boolean; now?: string; observe?: boolean }) => {
      const now = parseDateOption('--now', options.now);
      const [{ loadPlanForCommand, problemsAsJson }, { analysisToJson, analyzePlan }] = await Promise.all([
        import('../load-plan.ts'),
        import('../../analysis/index.ts'),
      ]);
      let plan;
      try {
        plan = await loadPlanForCommand(file);
      } catch (error) {
        if (!(options.json && error instanceof PlanInvalidError)) throw error;
        // a tool reading --json gets JSON either way; the plan's problems come where findings would
        printJson(context, {
          valid: false,
          problems: problemsAsJson(error),
          findings: [],
          runbooks: [],
        });
        context.exitCode = 1;
        return;
      }
      const observed = options.observe === true ? await observe(plan) : [];
      const analysis = analyzePlan(plan, { now, observedDelays: observed });
      if (options.json) printJson(context, analysisToJson(plan, analysis));
      else context.out.write(formatAnalysis(analysis));
      if (analysis.findings.some((f) => f.severity === 'error')) context.exitCode = 1;
    });
};

/** What readiness reads from the plan's systems now, as the delays the analysis compares. */
async function observe(plan: Plan): Promise<ObservedDelay[]> {
  const [{ checkReadiness, observedDelays }, { stateDirectory }] = await Promise.all([
    import('../../monitor/index.ts'),
    import('./run-state.ts'),
  ]);
  const report = await checkReadiness(plan, {
    stateDir: stateDirectory(DEFAULT_STATE_DIR, 'analyze'),
    providerTimeoutMs: 10_000,
  });
  return observedDelays(report.facts);
}

/** The human report: findings by severity, then one block per runbook. */
export function formatAnalysis(analysis: Analysis): string {
  const lines: string[] = [];
  for (const severity of SEVERITIES) {
    const group = analysis.findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    lines.push(`${HEADINGS[severity]} (${group.length})`);
    for (const f of group) {
      lines.push(`  ${formatLocation(f.location)}  ${f.code}`, `    ${f.message}`, `    hint: ${f.hint}`);
    }
    lines.push('');
  }
  if (analysis.runbooks.length > 0) lines.push('Runbooks');
  for (const r of analysis.runbooks) {
    const path = r.criticalPath;
    const verdict = !r.rtoApplies
      ? `(RTO ${formatDuration(r.rtoMs)} does not apply to ${r.kind})`
      : r.fits
        ? `within RTO ${formatDuration(r.rtoMs)}: fits`
        : `over RTO ${formatDuration(r.rtoMs)} by ${formatDuration(r.overMs)}: does not fit`;
    lines.push(
      `  ${r.workload}/${r.runbook} (${r.kind}): critical path ${formatDuration(path.ms)} ${verdict}`,
    );
    lines.push(`    path: ${path.steps.join(' → ')}`);
    lines.push(`    waves: ${r.waves.map((wave, i) => `${i + 1}) ${wave.join(', ')}`).join('  ')}`);
    if (r.rtoApplies)
      for (const remedy of r.remedies) lines.push(`    remedy (${remedy.kind}): ${remedy.message}`);
  }
  if (analysis.runbooks.length > 0) lines.push('');
  if (analysis.costs.length > 0) lines.push('DR cost (a year) and one disaster at the objectives');
  for (const c of analysis.costs) {
    const money = (n: number): string => formatMoney(n, c.currency);
    lines.push(
      `  ${c.workload} (${c.yearly.strategy}): ${money(c.yearly.total)} a year (compute ${money(c.yearly.compute)}, backups ${money(c.yearly.backups)}, replicas ${money(c.yearly.replicas)}); one disaster ${money(c.disaster.total)} (downtime ${money(c.disaster.downtime)}, data lost ${money(c.disaster.dataLoss)})`,
    );
    lines.push(
      `    the tier accepts: ${c.alternatives.map((a) => `${a.strategy} ${money(a.total)}`).join(', ')}`,
    );
    if (c.unpricedSites.length > 0)
      lines.push(`    no unit cost for site ${c.unpricedSites.join(', ')}: its compute counts as 0`);
  }
  if (analysis.costs.length > 0) lines.push('');
  const counts = countBySeverity(analysis.findings);
  lines.push(`${plural(counts.error, 'error')}, ${plural(counts.warning, 'warning')}, ${counts.info} info`);
  return `${lines.join('\n')}\n`;
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
