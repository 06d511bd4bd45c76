/**
 * The drill report: what a drill measured, against the targets it was run for. `buildDrillReport` turns the
 * raw measurements (canary, prober, timeline events, the set of orders the surviving database holds) into
 * one JSON document; `renderDrillReportHtml` turns that document into a self-contained HTML page (inline CSS
 * and SVG, nothing fetched when it is opened) that stakeholders can read and archive.
 * The JSON shape is documented in docs/drills.md and versioned by `format`.
 */
import { dataIntegrityHtml, type DataIntegrityReport } from './data-integrity.ts';
import type { DrillNote, DrillPause } from './rehearsal.ts';
export type { CorruptionFigures, DataIntegrityReport } from './data-integrity.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DrillEnvironmentKind, Scenario, Workload } from '../plan/model.ts';
import { measureOutage, type CanaryResult, type LossMeasurement, type OutageMeasurement } from './canary.ts';
import type { ProberResult } from './prober.ts';
import { escapeHtml as escapeHtmlText } from '../render/index.ts';

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
    scenario: {
      id: input.scenario.id,
      description: input.scenario.description,
      disaster: input.scenario.disaster,
      type: input.scenario.type,
      runbook: input.scenario.runbook,
      faults: input.scenario.faults.map((f) => ({
        kind: f.kind,
        target: `${f.component}@${f.site}`,
        atMs: f.atMs,
        durationMs: f.durationMs,
      })),
    },
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
    ...(input.safety === undefined
      ? {}
      : {
          safety: {
            environment: input.safety.environment,
            maxDurationMs: input.safety.maxDurationMs,
            preflight: input.safety.preflight,
            guards: input.safety.guards,
            ...(aborted === undefined
              ? {}
              : {
                  aborted: {
                    by: aborted.by,
                    reason: aborted.reason,
                    atMs: rel(aborted.at),
                    undoneMs:
                      aborted.undoneAt === undefined ? undefined : round(aborted.undoneAt - aborted.at),
                  },
                }),
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

/** Writes `<id>.json` and `<id>.html` into `dir` and answers their paths. */
export async function writeDrillReport(
  report: DrillReport,
  dir: string,
  options: DrillReportHtmlOptions = {},
): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.id}.json`);
  const html = join(dir, `${report.id}.html`);
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(html, renderDrillReportHtml(report, options));
  return { json, html };
}

// ---------------------------------------------------------------------------------------------------------
// HTML

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

/** Escapes any value for HTML text and attributes (numbers and undefined included). */
export function escapeHtml(text: unknown): string {
  return escapeHtmlText(String(text));
}

const KIND_COLOURS: Partial<Record<TimelineKind, string>> = {
  'fault-injected': '#c62828',
  'fault-lifted': '#8e24aa',
  detected: '#ef6c00',
  'first-failure': '#ad1457',
  'first-success': '#2e7d32',
  'failback-started': '#1565c0',
  'failback-first-failure': '#ad1457',
  'failback-first-success': '#2e7d32',
};

const VERDICT_TARGETS: Record<Verdict['target'], string> = {
  rto: 'RTO (as the client saw it)',
  rpo: 'RPO (acknowledged writes lost)',
  failover: 'Failover',
};

function verdictObjective(v: Verdict): string {
  if (v.failover === undefined) return formatMs(v.objectiveMs);
  return v.failover.expected ? 'fail over' : 'no failover';
}

function verdictMeasured(v: Verdict, m: DrillReport['measured']): string {
  if (v.failover !== undefined)
    return v.failover.runs.length === 0
      ? 'none started'
      : `${v.failover.runs.length} run${v.failover.runs.length === 1 ? '' : 's'} started`;
  return v.target === 'rpo'
    ? `${m.lostWrites.count} writes, ${formatMs(v.measuredMs)}`
    : formatMs(v.measuredMs);
}

/** The report as one HTML page: inline CSS and SVG, no script, nothing loaded from the network. */
export interface DrillReportHtmlOptions {
  /** HTML of the trends section (trends.ts), drawn after the canary chart. @default none */
  trends?: string;
}

export function renderDrillReportHtml(report: DrillReport, options: DrillReportHtmlOptions = {}): string {
  const e = escapeHtml;
  const m = report.measured;
  const verdictRows = report.verdicts
    .map(
      (v) => `<tr data-verdict="${e(v.target)}" class="${v.pass ? 'pass' : 'fail'}">
  <th scope="row">${VERDICT_TARGETS[v.target]}</th>
  <td>${e(verdictObjective(v))}</td><td>${e(verdictMeasured(v, m))}</td>
  <td><span class="badge">${v.pass ? 'pass' : 'fail'}</span></td><td>${e(v.detail)}</td></tr>`,
    )
    .join('\n');
  const timelineRows = report.timeline
    .map(
      (t) =>
        `<tr class="k-${e(t.kind)}"><td class="num">${e(formatSeconds(t.at))}</td><td>${e(t.kind)}</td><td>${e(t.step === undefined ? '' : t.runbook === 'failback' ? `failback/${t.step}` : t.step)}</td><td>${e(t.detail)}</td></tr>`,
    )
    .join('\n');
  const findings =
    report.findings.length === 0
      ? '<p>No findings.</p>'
      : `<ul class="findings">${report.findings
          .map(
            (f) =>
              `<li class="${e(f.severity)}"><code>${e(f.code)}</code> ${e(f.message)}${f.hint === undefined ? '' : `<br><small>${e(f.hint)}</small>`}</li>`,
          )
          .join('')}</ul>`;
  const evidence =
    report.evidence.length === 0
      ? '<p>No evidence attached.</p>'
      : report.evidence
          .map(
            (ev) =>
              `<details><summary>${e(ev.name)}</summary><pre>${e(JSON.stringify(ev.value, null, 2))}</pre></details>`,
          )
          .join('\n');
  const lost =
    m.lostWrites.count === 0
      ? '<p>No acknowledged write was lost.</p>'
      : `<p>${m.lostWrites.count} acknowledged writes missing${m.lostWrites.ids.length < m.lostWrites.count ? ` (first ${m.lostWrites.ids.length} listed)` : ''}:</p><p class="ids">${m.lostWrites.ids.map((id) => `<code>${e(id)}</code>`).join(' ')}</p>`;
  const faults = report.scenario.faults
    .map((f) => `${f.kind} ${f.target} at ${formatSeconds(f.atMs)}`)
    .join('; ');
  const reads =
    m.reads === undefined
      ? ''
      : card(
          'Reads available',
          `${(m.reads.availability * 100).toFixed(1)} %`,
          `${m.reads.samples} reads of ${m.reads.url}`,
          'reads',
        );

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drill report: ${e(report.scenario.id)} (${report.passed ? 'passed' : 'failed'})</title>
<style>
  :root { --ok: #2e7d32; --bad: #c62828; --ink: #1a1a1a; --muted: #5f6368; --line: #dadce0; }
  body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 1040px; padding: 0 1rem; }
  h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
  .meta { color: var(--muted); margin: 0 0 1rem; }
  .overall { display: inline-block; padding: .2rem .7rem; border-radius: 4px; color: #fff; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .overall.pass { background: var(--ok); } .overall.fail { background: var(--bad); }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .75rem; margin: 1rem 0; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .8rem; }
  .card .label { color: var(--muted); font-size: .85rem; } .card .value { font-size: 1.5rem; font-weight: 600; } .card .sub { color: var(--muted); font-size: .8rem; }
  table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
  tr.pass .badge { background: var(--ok); } tr.fail .badge { background: var(--bad); }
  .badge { color: #fff; border-radius: 3px; padding: .05rem .45rem; font-weight: 600; text-transform: uppercase; font-size: .8rem; }
  .chart { width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
  .legend span { margin-right: 1rem; font-size: .85rem; } .sw { display: inline-block; width: .8rem; height: .8rem; vertical-align: -1px; margin-right: .3rem; }
  .findings li.error code { color: var(--bad); } .findings li.warning code { color: #ef6c00; }
  .ids code { font-size: .8rem; margin-right: .3rem; } pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .8rem; }
  @media print { body { margin: 0; max-width: none; } details { page-break-inside: avoid; } details > * { display: block; } }
</style>
</head>
<body>
<header>
<h1>Drill report: ${e(report.scenario.id)} <span class="overall ${report.passed ? 'pass' : 'fail'}" data-testid="overall">${report.passed ? 'passed' : 'failed'}</span></h1>
<p class="meta">Workload <strong>${e(report.workload.name)}</strong>${report.workload.tier === undefined ? '' : ` (tier ${e(report.workload.tier)}, ${e(report.workload.strategy ?? '')})`} · disaster ${e(report.scenario.disaster)} · ${e(report.scenario.type)} drill · runbook ${e(report.scenario.runbook)}<br>
${e(report.startedAt)} → ${e(report.finishedAt)} (${e(formatMs(report.durationMs))})${report.plan === undefined ? '' : ` · plan ${e(report.plan.name)} <code>${e(report.plan.hash.slice(0, 12))}</code>`}${faults === '' ? '' : `<br>Faults: ${e(faults)}`}${report.scenario.description === undefined ? '' : `<br>${e(report.scenario.description)}`}</p>
</header>
<section class="cards">
${card('Detection', formatMs(m.detectionMs), 'fault → detected', 'detection')}
${card('RTO as the client saw it', formatMs(m.rtoMs), `objective ${formatMs(report.targets.rtoMs)}`, 'rto')}
${card('Client outage', formatMs(m.outageMs), 'first failed → first acknowledged write', 'outage')}
${card('Acknowledged writes lost', String(m.lostWrites.count), `${formatMs(m.lostWrites.spanMs)} of data · objective ${formatMs(report.targets.rpoMs)}`, 'lost')}
${card('Writes', `${m.writes.acknowledged} / ${m.writes.sent}`, `acknowledged / sent · ${m.writes.failed} failed`, 'writes')}
${reads}
</section>
<h2>Targets</h2>
<table class="verdicts"><thead><tr><th>Target</th><th>Objective</th><th>Measured</th><th>Result</th><th>Why</th></tr></thead>
<tbody>
${verdictRows}
</tbody></table>
${renderFailback(report)}
${renderSafety(report)}
${dataIntegrityHtml(report.dataIntegrity)}
${rehearsalHtml(report.rehearsal)}
<h2>Canary writes over time</h2>
${renderChart(report)}
<p class="legend"><span><i class="sw" style="background:var(--ok)"></i>acknowledged</span><span><i class="sw" style="background:var(--bad)"></i>failed</span><span><i class="sw" style="background:#1565c0;opacity:.35"></i>runbook step</span></p>
${options.trends ?? ''}
<h2>Timeline</h2>
<table class="timeline"><thead><tr><th>At</th><th>Event</th><th>Step</th><th>Detail</th></tr></thead>
<tbody>
${timelineRows}
</tbody></table>
<h2>Data lost</h2>
${lost}
<h2>Findings</h2>
${findings}
<h2>Evidence</h2>
${evidence}
<footer><p class="meta">drctl drill report · format ${e(report.format)} · id ${e(report.id)}</p></footer>
</body>
</html>
`;
}

/** The guards, the preflight and why the drill was aborted; nothing for a drill without them. */
function renderSafety(report: DrillReport): string {
  const s = report.safety;
  if (s === undefined) return '';
  const e = escapeHtml;
  const aborted =
    s.aborted === undefined
      ? ''
      : `<p class="fail" data-testid="aborted"><strong>Aborted</strong> at ${e(formatMs(s.aborted.atMs))} (${e(s.aborted.by)}): ${e(s.aborted.reason)}. Every fault undone ${s.aborted.undoneMs === undefined ? '' : `${e(formatMs(s.aborted.undoneMs))} later`}.</p>`;
  const guards = s.guards
    .map(
      (g) =>
        `<tr><td>${e(g.name)}</td><td>${g.checks}</td><td>${g.failed}</td><td class="${g.tripped ? 'fail' : 'pass'}">${g.tripped ? 'tripped' : 'held'}</td><td>${e(g.last ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<h2>Safety</h2>
<p class="meta">Environment: ${e(s.environment)} · maximum duration ${e(formatMs(s.maxDurationMs))}${s.preflight.length === 0 ? '' : ` · preflight: ${e(s.preflight.join(', '))}`}</p>
${aborted}
${s.guards.length === 0 ? '' : `<table class="verdicts" data-testid="guards"><thead><tr><th>Guard</th><th>Checks</th><th>Failed</th><th>Result</th><th>Last</th></tr></thead><tbody>${guards}</tbody></table>`}`;
}

const FAILBACK_TARGETS: Record<FailbackVerdict['target'], string> = {
  outage: 'Failback outage (as the client saw it)',
  rpo: 'Acknowledged writes lost (whole drill)',
  run: 'Failback runbook succeeded',
};

/** The failback phase: its verdicts and its steps; nothing when the drill ran without one. */
function renderFailback(report: DrillReport): string {
  const f = report.failback;
  if (f === undefined) return '';
  const e = escapeHtml;
  const measured = (v: FailbackVerdict): string =>
    v.target === 'rpo'
      ? `${f.lostWrites.count} writes, ${formatMs(v.measuredMs)}`
      : v.target === 'run'
        ? `${f.status} in ${formatMs(v.measuredMs)}`
        : formatMs(v.measuredMs);
  const rows = f.verdicts
    .map(
      (v) => `<tr data-verdict="failback-${e(v.target)}" class="${v.pass ? 'pass' : 'fail'}">
  <th scope="row">${e(FAILBACK_TARGETS[v.target])}</th>
  <td>${v.objectiveMs === undefined ? 'none' : e(formatMs(v.objectiveMs))}</td><td>${e(measured(v))}</td>
  <td><span class="badge">${v.pass ? 'pass' : 'fail'}</span></td><td>${e(v.detail)}</td></tr>`,
    )
    .join('\n');
  const steps = f.steps
    .map(
      (s) =>
        `<tr><td class="num">${s.atMs === undefined ? '—' : e(formatSeconds(s.atMs))}</td><td>${e(s.id)}</td><td>${e(s.name)}</td><td>${e(s.status)}</td><td class="num">${e(formatMs(s.durationMs))}</td><td>${e(s.error ?? '')}</td></tr>`,
    )
    .join('\n');
  return `<h2 id="failback">Failback</h2>
<p class="meta">Run ${e(f.runId)} of runbook ${e(f.runbook)}, started by drill, approvals by ${e(f.approvedBy)}; ${e(f.startedAt)} → ${e(f.finishedAt)}. Data checked at ${e(f.dataSite)}${f.servedBy === undefined ? '' : `; the last write was served by ${e(f.servedBy)}`}.</p>
<section class="cards">
${card('Failback duration', formatMs(f.durationMs), 'run start → run end', 'failback-duration')}
${card('Failback outage', formatMs(f.outageMs), 'first failed → first acknowledged write', 'failback-outage')}
${card('Acknowledged writes lost', String(f.lostWrites.count), `whole drill · ${formatMs(f.lostWrites.spanMs)} of data`, 'failback-lost')}
${card('Writes during failback', `${f.writes.acknowledged} / ${f.writes.sent}`, `acknowledged / sent · ${f.writes.failed} failed`, 'failback-writes')}
</section>
<table class="verdicts failback"><thead><tr><th>Target</th><th>Objective</th><th>Measured</th><th>Result</th><th>Why</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<table class="failback-steps"><thead><tr><th>At</th><th>Step</th><th>Name</th><th>Status</th><th>Took</th><th>Error</th></tr></thead>
<tbody>
${steps}
</tbody></table>`;
}

function card(label: string, value: string, sub: string, id: string): string {
  const e = escapeHtml;
  return `<div class="card" data-card="${e(id)}"><div class="label">${e(label)}</div><div class="value">${e(value)}</div><div class="sub">${e(sub)}</div></div>`;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Columns of acknowledged (green, up) and failed (red, down) writes per bucket, with markers and step bands. */
function renderChart(report: DrillReport): string {
  const e = escapeHtml;
  const width = 960;
  const left = 44;
  const right = 12;
  // Room above the bars for three rows of marker labels, so close events do not print over each other.
  const top = 40;
  const barHeight = 70;
  const mid = top + barHeight;
  const steps = stepBands(report.timeline);
  const laneHeight = 14;
  const lanesTop = mid + barHeight + 18;
  const height = lanesTop + Math.max(1, steps.length) * (laneHeight + 4) + 26;
  const span = Math.max(report.durationMs, report.series.bucketMs);
  const x = (ms: number): number => left + (Math.max(0, Math.min(span, ms)) / span) * (width - left - right);
  const maxCount = Math.max(1, ...report.series.buckets.map((b) => Math.max(b.ok, b.failed)));
  const colWidth = Math.max(1, ((width - left - right) * report.series.bucketMs) / span - 0.5);
  const h = (n: number): number => (n / maxCount) * (barHeight - 4);

  const bars = report.series.buckets
    .map((b) => {
      const parts: string[] = [];
      if (b.ok > 0)
        parts.push(
          `<rect class="ok" x="${fx(x(b.at))}" y="${fx(mid - h(b.ok))}" width="${fx(colWidth)}" height="${fx(h(b.ok))}"><title>${e(`${formatSeconds(b.at)}: ${b.ok} acknowledged`)}</title></rect>`,
        );
      if (b.failed > 0)
        parts.push(
          `<rect class="failed" x="${fx(x(b.at))}" y="${fx(mid)}" width="${fx(colWidth)}" height="${fx(h(b.failed))}"><title>${e(`${formatSeconds(b.at)}: ${b.failed} failed`)}</title></rect>`,
        );
      return parts.join('');
    })
    .join('');

  const tickEvery = niceStep(span / 8);
  const ticks: string[] = [];
  for (let t = 0; t <= span; t += tickEvery) {
    ticks.push(
      `<line x1="${fx(x(t))}" x2="${fx(x(t))}" y1="${top}" y2="${lanesTop - 6}" class="grid"/><text x="${fx(x(t))}" y="${height - 8}" text-anchor="middle" class="axis">${e(formatSeconds(t))}</text>`,
    );
  }

  const markers = report.timeline
    .filter((t) => KIND_COLOURS[t.kind] !== undefined)
    .map((t, i) => {
      const colour = KIND_COLOURS[t.kind] ?? '#000';
      const labelY = 11 + (i % 3) * 11;
      return `<g class="marker" data-kind="${e(t.kind)}"><line x1="${fx(x(t.at))}" x2="${fx(x(t.at))}" y1="${top - 4}" y2="${lanesTop - 6}" stroke="${colour}" stroke-width="1.5" stroke-dasharray="4 3"/><text x="${fx(x(t.at) + 3)}" y="${labelY}" fill="${colour}" class="label">${e(t.kind)}</text><title>${e(`${formatSeconds(t.at)} ${t.kind}: ${t.detail}`)}</title></g>`;
    })
    .join('');

  const bands = steps
    .map((s, i) => {
      const y = lanesTop + i * (laneHeight + 4);
      const x1 = x(s.from);
      const x2 = Math.max(x1 + 2, x(s.to));
      return `<g class="step" data-step="${e(s.step)}"><rect x="${fx(x1)}" y="${y}" width="${fx(x2 - x1)}" height="${laneHeight}" class="${s.failed ? 'step-failed' : 'step-ok'}"/><text x="${fx(x2 + 4)}" y="${y + laneHeight - 3}" class="axis">${e(s.step)}</text><title>${e(`${s.step}: ${formatSeconds(s.from)} → ${formatSeconds(s.to)}`)}</title></g>`;
    })
    .join('');

  return `<svg class="chart" data-testid="timeline-chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Canary writes over time: acknowledged above the line, failed below, with the fault, detection, runbook steps and recovery marked" xmlns="http://www.w3.org/2000/svg">
<style>.ok{fill:#2e7d32}.failed{fill:#c62828}.grid{stroke:#eceff1}.axis{font:11px system-ui,sans-serif;fill:#5f6368}.label{font:11px system-ui,sans-serif}.step-ok{fill:#1565c0;opacity:.35}.step-failed{fill:#c62828;opacity:.45}.base{stroke:#9e9e9e}</style>
${ticks.join('')}
<text x="4" y="${top + 10}" class="axis">ok</text><text x="4" y="${mid + barHeight - 4}" class="axis">failed</text>
${bars}
<line x1="${left}" x2="${width - right}" y1="${mid}" y2="${mid}" class="base"/>
${bands}
${markers}
</svg>`;
}

function stepBands(timeline: TimelineEvent[]): { step: string; from: number; to: number; failed: boolean }[] {
  const bands: { step: string; from: number; to: number; failed: boolean }[] = [];
  const open = new Map<string, number>();
  const end = timeline.reduce((max, t) => Math.max(max, t.at), 0);
  for (const t of timeline) {
    if (t.step === undefined) continue;
    const step = t.runbook === 'failback' ? `failback/${t.step}` : t.step;
    if (t.kind === 'step-started') open.set(step, t.at);
    else if (t.kind === 'step-finished' || t.kind === 'step-failed') {
      bands.push({
        step,
        from: open.get(step) ?? t.at,
        to: t.at,
        failed: t.kind === 'step-failed',
      });
      open.delete(step);
    }
  }
  for (const [step, from] of open) bands.push({ step, from, to: end, failed: false });
  return bands.sort((a, b) => a.from - b.from);
}

function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= raw) ?? raw;
}

function fx(n: number): string {
  return n.toFixed(1);
}

/** The rehearsal section: steps left out, pauses and notes, in the order they happened. */
function rehearsalHtml(rehearsal: DrillRehearsalReport | undefined): string {
  if (rehearsal === undefined) return '';
  const e = escapeHtml;
  const lines = [
    ...(rehearsal.steps === undefined
      ? []
      : [
          `Only steps ${rehearsal.steps.spec} ran; left out: ${rehearsal.steps.skipped.join(', ') || 'none'}.`,
        ]),
    ...rehearsal.pauses.map(
      (p) =>
        `${new Date(p.at).toISOString()} paused ${p.reason}; ${p.continuedBy === undefined ? 'never continued' : `continued by ${p.continuedBy} after ${formatMs((p.continuedAt ?? p.at) - p.at)}`}`,
    ),
    ...rehearsal.notes.map((n) => `${new Date(n.at).toISOString()} note from ${n.by}: ${n.text}`),
  ];
  return `<section id="rehearsal"><h2>Rehearsal: steps, pauses and notes</h2>${
    lines.length === 0
      ? '<p>No pauses, no notes.</p>'
      : `<ul>${lines.map((l) => `<li>${e(l)}</li>`).join('')}</ul>`
  }</section>`;
}
