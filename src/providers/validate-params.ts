/**
 * Plan-time validation of provider parameters: every `action:` of a step or an undo, and every
 * `check:` of a validation or a wait, must name a known provider action or check, and its `with:` must
 * match that action's schema. A typo becomes a positioned plan problem, not a failed step at 3 a.m.
 */
import type { z } from 'zod';
import type { PlanProblem, SourceLocation } from '../errors.ts';
import { callName } from '../plan/calls.ts';
import type { Check, Plan, ProviderCall, Step } from '../plan/model.ts';
import { closest } from '../plan/closest.ts';
import type { Provider } from './provider.ts';

export type Kind = 'action' | 'check';

const CODES = {
  action: { unknown: 'DRCTL_PLAN_ACTION_UNKNOWN', params: 'DRCTL_PLAN_ACTION_PARAMS' },
  check: { unknown: 'DRCTL_PLAN_CHECK_UNKNOWN', params: 'DRCTL_PLAN_CHECK_PARAMS' },
} as const;

/** Problems with the provider actions and checks a plan uses; empty when all of them are right. */
export function checkStepActions(plan: Plan, providers: readonly Provider[]): PlanProblem[] {
  const problems: PlanProblem[] = [];
  for (const { kind, call, where, location, step } of providerCalls(plan)) {
    const found = checkOne(plan, kind, call, where, location, providers);
    problems.push(...found);
    if (found.length === 0 && step !== undefined) compileClientsMove(step, call, providers);
  }
  return problems;
}

/** A provider action or check a plan calls, where, and the step whose own action it is. */
export interface PlannedCall {
  kind: Kind;
  call: ProviderCall;
  where: string;
  location: SourceLocation;
  step?: Step;
}

/**
 * Every `action:` of a step or an undo, and every `check:` of a validation or a wait. What `run:`
 * stands for is checked when it runs.
 */
export function* providerCalls(plan: Plan): Generator<PlannedCall> {
  for (const workload of plan.workloads) {
    for (const runbook of workload.runbooks) {
      for (const step of runbook.steps) {
        const where = `step ${step.id} of runbook ${workload.id}/${runbook.name}`;
        if (step.action !== undefined && step.call !== undefined)
          yield { kind: 'action', call: step.call, where, location: step.at, step };
        if (step.undo?.action !== undefined && step.undo.call !== undefined)
          yield { kind: 'action', call: step.undo.call, where: `the undo of ${where}`, location: step.at };
        for (const check of checksOf(step)) {
          if (check.check === undefined || check.call === undefined) continue;
          yield {
            kind: 'check',
            call: check.call,
            where: `check "${check.name}" of ${where}`,
            location: check.at,
          };
        }
      }
    }
  }
}

/** Records on the step how long after it clients move, when its action declares that (a DNS TTL). */
function compileClientsMove(step: Step, call: ProviderCall, providers: readonly Provider[]): void {
  const action = providers.find((p) => p.name === call.provider)?.actions[call.name];
  if (action?.clientsMove === undefined) return;
  const parsed = action.params.safeParse(call.params);
  const clients = parsed.success ? action.clientsMove(parsed.data) : undefined;
  if (clients === undefined) delete step.clientsMove;
  else step.clientsMove = clients;
}

function checksOf(step: Step): Check[] {
  return step.wait?.until === undefined ? step.validate : [...step.validate, step.wait.until];
}

function checkOne(
  plan: Plan,
  kind: Kind,
  call: ProviderCall,
  where: string,
  location: SourceLocation,
  providers: readonly Provider[],
): PlanProblem[] {
  const { name, params } = call;
  const ref = callName(call);
  const provider = providers.find((p) => p.name === call.provider);
  const declared =
    provider === undefined ? undefined : kind === 'action' ? provider.actions[name] : provider.checks[name];
  if (
    declared === undefined ||
    !Object.hasOwn(kind === 'action' ? provider!.actions : provider!.checks, name)
  ) {
    const known = providers.flatMap((p) =>
      Object.keys(kind === 'action' ? p.actions : p.checks).map((n) => `${p.name}.${n}`),
    );
    const suggestion = closest(ref, known);
    return [
      {
        code: CODES[kind].unknown,
        message: `${where}: unknown ${kind} "${ref}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
        hint:
          suggestion !== undefined
            ? `write ${kind}: ${suggestion}`
            : `known ${kind}s: ${known.sort().join(', ') || 'none'}`,
        location,
      },
    ];
  }
  const parsed = (declared.params as z.ZodType).safeParse(params);
  if (parsed.success) return checkReferences(kind, ref, parsed.data, where, location, plan);
  return parsed.error.issues.map((issue) => {
    const parameter = describeParameter(issue);
    return {
      code: CODES[kind].params,
      message: `${where}: ${ref} ${parameter === undefined ? '' : `parameter "${parameter}" `}${issueText(issue)}`,
      hint: `the parameters of ${ref} are: ${parameterNames(declared.params).join(', ') || 'none'}`,
      location,
    };
  });
}

/**
 * Parameters named `component` and `site` are, by convention across providers, ids in the plan: a
 * misspelt one is caught here rather than when the step runs.
 */
export function checkReferences(
  kind: Kind,
  ref: string,
  data: unknown,
  where: string,
  location: SourceLocation,
  plan: Plan,
): PlanProblem[] {
  if (data === null || typeof data !== 'object') return [];
  const values = data as Record<string, unknown>;
  const known = {
    component: plan.workloads.flatMap((w) => w.components.map((c) => c.id)),
    site: plan.sites.map((s) => s.id),
  };
  const problems: PlanProblem[] = [];
  for (const parameter of ['component', 'site'] as const) {
    const value = values[parameter];
    if (typeof value !== 'string' || known[parameter].includes(value)) continue;
    const suggestion = closest(value, known[parameter]);
    problems.push({
      code: CODES[kind].params,
      message: `${where}: ${ref} parameter "${parameter}" names no ${parameter} "${value}"${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`,
      hint: `known ${parameter}s: ${known[parameter].join(', ') || 'none'}`,
      location,
    });
  }
  return problems;
}

/** The parameter an issue is about; for an unknown key, the key itself. */
function describeParameter(issue: z.core.$ZodIssue): string | undefined {
  if (issue.code === 'unrecognized_keys') return issue.keys.join('", "');
  return issue.path.length === 0 ? undefined : issue.path.map(String).join('.');
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return 'is not a parameter of this action';
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) return 'is required';
  const text = issue.message.replace(/^Invalid input: /, '');
  return `is invalid: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}

/** Top-level parameter names of an object schema, for the hint. */
function parameterNames(schema: z.ZodType): string[] {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  return shape === undefined ? [] : Object.keys(shape);
}
