/**
 * Analysis: can the plan keep its promises? Reads a compiled plan (references and cycles are already
 * checked by the loader) and reports findings, each with a stable code, a severity, a location and a
 * hint, plus a summary per runbook: dependency waves, the critical path against the RTO and, when it
 * does not fit, the remedies of seed 000. Every rule and its code is described in docs/analysis.md.
 */
import { DrctlError, formatLocation } from '../errors.ts';
import type { Plan } from '../plan/model.ts';
import { Redactor, inlineSecrets as planInlineSecrets } from '../plan/secrets.ts';
import { createContext } from './context.ts';
import type { Rule } from './context.ts';
import { compareFindings, countBySeverity } from './findings.ts';
import type { Finding, Severity } from './findings.ts';
import { componentWaves } from './graph.ts';
import { withObservedDelays } from './observed.ts';
import type { ObservedDelay } from './observed.ts';
import { analyzeRunbook, clientDelayFindings, rtoFinding } from './runbooks.ts';
import type { RunbookAnalysis } from './runbooks.ts';
import { workloadCost, type WorkloadCost } from './costs.ts';
import { backup321, crossStore, rpoRules } from './rules/data.ts';
import {
  cheaperStrategy,
  objectivesWithinTier,
  standbyPlaced,
  strategyMatchesTier,
  weakestLink,
} from './rules/objectives.ts';
import { providerLoss, sharedFailureDomains } from './rules/domains.ts';
import {
  activationDefined,
  approvals,
  contactBackups,
  contactCategories,
  peopleAway,
} from './rules/people.ts';
import {
  activeRouting,
  coldProvisioning,
  hotReplication,
  restoreVerified,
  warmSnapshots,
} from './rules/strategy.ts';
import { recoveryOrder, recoveryRunbooks, stepTargets, stepsVerified } from './rules/runbooks.ts';
import { inlineSecrets } from './rules/secrets.ts';
import { analyzeSite, servingSites, siteFindings } from './site.ts';
import type { SiteAnalysis } from './site.ts';
import { drillSchedule, instructionsExercised, planReview, signoffs } from './rules/staleness.ts';

export { FINDINGS, SEVERITIES, compareFindings, countBySeverity } from './findings.ts';
export type { Finding, FindingCode, FindingSubject, Severity } from './findings.ts';
export {
  ancestors,
  componentWaves,
  criticalPath,
  dependencyWaves,
  stepCostMs,
  stepTimeline,
  topologicalOrder,
} from './graph.ts';
export type { CriticalPath, GraphNode, TimedNode, TimelineEntry } from './graph.ts';
export type { Remedy, RemedyKind, RunbookAnalysis } from './runbooks.ts';
export { recoveryPoint } from './rules/data.ts';
export { analyzeSite, servingSites } from './site.ts';
export type { SiteAnalysis, SiteChildTiming, SiteStepTiming, SiteTierTiming } from './site.ts';
export { formatMoney, workloadCost } from './costs.ts';
export type { WorkloadCost, YearlyCost } from './costs.ts';
export { blockedSteps, sharedDomains, workloadSites } from './rules/domains.ts';
export type { RecoveryPoint } from './rules/data.ts';
export type { ObservedDelay } from './observed.ts';

export interface AnalyzeOptions {
  /** The moment staleness (reviews, sign-offs, drills) is judged at. @default the current time */
  now?: Date;
  /**
   * Delays until clients move as readiness observed them (the TTL a DNS server serves now): a step whose
   * delay is observed counts the longer of the two in its critical path and TTL findings.
   * @default none: the plan's own figures
   */
  observedDelays?: readonly ObservedDelay[];
}

export interface Analysis {
  /** Sorted: errors first, then by file, line and column. */
  findings: Finding[];
  /** One per runbook, in plan order. */
  runbooks: RunbookAnalysis[];
  /** Component ids in recovery order across workloads: each wave depends only on earlier waves. */
  recoveryOrder: string[][];
  /** Each workload's DR cost and disaster cost, when the plan states unit costs. */
  costs: WorkloadCost[];
}

const RULES: readonly Rule[] = [
  rpoRules,
  backup321,
  crossStore,
  strategyMatchesTier,
  objectivesWithinTier,
  standbyPlaced,
  weakestLink,
  recoveryRunbooks,
  stepsVerified,
  recoveryOrder,
  stepTargets,
  activationDefined,
  approvals,
  contactBackups,
  planReview,
  signoffs,
  instructionsExercised,
  drillSchedule,
  inlineSecrets,
  hotReplication,
  warmSnapshots,
  activeRouting,
  restoreVerified,
  coldProvisioning,
  sharedFailureDomains,
  providerLoss,
  peopleAway,
  contactCategories,
  cheaperStrategy,
];

export function analyzePlan(given: Plan, options: AnalyzeOptions = {}): Analysis {
  const plan = withObservedDelays(given, options.observedDelays ?? []);
  const context = createContext(plan, options.now ?? new Date());
  const findings: Finding[] = [];
  const report = (f: Finding): void => {
    findings.push(f);
  };
  const runbooks: RunbookAnalysis[] = [];
  for (const workload of plan.workloads) {
    for (const runbook of workload.runbooks) {
      const analysis = analyzeRunbook(context, workload, runbook);
      runbooks.push(analysis);
      const over = rtoFinding(analysis);
      if (over) report(over);
      for (const found of clientDelayFindings(analysis, runbook)) report(found);
    }
  }
  for (const rule of RULES) rule(context, report);
  for (const site of sitesToAnalyze(plan)) for (const f of siteFindings(plan, site)) report(f);
  findings.sort(compareFindings);
  // a finding may quote what the plan says (a step's command), passwords written inline included
  const redactor = new Redactor(planInlineSecrets(plan));
  return {
    findings: findings.map((f) => ({ ...f, message: redactor.text(f.message), hint: redactor.text(f.hint) })),
    runbooks,
    recoveryOrder: componentWaves([...context.components.values()]),
    costs: plan.workloads.map((w) => workloadCost(plan, w)).filter((c) => c !== undefined),
  };
}

/**
 * Each serving site's loss as one run. A site that cannot make one run (a workload without a failover
 * runbook, workloads in a cycle) is left out here: DRCTL_RECOVERY_RUNBOOK_MISSING already says the first,
 * and `drctl run --site-lost` refuses both with their position.
 */
function sitesToAnalyze(plan: Plan): SiteAnalysis[] {
  const analyses: SiteAnalysis[] = [];
  for (const site of servingSites(plan)) {
    try {
      analyses.push(analyzeSite(plan, site));
    } catch (error) {
      if (!(error instanceof DrctlError)) throw error;
    }
  }
  return analyses;
}

/** The `--json` shape of an analysis (documented in docs/analysis.md); the API serves the same. */
export function analysisToJson(plan: Plan, analysis: Analysis): AnalysisJson {
  return {
    plan: { name: plan.name, hash: plan.hash },
    summary: countBySeverity(analysis.findings),
    findings: analysis.findings.map((f) => ({
      code: f.code,
      severity: f.severity,
      message: f.message,
      hint: f.hint,
      file: f.location.file,
      line: f.location.line,
      column: f.location.column,
      where: formatLocation(f.location),
      ...f.subject,
    })),
    runbooks: analysis.runbooks.map((r) => ({
      workload: r.workload,
      runbook: r.runbook,
      kind: r.kind,
      waves: r.waves,
      criticalPath: { seconds: r.criticalPath.seconds, ms: r.criticalPath.ms, steps: r.criticalPath.steps },
      rtoSeconds: r.rtoMs / 1000,
      rtoApplies: r.rtoApplies,
      fits: r.fits,
      overSeconds: r.overMs / 1000,
      remedies: r.remedies.map((m) => ({
        kind: m.kind,
        message: m.message,
        steps: m.steps,
        components: m.components,
        savesSeconds: m.savesMs === undefined ? null : m.savesMs / 1000,
      })),
    })),
    recoveryOrder: analysis.recoveryOrder,
    costs: analysis.costs,
  };
}

export interface AnalysisJson {
  plan: { name: string; hash: string };
  summary: Record<Severity, number>;
  findings: Array<{
    code: string;
    severity: Severity;
    message: string;
    hint: string;
    file: string;
    line: number;
    column: number;
    where: string;
    workload?: string;
    runbook?: string;
    step?: string;
    component?: string;
    contact?: string;
  }>;
  runbooks: Array<{
    workload: string;
    runbook: string;
    kind: string;
    waves: string[][];
    criticalPath: { seconds: number; ms: number; steps: string[] };
    rtoSeconds: number;
    rtoApplies: boolean;
    fits: boolean;
    overSeconds: number;
    remedies: Array<{
      kind: string;
      message: string;
      steps: string[];
      components: string[];
      savesSeconds: number | null;
    }>;
  }>;
  recoveryOrder: string[][];
  costs: WorkloadCost[];
}
