/** Loading a plan for a command: the plan layer's loader plus the checks that need the provider registry. */
import { loadPlan, type Plan } from '../plan/index.ts';

export async function loadPlanForCommand(file: string): Promise<Plan> {
  return loadPlan(file);
}
