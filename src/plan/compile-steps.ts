/**
 * Runbooks and their steps: each step's kind (it does exactly one thing), its durations and defaults,
 * its action (or `run:`) compiled once into a provider call, its checks, and the graph of its `needs`
 * (known steps, no cycle).
 */
import type { SourceLocation } from '../errors.ts';
import { STEP_DEFAULTS } from './defaults.ts';
import type { Check, ProviderCall, Runbook, RunbookKind, Step, StepKind } from './model.ts';
import type { CheckInput, StepInput, WorkloadInput } from './schema.ts';
import { RUNBOOK_KINDS, RUN_SHORTHAND } from './terms.ts';
import { providerCall } from './calls.ts';
import { findCycle } from './cycle.ts';
import type { PathSegment } from './source.ts';
import { duplicates, optMs, reportUnknown, type Locator, type Report } from './compile-context.ts';

/** A workload's runbooks; `at` positions within the workload. */
export function compileRunbooks(input: WorkloadInput, at: Locator, report: Report): Runbook[] {
  return Object.entries(input.runbooks ?? {}).map(([name, runbook]): Runbook => {
    const kind: RunbookKind =
      runbook.kind ??
      ((RUNBOOK_KINDS as readonly string[]).includes(name) ? (name as RunbookKind) : 'custom');
    const rat = (...p: PathSegment[]): SourceLocation => at('runbooks', name, ...p);
    const steps = runbook.steps.map((step, i) => compileStep(step, (...p) => rat('steps', i, ...p), report));
    checkSteps(steps, name, input.id, report);
    return {
      workload: input.id,
      name,
      kind,
      description: runbook.description,
      prerequisites: runbook.prerequisites ?? [],
      postRequisites: runbook.post_requisites ?? [],
      steps,
      at: rat(),
    };
  });
}

const STEP_KINDS: Array<[keyof StepInput, StepKind]> = [
  ['run', 'shell'],
  ['action', 'action'],
  ['manual', 'manual'],
  ['approval', 'approval'],
  ['wait', 'wait'],
];

function compileStep(input: StepInput, at: Locator, report: Report): Step {
  const present = STEP_KINDS.filter(([key]) => input[key] !== undefined);
  let kind: StepKind = present[0]?.[1] ?? 'check';
  if (present.length > 1) {
    report(
      'DRCTL_PLAN_STEP_KIND',
      `step ${input.id} has ${present.map(([k]) => k).join(' and ')}; a step does exactly one thing`,
      at(present[1]![0]),
      'split it into several steps joined by needs',
    );
  } else if (present.length === 0 && (input.validate ?? []).length === 0) {
    report(
      'DRCTL_PLAN_STEP_EMPTY',
      `step ${input.id} does nothing`,
      at(),
      'give it one of run, action, manual, approval, wait, or validate checks',
    );
    kind = 'manual';
  }
  if (input.wait && input.wait.for === undefined && input.wait.until === undefined) {
    report(
      'DRCTL_PLAN_STEP_WAIT',
      `step ${input.id} waits for nothing`,
      at('wait'),
      'give wait a duration (for: 30s) or a check (until: ...)',
    );
  }
  const retries = typeof input.retries === 'number' ? { attempts: input.retries } : input.retries;
  return {
    id: input.id,
    name: input.name ?? input.id,
    description: input.description,
    kind,
    needs: input.needs ?? [],
    prerequisite: input.prerequisite,
    owner: input.owner,
    expectedMs: optMs(input.expected) ?? STEP_DEFAULTS.expectedMs,
    contingencyMs: optMs(input.contingency) ?? STEP_DEFAULTS.contingencyMs,
    timeoutMs: optMs(input.timeout),
    retries: {
      attempts: retries?.attempts ?? 0,
      backoffMs:
        optMs(retries && 'backoff' in retries ? retries.backoff : undefined) ?? STEP_DEFAULTS.backoffMs,
      maxBackoffMs:
        optMs(retries && 'max_backoff' in retries ? retries.max_backoff : undefined) ??
        STEP_DEFAULTS.maxBackoffMs,
    },
    idempotent: input.idempotent ?? false,
    run: input.run,
    action: input.action,
    call:
      kind === 'shell' && input.run !== undefined
        ? runCall(input.run, input.with ?? {}, 'action')
        : kind === 'action' && input.action !== undefined
          ? providerCall(input.action, input.with ?? {})
          : undefined,
    with: input.with ?? {},
    manual: input.manual,
    approval: input.approval && {
      by: input.approval.by ?? [],
      role: input.approval.role,
      quorum: input.approval.quorum ?? 1,
      fourEyes: input.approval.four_eyes ?? true,
    },
    wait: input.wait && {
      forMs: optMs(input.wait.for),
      until: input.wait.until && compileCheck(input.wait.until, (...p) => at('wait', 'until', ...p)),
      everyMs: optMs(input.wait.every) ?? STEP_DEFAULTS.waitEveryMs,
      deadlineMs: optMs(input.wait.deadline),
    },
    validate: (input.validate ?? []).map((c, i) => compileCheck(c, (...p) => at('validate', i, ...p))),
    evidence: input.evidence ?? [],
    onFailure: input.on_failure ?? 'abort',
    escalateTo: input.escalate_to,
    controlPlane: input.control_plane,
    undo: input.undo && {
      call: callOf(input.undo, input.undo.with ?? {}),
      run: input.undo.run,
      action: input.undo.action,
      with: input.undo.with ?? {},
      description: input.undo.description,
    },
    at: at(),
  };
}

function compileCheck(input: CheckInput, at: Locator): Check {
  const http = typeof input.http === 'string' ? { url: input.http } : input.http;
  const name =
    input.name ?? input.run ?? (http ? `GET ${http.url}` : undefined) ?? input.sql ?? input.check ?? 'check';
  return {
    name,
    run: input.run,
    http: http && {
      url: http.url,
      method: ('method' in http ? http.method : undefined) ?? 'GET',
      status: ('status' in http ? http.status : undefined) ?? 200,
      bodyContains: 'body_contains' in http ? http.body_contains : undefined,
      json: 'json' in http ? http.json : undefined,
      latencyMs: optMs('latency' in http ? http.latency : undefined),
    },
    sql: input.sql,
    check: input.check,
    component: input.component,
    site: input.site,
    with: input.with ?? {},
    call:
      input.run !== undefined
        ? runCall(input.run, {}, 'check')
        : input.check === undefined
          ? undefined
          : providerCall(input.check, {
              ...input.with,
              ...(input.component ? { component: input.component } : {}),
              ...(input.site ? { site: input.site } : {}),
            }),
    expect: input.expect,
    timeoutMs: optMs(input.timeout) ?? STEP_DEFAULTS.checkTimeoutMs,
    evidence: input.evidence,
    at: at(),
  };
}

/** What `run:` stands for, in a step (`kind: 'action'`) or a check (`kind: 'check'`): the schema's shorthand. */
function runCall(command: string, params: Record<string, unknown>, kind: 'action' | 'check'): ProviderCall {
  return {
    provider: RUN_SHORTHAND.provider,
    name: RUN_SHORTHAND[kind],
    params: { [RUN_SHORTHAND.param]: command, ...params },
  };
}

/** The call of an undo's `run:` or `action:`, whichever is given. */
function callOf(
  given: { run?: string | undefined; action?: string | undefined },
  params: Record<string, unknown>,
): ProviderCall | undefined {
  if (given.run !== undefined) return runCall(given.run, params, 'action');
  return given.action === undefined ? undefined : providerCall(given.action, params);
}

/** Step ids unique in their runbook, `needs` naming known steps, and no cycle through `needs`. */
function checkSteps(steps: Step[], runbook: string, workload: string, report: Report): void {
  duplicates(steps, `step of runbook ${workload}/${runbook}`, report);
  const ids = steps.map((s) => s.id);
  for (const step of steps) {
    for (const need of step.needs) {
      if (need === step.id)
        report('DRCTL_PLAN_CYCLE', `step ${step.id} needs itself`, step.at, 'remove it from its own needs');
      else if (!ids.includes(need))
        reportUnknown('step', need, ids, step.at, `needs of step ${step.id}`, report);
    }
  }
  const byId = new Map(steps.map((s) => [s.id, s]));
  const cycle = findCycle(ids, (id) => (byId.get(id)?.needs ?? []).filter((n) => byId.has(n) && n !== id));
  if (cycle) {
    report(
      'DRCTL_PLAN_CYCLE',
      `steps of runbook ${workload}/${runbook} need each other in a cycle: ${cycle.join(' → ')}`,
      byId.get(cycle[0]!)!.at,
      'remove one of the needs so the steps can run in an order',
    );
  }
}
