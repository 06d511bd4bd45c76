/** `drctl run PLAN --site-lost SITE --dry-run`: the predicted recovery of a whole site, as people read it. */
import type { SiteAnalysis } from '../../analysis/site.ts';
import { formatDuration } from '../../plan/duration.ts';
import { printJson, type CommandContext } from '../context.ts';

export function printSiteDryRun(context: CommandContext, analysis: SiteAnalysis, json: boolean): void {
  if (json) {
    printJson(context, {
      dryRun: true,
      site: analysis.site,
      totalMs: analysis.totalMs,
      unlimitedTotalMs: analysis.unlimitedTotalMs,
      executors: analysis.executors,
      waves: analysis.recovery.waves,
      order: analysis.order,
      tiers: analysis.tiers,
      steps: analysis.steps,
    });
    return;
  }
  const out = (line: string): void => void context.out.write(`${line}\n`);
  const limits = Object.entries(analysis.executors).map(([pool, count]) => `${pool} ${count}`);
  out(
    `dry run of the loss of site ${analysis.site}: ${analysis.order.length} workloads in ${analysis.recovery.waves.length} waves, ${formatDuration(analysis.totalMs)}` +
      (limits.length > 0
        ? ` within executors ${limits.join(', ')} (${formatDuration(analysis.unlimitedTotalMs)} with no limit)`
        : ' (no executors limit)'),
  );
  out('waves:');
  analysis.recovery.waves.forEach((wave, index) => out(`  ${index + 1}) ${wave.join(', ')}`));
  out('order:');
  for (const child of analysis.order) {
    const waited =
      child.waitedForPeopleMs > 0 ? `, waits ${formatDuration(child.waitedForPeopleMs)} for people` : '';
    const after = child.after.length > 0 ? ` after ${child.after.join(', ')}` : '';
    out(
      `  ${formatDuration(child.startMs).padStart(8)} → ${formatDuration(child.finishMs).padEnd(8)} ${child.workload}/${child.runbook} (tier ${child.tier}, team ${child.team})${after}${waited}; RTO ${formatDuration(child.rtoMs)} ${child.fits ? 'fits' : 'MISSED'}`,
    );
  }
  out('tiers:');
  for (const tier of analysis.tiers) {
    out(
      `  tier ${tier.tier}: ${formatDuration(tier.finishMs)} against RTO ${formatDuration(tier.rtoMs)}: ${tier.fits ? 'fits' : 'MISSED'} (${tier.workloads.join(', ')})`,
    );
  }
  out('steps:');
  for (const step of analysis.steps) {
    const waited =
      step.waitedMs > 0 ? `  waited ${formatDuration(step.waitedMs)} for ${step.pools.join(' + ')}` : '';
    out(
      `  ${formatDuration(step.startMs).padStart(8)} → ${formatDuration(step.finishMs).padEnd(8)} ${step.id} (${step.kind})${waited}`,
    );
  }
}
