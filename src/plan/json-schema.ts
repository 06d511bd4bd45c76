/** The plan schema as JSON Schema, for editors (`drctl schema`, committed as schema/plan.schema.json). */
import { z } from 'zod';
import { PlanFile } from './schema.ts';

export function planJsonSchema(): Record<string, unknown> {
  // io 'input': the schema describes what people write, before durations and dates are compiled
  const schema = z.toJSONSchema(PlanFile, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://drctl.dev/schema/plan.schema.json',
    title: 'drctl plan',
    description: 'A disaster-recovery plan: sites, contacts, workloads, components, runbooks and drills.',
  };
}
