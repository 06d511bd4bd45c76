/**
 * Loading a plan for a command: the plan layer's loader plus the checks that need the provider registry
 * (action names and their parameters), so a wrong parameter is a positioned plan error before anything runs.
 */
import type { PlanInvalidError } from '../errors.ts';
import { loadPlan, type Plan } from '../plan/index.ts';
import { checkStepActions, providers } from '../providers/index.ts';

export async function loadPlanForCommand(file: string): Promise<Plan> {
  return loadPlan(file, { checks: [(plan) => checkStepActions(plan, providers)] });
}

/** A plan's problems as `--json` prints them: one object per problem, with its location flattened in. */
export function problemsAsJson(error: PlanInvalidError): Array<Record<string, unknown>> {
  return error.problems.map((p) => ({ code: p.code, message: p.message, hint: p.hint, ...p.location }));
}
