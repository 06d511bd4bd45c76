/**
 * The drill report: what a drill measured, against the targets it was run for. `buildDrillReport` turns the
 * raw measurements (canary, prober, timeline events, the set of orders the surviving database holds) into
 * one JSON document; `renderDrillReportHtml` (report-html.ts) turns that document into a self-contained HTML
 * page (inline CSS and SVG, nothing fetched when it is opened) that stakeholders can read and archive.
 * The JSON shape is documented in docs/drills.md and versioned by `format`.
 */
import type { DataIntegrityReport } from './data-integrity.ts';
import type { DrillNote, DrillPause } from './rehearsal.ts';
export type { CorruptionFigures, DataIntegrityReport } from './data-integrity.ts';
import type { DrillEnvironmentKind, Scenario, Workload } from '../plan/model.ts';
import { measureOutage, type CanaryResult, type LossMeasurement, type OutageMeasurement } from './canary.ts';
import type { ProberResult } from './prober.ts';

export const DRILL_REPORT_FORMAT = 'drctl.drill-report/1';

/** What happened during a drill, in the order it happened. */
export const TIMELINE_KINDS = [
  'drill-started', // the canary and prober began
  'fault-injected', // a scenario fault took effect
  'fault-lifted', // a fault with a duration was removed
  'detected', // drctl (monitor or router) concluded the site was lost
  'step-started', // a runbook step began
  'step-finished', // a runbook step succeeded
  'step-failed', // a runbook step failed
  'first-failure', // the first canary write that failed after the fault
  'first-success', // the first canary write acknowledged after that failure: recovery as the client saw it
  'failback-started', // the failback runbook was started (drills run with failback)
  'failback-first-failure', // the first canary write that failed after the failback started
  'failback-first-success', // the first write acknowledged after that failure: the failback outage ended
  'failback-finished', // the failback run ended
  'drill-aborted', // a guard failed, the maximum duration passed or an emergency stop: every fault undone
  'drill-finished', // the canary stopped and the data was checked
  'note', // anything else worth reading in order
] as const;
export type TimelineKind = (typeof TIMELINE_KINDS)[number];

export interface TimelineEvent {
  /** Milliseconds since the drill started. */
  at: number;
  kind: TimelineKind;
  detail: string;
  /** The runbook step, for step events. */
  step?: string;
  /** The runbook the step belongs to (`failover`, `failback`), for step events. */
  runbook?: string;
}

/** One target of the drill, judged. */
export interface Verdict {
  /**
   * `rto`: client-observed recovery time; `rpo`: acknowledged writes lost, in seconds of data; `failover`:
   * whether drctl failed over, judged when the scenario says it must (a site loss) or must not (a transient).
   */
  target: 'rto' | 'rpo' | 'failover';
  /** The objective in ms; undefined for `failover`. */
  objectiveMs: number | undefined;
  /** What was measured in ms; undefined when it could not be measured (the service never came back), or for `failover`. */
  measuredMs: number | undefined;
  /** For `failover`: whether a failover was expected, and the failover runs started. */
  failover?: { expected: boolean; runs: string[] };
  pass: boolean;
  /** One sentence for people. */
  detail: string;
}

export interface DrillFinding {
  /** Stable code, e.g. DRCTL_DRILL_RTO_MISSED. */
  code: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  hint?: string;
}

/** One target of the failback phase, judged. */
export interface FailbackVerdict {
  /** `outage`: client-observed outage (no objective); `rpo`: acknowledged writes lost over the whole drill; `run`: the failback runbook succeeded. */
  target: 'outage' | 'rpo' | 'run';
  /** The objective in ms; undefined when there is none (the outage, the run). */
  objectiveMs: number | undefined;
  measuredMs: number | undefined;
  pass: boolean;
  detail: string;
}

/** A step of the failback run as the report shows it; `atMs` is ms since the start of the drill. */
export interface FailbackStep {
  id: string;
  name: string;
  status: string;
  atMs: number | undefined;
  durationMs: number | undefined;
  error?: string;
}

/** The failback phase: measured like the failover, from the failback run's start. */
export interface FailbackReport {
  runId: string;
  runbook: string;
  /** The run's final status (`succeeded` when the runbook completed). */
  status: string;
  /** Who granted the runbook's approval steps (the run itself is started by `drill`). */
  approvedBy: string;
  /** ISO timestamps of the failback run. */
  startedAt: string;
  finishedAt: string;
  /** Run start → run end. */
  durationMs: number;
  /** First failed write after the failback started → first acknowledged write after it; 0 when none failed; undefined when writes never succeeded again. */
  outageMs: number | undefined;
  /** Acknowledged writes of the whole drill missing from the database that serves at the end. */
  lostWrites: { count: number; spanMs: number; ids: string[] };
  /** The site whose database was checked, and the site that acknowledged the last write. */
  dataSite: string;
  servedBy: string | undefined;
  writes: { sent: number; acknowledged: number; failed: number };
  steps: FailbackStep[];
  verdicts: FailbackVerdict[];
}

export interface FailbackStepInput {
  id: string;
  name: string;
  status: string;
  /** Epoch ms. */
  startedAt?: number;
  finishedAt?: number;
  actualMs?: number;
  error?: string;
}

export interface FailbackInput {
  runId: string;
  runbook: string;
  status: string;
  approvedBy: string;
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
  steps: FailbackStepInput[];
  /** Every acknowledged write of the drill, looked up at `dataSite` after the failback. */
  loss: LossMeasurement;
  dataSite: string;
}

export interface DrillEvidence {
  name: string;
  value: unknown;
}

export interface DrillRehearsalReport {
  /** `--steps` as given, and the steps it left out. */
  steps?: { spec: string; skipped: string[] };
  pauses: DrillPause[];
  /** Total time held paused; the RTO as the client saw it includes it. */
  pausedMs: number;
  notes: DrillNote[];
}

export interface DrillReport {
  format: typeof DRILL_REPORT_FORMAT;
  id: string;
  plan: { name: string; hash: string } | undefined;
  scenario: {
    id: string;
    description: string | undefined;
    disaster: string;
    type: string;
    runbook: string;
    faults: { kind: string; target: string; atMs: number; durationMs: number | undefined }[];
  };
  workload: { id: string; name: string; tier: number | undefined; strategy: string | undefined };
  /** ISO timestamps. */
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  targets: { rtoMs: number; rpoMs: number };
  measured: {
    /** Fault → detected, when a detection was reported. */
    detectionMs: number | undefined;
    /** Fault → first acknowledged write after the outage: the RTO as the client saw it. */
    rtoMs: number | undefined;
    /** First failed write → first acknowledged write after it. */
    outageMs: number | undefined;
    /** Acknowledged writes missing from the surviving database: the RPO as measured. */
    lostWrites: { count: number; spanMs: number; ids: string[] };
    writes: {
      sent: number;
      acknowledged: number;
      failed: number;
      skipped: number;
      failuresAfterRecovery: number;
    };
    reads: { url: string; availability: number; samples: number; unavailableMs: number } | undefined;
  };
  verdicts: Verdict[];
  passed: boolean;
  timeline: TimelineEvent[];
  /** Canary outcomes per time bucket, for the chart. `at` is ms since the start of the drill. */
  series: { bucketMs: number; buckets: { at: number; ok: number; failed: number }[] };
  evidence: DrillEvidence[];
  findings: DrillFinding[];
  /** Only for drills run with failback: the second phase. `measured` and `verdicts` above are the failover's. */
  failback?: FailbackReport;
  /** Writes stranded on a former primary (from rebuild evidence) and a corruption drill's figures. */
  dataIntegrity?: DataIntegrityReport;
  /** Rehearsal controls used (docs/drills.md): steps left out, pauses people held, notes from the room. */
  rehearsal?: DrillRehearsalReport;
  /** What kept the drill safe: the environment, the preflight, its guards, and why it was aborted. */
  safety?: SafetyReport;
}

export interface SafetyReport {
  environment: DrillEnvironmentKind;
  maxDurationMs: number;
  /** What the preflight of an existing environment checked. */
  preflight: string[];
  guards: { name: string; checks: number; failed: number; tripped: boolean; last: string | undefined }[];
  /** Why the drill stopped before its end; `atMs` since the drill started, `undoneMs` abort → faults undone. */
  aborted?: { by: string; reason: string; atMs: number; undoneMs: number | undefined };
}

/** An event as a drill runner records it: `at` in epoch milliseconds. */
export interface DrillEventInput {
  at: number;
  kind: TimelineKind;
  detail: string;
  step?: string;
  runbook?: string;
}

export interface DrillReportInput {
  /** @default `<scenario>-<start time>` */
  id?: string;
  plan?: { name: string; hash: string };
  scenario: Pick<
    Scenario,
    'id' | 'description' | 'disaster' | 'type' | 'workload' | 'runbook' | 'faults' | 'expect'
  >;
  workload?: Pick<Workload, 'id' | 'name' | 'tier' | 'strategy'>;
  /** Objectives to judge against. @default the scenario's `expect` */
  targets?: { rtoMs: number; rpoMs: number };
  /** Epoch milliseconds. */
  startedAt: number;
  finishedAt: number;
  /** When the fault the RTO is measured from took effect (epoch ms). */
  faultAt: number;
  detectedAt?: number;
  /** Fault, detection and step events; first-failure and first-success are added from the canary. */
  events?: DrillEventInput[];
  canary: CanaryResult;
  loss: LossMeasurement;
  prober?: ProberResult;
  evidence?: DrillEvidence[];
  findings?: DrillFinding[];
  /** How many lost order ids the report lists. @default 100 */
  maxLostIds?: number;
  /** The failback phase; the failover is then measured on the writes sent before it started. */
  failback?: FailbackInput;
  /** The failover runs the fault started; judged when the scenario's `expect.failover` is set. */
  failoverRuns?: string[];
  /** Guards, preflight and abort, with `aborted.at` in epoch ms and `aborted.undoneAt` when the faults were undone. */
  safety?: Omit<SafetyReport, 'aborted'> & {
    aborted?: { by: string; reason: string; at: number; undoneAt: number | undefined };
  };
}

export function buildDrillReport(input: DrillReportInput): DrillReport {
  const t0 = input.startedAt;
  const rel = (at: number): number => round(at - t0);
  // with a failback, the failover phase ends where the failback starts: its writes are measured apart
  const failoverCanary =
    input.failback === undefined ? input.canary : sentBefore(input.canary, input.failback.startedAt);
  const outage = measureOutage(failoverCanary, input.faultAt);
  const targets = input.targets ?? { rtoMs: input.scenario.expect.rtoMs, rpoMs: input.scenario.expect.rpoMs };
  const detectionMs = input.detectedAt === undefined ? undefined : round(input.detectedAt - input.faultAt);

  const events: TimelineEvent[] = (input.events ?? []).map((e) => ({
    at: rel(e.at),
    kind: e.kind,
    detail: e.detail,
    ...(e.step === undefined ? {} : { step: e.step }),
    ...(e.runbook === undefined ? {} : { runbook: e.runbook }),
  }));
  const has = (kind: TimelineKind): boolean => events.some((e) => e.kind === kind);
  if (!has('drill-started'))
    events.unshift({
      at: 0,
      kind: 'drill-started',
      detail: `canary writing every ${input.canary.intervalMs} ms`,
    });
  if (!has('fault-injected'))
    events.push({ at: rel(input.faultAt), kind: 'fault-injected', detail: describeFaults(input.scenario) });
  if (input.detectedAt !== undefined && !has('detected'))
    events.push({ at: rel(input.detectedAt), kind: 'detected', detail: 'site loss detected' });
  events.push(...outageEvents(outage, rel, { failure: 'first-failure', success: 'first-success' }));
  const failback =
    input.failback === undefined ? undefined : buildFailback(input.failback, input, rel, targets);
  if (input.failback !== undefined) {
    const back = measureOutage(input.canary, input.failback.startedAt);
    events.push(
      ...outageEvents(back, rel, { failure: 'failback-first-failure', success: 'failback-first-success' }),
    );
  }
  if (!has('drill-finished'))
    events.push({
      at: rel(input.finishedAt),
      kind: 'drill-finished',
      detail: `${input.canary.acks.length} writes acknowledged`,
    });
  // Stable: events at the same moment keep the order the runner recorded them in.
  events.sort((a, b) => a.at - b.at);

  const verdicts = judge(targets, outage, input.loss);
  if (input.scenario.expect.failover !== undefined)
    verdicts.push(judgeFailover(input.scenario.expect.failover, input.failoverRuns ?? []));
  const aborted = input.safety?.aborted;
  const findings = [
    ...(input.findings ?? []),
    ...(aborted === undefined
      ? []
      : [
          {
            code: 'DRCTL_DRILL_ABORTED',
            severity: 'error' as const,
            message: `the drill was aborted: ${aborted.reason}`,
            hint:
              aborted.by === 'guard'
                ? 'the guard saw what the drill must never cause; find out why before drilling again'
                : 'every fault was undone; start the drill again when it is safe',
          },
        ]),
    ...drillFindings(verdicts, outage, { ...input, canary: failoverCanary }),
    ...(failback === undefined ? [] : failbackFindings(failback)),
  ];
  const prober = input.prober;

  return {
    format: DRILL_REPORT_FORMAT,
    id: input.id ?? `${input.scenario.id}-${new Date(t0).toISOString().replace(/[:.]/g, '-')}`,
    plan: input.plan,
    scenario: reportedScenario(input.scenario),
    workload: {
      id: input.workload?.id ?? input.scenario.workload,
      name: input.workload?.name ?? input.scenario.workload,
      tier: input.workload?.tier,
      strategy: input.workload?.strategy,
    },
    startedAt: new Date(t0).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    durationMs: rel(input.finishedAt),
    targets,
    measured: {
      detectionMs,
      rtoMs: optionalRound(outage.rtoMs),
      outageMs: optionalRound(outage.outageMs),
      lostWrites: {
        count: input.loss.count,
        spanMs: round(input.loss.spanMs),
        ids: input.loss.lost.slice(0, input.maxLostIds ?? 100).map((a) => a.id),
      },
      writes: {
        sent: failoverCanary.sent,
        acknowledged: failoverCanary.acks.length,
        failed: failoverCanary.failures.length,
        skipped: failoverCanary.skipped,
        failuresAfterRecovery: outage.failuresAfterRecovery,
      },
      reads:
        prober === undefined
          ? undefined
          : {
              url: prober.url,
              availability: prober.availability,
              samples: prober.samples.length,
              unavailableMs: round(prober.unavailable.reduce((sum, w) => sum + w.ms, 0)),
            },
    },
    verdicts,
    // an error finding (a failover run that failed, a failback not run) fails the drill even when the
    // client measurements met their objectives
    passed:
      verdicts.every((v) => v.pass) &&
      (failback?.verdicts.every((v) => v.pass) ?? true) &&
      findings.every((f) => f.severity !== 'error'),
    timeline: events,
    series: bucketise(input.canary, t0, input.finishedAt),
    evidence: input.evidence ?? [],
    findings,
    ...(failback === undefined ? {} : { failback }),
    ...(input.safety === undefined ? {} : { safety: reportedSafety(input.safety, rel) }),
  };
}

function reportedScenario(scenario: DrillReportInput['scenario']): DrillReport['scenario'] {
  return {
    id: scenario.id,
    description: scenario.description,
    disaster: scenario.disaster,
    type: scenario.type,
    runbook: scenario.runbook,
    faults: scenario.faults.map((f) => ({
      kind: f.kind,
      target: `${f.component}@${f.site}`,
      atMs: f.atMs,
      durationMs: f.durationMs,
    })),
  };
}

/** The safety section, its abort timed from the drill's start. */
function reportedSafety(
  safety: NonNullable<DrillReportInput['safety']>,
  rel: (at: number) => number,
): SafetyReport {
  const aborted = safety.aborted;
  return {
    environment: safety.environment,
    maxDurationMs: safety.maxDurationMs,
    preflight: safety.preflight,
    guards: safety.guards,
    ...(aborted === undefined
      ? {}
      : {
          aborted: {
            by: aborted.by,
            reason: aborted.reason,
            atMs: rel(aborted.at),
            undoneMs: aborted.undoneAt === undefined ? undefined : round(aborted.undoneAt - aborted.at),
          },
        }),
  };
}

/** The canary's writes started before `at`, as if it had stopped then (skips are not timed: all count). */
function sentBefore(canary: CanaryResult, at: number): CanaryResult {
  const acks = canary.acks.filter((a) => a.sentAt < at);
  const failures = canary.failures.filter((f) => f.sentAt < at);
  return { ...canary, acks, failures, sent: acks.length + failures.length, stoppedAt: at };
}

function buildFailback(
  input: FailbackInput,
  drill: DrillReportInput,
  rel: (at: number) => number,
  targets: { rtoMs: number; rpoMs: number },
): FailbackReport {
  const outage = measureOutage(drill.canary, input.startedAt);
  const acks = drill.canary.acks.filter((a) => a.sentAt >= input.startedAt);
  const failures = drill.canary.failures.filter((f) => f.sentAt >= input.startedAt);
  const servedBy = [...acks].sort((a, b) => a.seq - b.seq).at(-1)?.site;
  const loss = input.loss;
  const outageMs = outage.impacted ? optionalRound(outage.outageMs) : 0;
  const rpoPass = loss.count === 0 || (targets.rpoMs > 0 && loss.spanMs <= targets.rpoMs);
  const verdicts: FailbackVerdict[] = [
    {
      target: 'outage',
      objectiveMs: undefined,
      measuredMs: outageMs,
      // no objective: shown, judged only on whether writes came back
      pass: outageMs !== undefined,
      detail:
        outageMs === undefined
          ? 'No write was acknowledged after the failback started failing writes: the service did not come back.'
          : outage.impacted
            ? `Writes failed for ${formatMs(outageMs)} during the failback (${outage.failedWrites} writes); no objective is set for it.`
            : 'No write failed during the failback.',
    },
    {
      target: 'rpo',
      objectiveMs: targets.rpoMs,
      measuredMs: round(loss.spanMs),
      pass: rpoPass,
      detail:
        loss.count === 0
          ? `All ${loss.acknowledged} acknowledged writes of the drill are in the database at ${input.dataSite}.`
          : `${loss.count} of ${loss.acknowledged} acknowledged writes of the drill are missing at ${input.dataSite}, spanning ${formatMs(loss.spanMs)} of data (objective ${formatMs(targets.rpoMs)}).`,
    },
    {
      target: 'run',
      objectiveMs: undefined,
      measuredMs: round(input.finishedAt - input.startedAt),
      pass: input.status === 'succeeded',
      detail: `The ${input.runbook} run ${input.runId} ended ${input.status}${servedBy === undefined ? '' : `; the last write was acknowledged by ${servedBy}`}.`,
    },
  ];
  return {
    runId: input.runId,
    runbook: input.runbook,
    status: input.status,
    approvedBy: input.approvedBy,
    startedAt: new Date(input.startedAt).toISOString(),
    finishedAt: new Date(input.finishedAt).toISOString(),
    durationMs: round(input.finishedAt - input.startedAt),
    outageMs,
    lostWrites: {
      count: loss.count,
      spanMs: round(loss.spanMs),
      ids: loss.lost.slice(0, drill.maxLostIds ?? 100).map((a) => a.id),
    },
    dataSite: input.dataSite,
    servedBy,
    writes: { sent: acks.length + failures.length, acknowledged: acks.length, failed: failures.length },
    steps: input.steps.map((step) => ({
      id: step.id,
      name: step.name,
      status: step.status,
      atMs: step.startedAt === undefined ? undefined : rel(step.startedAt),
      durationMs: optionalRound(step.actualMs),
      ...(step.error === undefined ? {} : { error: step.error }),
    })),
    verdicts,
  };
}

function failbackFindings(failback: FailbackReport): DrillFinding[] {
  const findings: DrillFinding[] = [];
  for (const v of failback.verdicts) {
    if (v.pass) continue;
    if (v.target === 'run')
      findings.push({
        code: 'DRCTL_DRILL_FAILBACK_FAILED',
        severity: 'error',
        message: v.detail,
        hint: 'Read the failback steps in the timeline and the run journal (drctl status RUN).',
      });
    else if (v.target === 'rpo')
      findings.push({
        code: 'DRCTL_DRILL_FAILBACK_LOST_WRITES',
        severity: 'error',
        message: v.detail,
        hint: 'Stop writes at the site being left before the last copy, and rebuild with every write it took.',
      });
    else
      findings.push({
        code: 'DRCTL_DRILL_FAILBACK_NO_RECOVERY',
        severity: 'error',
        message: v.detail,
        hint: 'Check which failback step left no writable site behind the front door.',
      });
  }
  return findings;
}

function judge(
  targets: { rtoMs: number; rpoMs: number },
  outage: OutageMeasurement,
  loss: LossMeasurement,
): Verdict[] {
  const rto: Verdict =
    outage.rtoMs === undefined
      ? {
          target: 'rto',
          objectiveMs: targets.rtoMs,
          measuredMs: undefined,
          pass: false,
          detail: 'No write was acknowledged after the fault: the service did not recover during the drill.',
        }
      : {
          target: 'rto',
          objectiveMs: targets.rtoMs,
          measuredMs: round(outage.rtoMs),
          pass: outage.rtoMs <= targets.rtoMs,
          detail: outage.impacted
            ? `Writes succeeded again ${formatMs(outage.rtoMs)} after the fault (objective ${formatMs(targets.rtoMs)}).`
            : 'No write failed after the fault: the client saw no outage.',
        };
  // Losing one write is a span of 0 s yet still a loss: an RPO of zero tolerates none.
  const rpoPass = loss.count === 0 || (targets.rpoMs > 0 && loss.spanMs <= targets.rpoMs);
  const rpo: Verdict = {
    target: 'rpo',
    objectiveMs: targets.rpoMs,
    measuredMs: round(loss.spanMs),
    pass: rpoPass,
    detail:
      loss.count === 0
        ? `All ${loss.acknowledged} acknowledged writes are in the surviving database.`
        : `${loss.count} of ${loss.acknowledged} acknowledged writes are missing, spanning ${formatMs(loss.spanMs)} of data (objective ${formatMs(targets.rpoMs)}).`,
  };
  return [rto, rpo];
}

function judgeFailover(expected: boolean, runs: string[]): Verdict {
  const started = runs.length > 0;
  const named = runs.join(', ');
  const detail = expected
    ? started
      ? `drctl failed over (run ${named}).`
      : 'No failover run started: drctl did not conclude that the site was lost.'
    : started
      ? `drctl failed over (run ${named}) on a fault it should have ridden out.`
      : 'drctl rode the fault out: no failover run started.';
  return {
    target: 'failover',
    objectiveMs: undefined,
    measuredMs: undefined,
    failover: { expected, runs },
    pass: started === expected,
    detail,
  };
}

function drillFindings(
  verdicts: Verdict[],
  outage: OutageMeasurement,
  input: DrillReportInput,
): DrillFinding[] {
  const findings: DrillFinding[] = [];
  for (const v of verdicts) {
    if (v.pass) continue;
    if (v.target === 'rto' && v.measuredMs === undefined) {
      findings.push({
        code: 'DRCTL_DRILL_NO_RECOVERY',
        severity: 'error',
        message: v.detail,
        hint: 'Read the timeline: did detection fire, and which runbook step failed or never started?',
      });
    } else if (v.target === 'failover' && v.failover?.expected === true) {
      findings.push({
        code: 'DRCTL_DRILL_NO_FAILOVER',
        severity: 'error',
        message: v.detail,
        hint: 'check the workload probes, failover.automatic and detect_after',
      });
    } else if (v.target === 'failover') {
      findings.push({
        code: 'DRCTL_DRILL_UNWANTED_FAILOVER',
        severity: 'error',
        message: v.detail,
        hint: 'widen the detection window (detect_after, probe failures) beyond the longest transient the site may have',
      });
    } else if (v.target === 'rto') {
      findings.push({
        code: 'DRCTL_DRILL_RTO_MISSED',
        severity: 'error',
        message: v.detail,
        hint: 'Shorten detection (probe interval × failures), automate manual steps or run steps in parallel.',
      });
    } else {
      findings.push({
        code: 'DRCTL_DRILL_RPO_MISSED',
        severity: 'error',
        message: v.detail,
        hint: 'Replicate synchronously or ship snapshots more often than the RPO.',
      });
    }
  }
  if (outage.failuresAfterRecovery > 0) {
    findings.push({
      code: 'DRCTL_DRILL_FLAPPING',
      severity: 'warning',
      message: `${outage.failuresAfterRecovery} writes failed after the service first came back.`,
      hint: 'Look for a router switching back and forth or a standby that was not ready when traffic arrived.',
    });
  }
  if (input.canary.skipped > 0) {
    findings.push({
      code: 'DRCTL_DRILL_CANARY_SATURATED',
      severity: 'warning',
      message: `The canary skipped ${input.canary.skipped} writes because too many were waiting for an answer.`,
      hint: 'Lower the canary timeout or raise its maxInFlight; the outage resolution is coarser than its interval.',
    });
  }
  return findings;
}

function bucketise(canary: CanaryResult, t0: number, end: number): DrillReport['series'] {
  const span = Math.max(1, end - t0);
  // About 240 columns whatever the drill's length, on a 1-2-5 scale so axis values read well.
  const raw = Math.max(canary.intervalMs, span / 240);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const bucketMs = [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= raw) ?? raw;
  const count = Math.ceil(span / bucketMs);
  const buckets = Array.from({ length: count }, (_, i) => ({ at: i * bucketMs, ok: 0, failed: 0 }));
  const slot = (sentAt: number) =>
    buckets[Math.min(count - 1, Math.max(0, Math.floor((sentAt - t0) / bucketMs)))];
  for (const a of canary.acks) {
    const b = slot(a.sentAt);
    if (b !== undefined) b.ok++;
  }
  for (const f of canary.failures) {
    const b = slot(f.sentAt);
    if (b !== undefined) b.failed++;
  }
  return { bucketMs, buckets };
}

function describeFaults(scenario: DrillReportInput['scenario']): string {
  if (scenario.faults.length === 0) return `scenario ${scenario.id}`;
  return scenario.faults.map((f) => `${f.kind} ${f.component}@${f.site}`).join(', ');
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function optionalRound(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : round(ms);
}

/** 850 ms, 1.24 s, 3 min 5 s: what people read in the report. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds === 0 ? `${minutes} min` : `${minutes} min ${seconds} s`;
}

/** The first failed write of an outage and the first acknowledged one after it, as timeline events. */
function outageEvents(
  outage: OutageMeasurement,
  rel: (at: number) => number,
  kinds: { failure: TimelineKind; success: TimelineKind },
): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  if (outage.firstFailure !== undefined) {
    events.push({
      at: rel(outage.firstFailure.at),
      kind: kinds.failure,
      detail: `write ${outage.firstFailure.seq} failed: ${outage.firstFailure.reason}`,
    });
  }
  if (outage.firstSuccess !== undefined) {
    const site = outage.firstSuccess.site === undefined ? '' : ` by ${outage.firstSuccess.site}`;
    events.push({
      at: rel(outage.firstSuccess.ackAt),
      kind: kinds.success,
      detail: `write ${outage.firstSuccess.seq} acknowledged${site}`,
    });
  }
  return events;
}
