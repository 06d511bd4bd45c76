/**
 * Per-runbook analysis: dependency waves, the critical path against the workload's RTO and, when the
 * path does not fit, the remedies of seed 000's callouts (automate, parallelise, uplift, extend the RTO).
 */
import type { SourceLocation } from '../errors.ts';
import { formatDuration } from '../plan/duration.ts';
import type { Runbook, RunbookKind, Step, Workload } from '../plan/model.ts';
import type { AnalysisContext } from './context.ts';
import { STRATEGY_STRENGTH, stepComponent, strength } from './context.ts';
import { finding } from './findings.ts';
import type { Finding } from './findings.ts';
import { criticalPath, dependencyWaves } from './graph.ts';
import type { CriticalPath } from './graph.ts';

/** Which remedy of seed 000's callouts a suggestion is. */
export type RemedyKind =
  /** Replace a long manual step (or approval) on the path by an automated one. */
  | 'automate'
  /** Drop an ordering between two path steps that act on unrelated components. */
  | 'parallelise'
  /** Raise the strategy of the components the path recovers (e.g. warm → hot standby). */
  | 'uplift'
  /** Agree a longer RTO with the business. */
  | 'extend-rto';

export interface Remedy {
  kind: RemedyKind;
  message: string;
  /** Steps the remedy is about. */
  steps: string[];
  /** Components the remedy is about (uplift). */
  components: string[];
  /** How much shorter the critical path gets, when it can be computed. */
  savesMs: number | undefined;
}

export interface RunbookAnalysis {
  workload: string;
  runbook: string;
  kind: RunbookKind;
  /** Step ids by wave: everything in one wave can run in parallel once the earlier waves are done. */
  waves: string[][];
  criticalPath: CriticalPath;
  rtoMs: number;
  /** False for failback and custom runbooks: the RTO measures getting service back, not returning home. */
  rtoApplies: boolean;
  /** The critical path, contingency included, is within the RTO. */
  fits: boolean;
  /** How far the critical path goes past the RTO; 0 when it fits. */
  overMs: number;
  /** Empty when it fits. */
  remedies: Remedy[];
  location: SourceLocation;
}

/** Runbooks whose duration the RTO governs. */
const RTO_KINDS: ReadonlySet<RunbookKind> = new Set(['failover', 'restore']);

/** A manual step or approval on the path is worth automating when it takes at least this long… */
const AUTOMATE_MIN_MS = 5 * 60_000;
/** …or at least this share of the whole path. */
const AUTOMATE_MIN_SHARE = 0.1;

export function analyzeRunbook(
  context: AnalysisContext,
  workload: Workload,
  runbook: Runbook,
): RunbookAnalysis {
  const path = criticalPath(runbook.steps);
  const rtoApplies = RTO_KINDS.has(runbook.kind);
  const overMs = Math.max(0, path.ms - workload.rtoMs);
  const fits = overMs === 0;
  return {
    workload: workload.id,
    runbook: runbook.name,
    kind: runbook.kind,
    waves: dependencyWaves(runbook.steps),
    criticalPath: path,
    rtoMs: workload.rtoMs,
    rtoApplies,
    fits,
    overMs,
    remedies: fits ? [] : remedies(context, workload, runbook, path, overMs),
    location: runbook.at,
  };
}

export function rtoFinding(analysis: RunbookAnalysis): Finding | undefined {
  if (!analysis.rtoApplies || analysis.fits) return undefined;
  const { workload, runbook, criticalPath: path } = analysis;
  return finding(
    'DRCTL_RTO_EXCEEDED',
    analysis.location,
    `runbook ${runbook} of workload ${workload} takes ${formatDuration(path.ms)} with contingency along ` +
      `${path.steps.join(' → ')}, ${formatDuration(analysis.overMs)} over its RTO of ${formatDuration(analysis.rtoMs)}`,
    analysis.remedies.map((r) => r.message).join('; '),
    { workload, runbook },
  );
}

/**
 * Steps after which clients move only later (a DNS switch: the TTL). One whose delay alone is not under
 * the RTO can never fit; one that pushes a path that would otherwise fit past the RTO gets the same fix:
 * lower the TTL ahead of time, or switch where clients connect (a proxy) instead of where they resolve.
 */
export function clientDelayFindings(analysis: RunbookAnalysis, runbook: Runbook): Finding[] {
  if (!analysis.rtoApplies) return [];
  const { workload, rtoMs, criticalPath: path } = analysis;
  const fix = (ms: number): string =>
    `lower the TTL to well under the RTO (${formatDuration(Math.max(1000, Math.floor(rtoMs / 10)))} or less) at least one old TTL ahead of any failover, ` +
    `or switch at a proxy layer clients reach by a name that never changes (haproxy.*, router.*) (now ${formatDuration(ms)})`;
  const found: Finding[] = [];
  const delayed = runbook.steps.filter((step) => step.clientsMove !== undefined);
  for (const step of delayed) {
    const clients = step.clientsMove!;
    if (clients.ms >= rtoMs) {
      found.push(
        finding(
          'DRCTL_TTL_EXCEEDS_RTO',
          step.at,
          `step ${step.id} of runbook ${runbook.name}: clients move only after the ${clients.reason}, ${formatDuration(clients.ms)}, not under the RTO of ${formatDuration(rtoMs)} of workload ${workload}`,
          fix(clients.ms),
          { workload, runbook: runbook.name, step: step.id },
        ),
      );
    }
  }
  const onPath = delayed.filter((step) => path.steps.includes(step.id) && step.clientsMove!.ms < rtoMs);
  const delayMs = onPath.reduce((sum, step) => sum + step.clientsMove!.ms, 0);
  if (onPath.length > 0 && path.ms > rtoMs && path.ms - delayMs <= rtoMs) {
    const step = onPath[0]!;
    found.push(
      finding(
        'DRCTL_TTL_MISSES_RTO',
        step.at,
        `runbook ${runbook.name} of workload ${workload} fits its RTO of ${formatDuration(rtoMs)} until clients wait out the ${onPath.map((s) => s.clientsMove!.reason).join(' and ')} after ${onPath.map((s) => s.id).join(', ')}: ${formatDuration(path.ms)} in all`,
        fix(delayMs),
        { workload, runbook: runbook.name, step: step.id },
      ),
    );
  }
  return found;
}

function remedies(
  context: AnalysisContext,
  workload: Workload,
  runbook: Runbook,
  path: CriticalPath,
  overMs: number,
): Remedy[] {
  const byId = new Map(runbook.steps.map((s) => [s.id, s]));
  const onPath = path.steps.map((id) => byId.get(id)).filter((s): s is Step => s !== undefined);
  const found: Remedy[] = [];

  const slow = onPath
    .filter((s) => s.kind === 'manual' || s.kind === 'approval')
    .filter((s) => cost(s) >= AUTOMATE_MIN_MS || cost(s) >= path.ms * AUTOMATE_MIN_SHARE)
    .sort((a, b) => cost(b) - cost(a));
  if (slow.length > 0) {
    found.push({
      kind: 'automate',
      message: slow
        .map((s) =>
          s.kind === 'approval'
            ? `shorten approval ${s.id} (${formatDuration(cost(s))}) with pre-agreed criteria or a smaller quorum`
            : `automate manual step ${s.id} (${formatDuration(cost(s))})`,
        )
        .join(', '),
      steps: slow.map((s) => s.id),
      components: [],
      savesMs: undefined,
    });
  }

  const parallel = parallelisable(context, onPath);
  if (parallel.length > 0) {
    const shorter = criticalPath(withoutOrderings(runbook.steps, parallel));
    found.push({
      kind: 'parallelise',
      message:
        `run ${parallel.map(([before, after]) => `${after} alongside ${before}`).join(', ')} ` +
        `(their components do not depend on each other; saves ${formatDuration(path.ms - shorter.ms)})`,
      steps: [...new Set(parallel.flat())],
      components: [],
      savesMs: path.ms - shorter.ms,
    });
  }

  const touched = [...new Set(onPath.map(stepComponent).filter((id): id is string => id !== undefined))]
    .map((id) => context.components.get(id))
    .filter((c) => c !== undefined && strength(c.strategy) < strength('hot-standby'));
  const workloadCanRise = strength(workload.strategy) < strength('hot-standby');
  if (touched.length > 0 || workloadCanRise) {
    const current = touched[0]?.strategy ?? workload.strategy;
    const next = STRATEGY_STRENGTH[strength(current) + 1] ?? 'hot-standby';
    const what = touched.length > 0 ? touched.map((c) => c?.id).join(', ') : `workload ${workload.id}`;
    found.push({
      kind: 'uplift',
      message: `uplift ${what} from ${current} to ${next} or stronger so that less is provisioned or restored on the day`,
      steps: [],
      components: touched.map((c) => c?.id ?? ''),
      savesMs: undefined,
    });
  }

  found.push({
    kind: 'extend-rto',
    message: `agree an RTO of at least ${formatDuration(roundUpToMinute(path.ms))} with the business (${formatDuration(overMs)} more)`,
    steps: [],
    components: [],
    savesMs: undefined,
  });
  return found;
}

function cost(step: Step): number {
  return step.expectedMs + step.contingencyMs;
}

function roundUpToMinute(ms: number): number {
  return Math.ceil(ms / 60_000) * 60_000;
}

/**
 * Orderings on the path that no data dependency forces: consecutive path steps where the later step
 * needs the earlier one, both act on a component (`with.component`), the components differ, and the
 * later component does not depend (directly or through others) on the earlier one. Approvals are
 * never parallelised away: they gate on purpose.
 */
function parallelisable(context: AnalysisContext, onPath: readonly Step[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 1; i < onPath.length; i++) {
    const before = onPath[i - 1] as Step;
    const after = onPath[i] as Step;
    if (before.kind === 'approval' || after.kind === 'approval' || !after.needs.includes(before.id)) continue;
    const a = stepComponent(before);
    const b = stepComponent(after);
    if (a === undefined || b === undefined || a === b) continue;
    if (!context.components.has(a) || !context.components.has(b)) continue;
    if (componentDependsOn(context, b, a)) continue;
    pairs.push([before.id, after.id]);
  }
  return pairs;
}

function componentDependsOn(context: AnalysisContext, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (id === to && id !== from) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const dep of context.components.get(id)?.dependsOn ?? []) stack.push(dep);
  }
  return false;
}

/** The steps with the given orderings dropped; the later step keeps what the earlier one waited for. */
function withoutOrderings(steps: readonly Step[], pairs: ReadonlyArray<[string, string]>): Step[] {
  const needsOf = new Map(steps.map((s) => [s.id, s.needs]));
  const drop = new Map<string, Set<string>>();
  for (const [before, after] of pairs) drop.set(after, (drop.get(after) ?? new Set()).add(before));
  return steps.map((step) => {
    const dropped = drop.get(step.id);
    if (dropped === undefined) return step;
    const needs = new Set(step.needs.filter((n) => !dropped.has(n)));
    for (const n of dropped) for (const inherited of needsOf.get(n) ?? []) needs.add(inherited);
    return { ...step, needs: [...needs] };
  });
}
