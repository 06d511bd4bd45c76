/**
 * Trends over the stored drills of a workload and scenario: measured RTO, RPO (seconds of data lost) and
 * detection per drill beside the runbook's predicted critical path, and each step's measured durations
 * against its `expected`, with a suggestion when `expected` is consistently wrong. The drill report draws
 * them as uPlot charts (inlined, so the page stays self-contained).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { criticalPath } from '../analysis/index.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Plan } from '../plan/model.ts';
import { escapeHtml } from '../render/index.ts';
import type { DrillReportRecord } from '../store/store.ts';
import type { DrillReport } from './report.ts';

/** Measured durations this many times below (or above) `expected` in every drill make a suggestion. */
const WRONG_BY = 4;
const MIN_DRILLS = 3;

export interface StepTrend {
  id: string;
  expectedMs: number;
  contingencyMs: number;
  measuredMs: number[];
  suggestion: string | undefined;
}

export interface DrillTrend {
  workload: string;
  scenario: string;
  /** The runbook's critical path by expected time plus contingency. */
  predictedMs: number | undefined;
  targets: { rtoMs: number; rpoMs: number } | undefined;
  /** Oldest first. */
  points: {
    id: string;
    at: string;
    rtoMs: number | null;
    rpoMs: number;
    detectionMs: number | null;
    passed: boolean;
  }[];
  steps: StepTrend[];
}

/** Each step's duration in one drill: step-started to step-finished of the failover runbook. */
function stepDurations(report: DrillReport): Map<string, number> {
  const started = new Map<string, number>();
  const took = new Map<string, number>();
  for (const e of report.timeline) {
    if (e.step === undefined || (e.runbook !== undefined && e.runbook !== report.scenario.runbook)) continue;
    if (e.kind === 'step-started') started.set(e.step, e.at);
    if (e.kind === 'step-finished' && started.has(e.step)) took.set(e.step, e.at - started.get(e.step)!);
  }
  return took;
}

export function drillTrend(
  plan: Plan,
  workload: string,
  scenario: string,
  records: readonly DrillReportRecord[],
): DrillTrend {
  const reports = records
    .filter((r) => r.workload === workload && r.scenario === scenario)
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
    .map((r) => r.report as unknown as DrillReport);
  const planned = plan.drills.scenarios.find((s) => s.id === scenario);
  const runbook = plan.workloads
    .find((w) => w.id === workload)
    ?.runbooks.find((r) => r.name === (planned?.runbook ?? 'failover'));
  const durations = reports.map(stepDurations);
  const steps: StepTrend[] = (runbook?.steps ?? []).map((step) => {
    const measuredMs = durations.flatMap((d) => (d.has(step.id) ? [d.get(step.id)!] : []));
    const low = Math.min(...measuredMs);
    const high = Math.max(...measuredMs);
    const range = `measured ${formatDuration(low)}–${formatDuration(high)} over ${measuredMs.length} drills`;
    let suggestion: string | undefined;
    if (measuredMs.length >= MIN_DRILLS && high * WRONG_BY < step.expectedMs)
      suggestion = `${step.id}: expected ${formatDuration(step.expectedMs)}, ${range}; lower expected to about ${formatDuration(Math.max(1, high * 2))}`;
    else if (measuredMs.length >= MIN_DRILLS && low > (step.expectedMs + step.contingencyMs) * WRONG_BY)
      suggestion = `${step.id}: expected ${formatDuration(step.expectedMs)}, ${range}; raise expected to about ${formatDuration(high)}`;
    return {
      id: step.id,
      expectedMs: step.expectedMs,
      contingencyMs: step.contingencyMs,
      measuredMs,
      suggestion,
    };
  });
  return {
    workload,
    scenario,
    predictedMs: runbook === undefined ? undefined : criticalPath(runbook.steps).ms,
    targets: reports.at(-1)?.targets,
    points: reports.map((r) => ({
      id: r.id,
      at: r.startedAt,
      rtoMs: r.measured.rtoMs ?? null,
      rpoMs: r.measured.lostWrites.spanMs,
      detectionMs: r.measured.detectionMs ?? null,
      passed: r.passed,
    })),
    steps,
  };
}

let uplot: { js: string; css: string } | undefined;
function uplotAssets(): { js: string; css: string } {
  if (uplot === undefined) {
    const require = createRequire(import.meta.url);
    const dir = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
    uplot = {
      js: readFileSync(`${dir}uPlot.iife.min.js`, 'utf8'),
      css: readFileSync(`${dir}uPlot.min.css`, 'utf8'),
    };
  }
  return uplot;
}

/** The trends section of a drill report: charts (uPlot, inlined) and the step suggestions. */
export function renderTrendsHtml(trend: DrillTrend): string {
  const e = escapeHtml;
  const { js, css } = uplotAssets();
  const data = {
    x: trend.points.map((_, i) => i + 1),
    rto: trend.points.map((p) => (p.rtoMs === null ? null : p.rtoMs / 1000)),
    rpo: trend.points.map((p) => p.rpoMs / 1000),
    detection: trend.points.map((p) => (p.detectionMs === null ? null : p.detectionMs / 1000)),
    predicted: trend.points.map(() => (trend.predictedMs ?? 0) / 1000),
  };
  const rows = trend.steps
    .map(
      (s) =>
        `<tr><td>${e(s.id)}</td><td>${e(formatDuration(s.expectedMs))}</td><td>${s.measuredMs.length === 0 ? '—' : e(`${formatDuration(Math.min(...s.measuredMs))}–${formatDuration(Math.max(...s.measuredMs))}`)}</td><td>${s.measuredMs.length}</td><td>${e(s.suggestion ?? '')}</td></tr>`,
    )
    .join('\n');
  // JSON in a script element: "<" escaped so no value can close it
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<h2 id="trends">Trends over ${trend.points.length} drill${trend.points.length === 1 ? '' : 's'} of ${e(trend.scenario)}</h2>
<style>${css}</style>
<div class="trend-chart" data-testid="trend-chart"></div>
<p class="meta">Measured RTO, data lost (RPO) and detection per drill, in seconds, with the runbook's predicted critical path (${e(formatDuration(trend.predictedMs ?? 0))}).</p>
<table class="trend-steps"><thead><tr><th>Step</th><th>Expected</th><th>Measured</th><th>Drills</th><th>Suggestion</th></tr></thead><tbody>
${rows}
</tbody></table>
<script>${js}</script>
<script>
(function () {
  var d = ${json};
  var el = document.querySelector('[data-testid="trend-chart"]');
  if (typeof uPlot === 'undefined' || !el) return;
  new uPlot({ width: Math.min(1000, el.clientWidth || 960), height: 260, scales: { x: { time: false } },
    series: [{ label: 'drill' }, { label: 'RTO (s)', stroke: '#c62828' }, { label: 'RPO (s)', stroke: '#ef6c00' },
      { label: 'detection (s)', stroke: '#1565c0' }, { label: 'predicted (s)', stroke: '#5f6368', dash: [6, 4] }] },
    [d.x, d.rto, d.rpo, d.detection, d.predicted], el);
})();
</script>`;
}
