/**
 * Loading a plan for a command: the plan layer's loader plus the checks that need the provider registry
 * (action names and their parameters), so a wrong parameter is a positioned plan error before anything runs.
 */
import { loadPlan, type Plan } from '../plan/index.ts';
import { checkStepActions, providers } from '../providers/index.ts';

export async function loadPlanForCommand(file: string): Promise<Plan> {
  return loadPlan(file, { checks: [(plan) => checkStepActions(plan, providers)] });
}
