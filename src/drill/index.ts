/**
 * Drills: bring a workload's environment up from its plan, write through the front door with a canary,
 * inject the scenario's faults, let the monitor and the engine fail over, and measure what the client saw
 * (detection, RTO) and what was lost (acknowledged writes), as a report.
 */
export { runDrill } from './runner.ts';
export { findScenario } from './scenario.ts';
export type { DrillOptions, DrillOutcome } from './runner.ts';
export type { FailbackOptions } from './failback.ts';
export { DrillEnvironment } from './environment.ts';
export { PG_PASSWORD_ENV } from './bring-up.ts';
export type { DrillEnvironmentOptions, RunningPlacement, SnapshotRecord } from './environment.ts';
export { Canary, measureLoss, measureOutage } from './canary.ts';
export type { CanaryOptions, CanaryResult, CanaryRun, LossMeasurement, OutageMeasurement } from './canary.ts';
export { Prober } from './prober.ts';
export type { ProberOptions, ProberResult, ProberRun } from './prober.ts';
export { buildDrillReport, formatMs, DRILL_REPORT_FORMAT } from './report.ts';
export { renderDrillReportHtml, writeDrillReport } from './report-html.ts';
export type {
  DrillReport,
  DrillReportInput,
  FailbackReport,
  FailbackVerdict,
  TimelineEvent,
  Verdict,
} from './report.ts';
export { sleep } from './clock.ts';
export { drillTrend, renderTrendsHtml } from './trends.ts';
export type { DrillTrend, StepTrend } from './trends.ts';
