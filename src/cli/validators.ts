/**
 * Build time: the source of the validators `scripts/build.js` bundles with `quick-validate.ts`: the plan
 * schema and the parameters of every provider action and check precompiled into plain functions
 * (`plan/precompile.ts`), which `quick-validate.ts` runs without loading zod or the providers.
 */
import type { z } from 'zod';
import { precompileValidators } from '../plan/precompile.ts';
import { PlanFile } from '../plan/schema.ts';
import { providers } from '../providers/index.ts';

/** The module's source; keys are `plan`, `action:<provider>.<action>` and `check:<provider>.<check>`. */
export function validatorsSource(rulesUrl = '../plan/rules.js'): string {
  const schemas: Record<string, z.ZodType> = { plan: PlanFile };
  for (const provider of providers) {
    for (const kind of ['action', 'check'] as const) {
      for (const [name, declared] of Object.entries(kind === 'action' ? provider.actions : provider.checks))
        if (referencesAsWritten(declared.params))
          schemas[`${kind}:${provider.name}.${name}`] = declared.params;
    }
  }
  return precompileValidators(schemas, rulesUrl);
}

/**
 * The quick path checks `component` and `site` parameters against the plan as written; that holds only
 * when the schema neither defaults nor transforms them. Actions where it would not stay on zod's path.
 */
function referencesAsWritten(params: z.ZodType): boolean {
  const shape = (params as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
  return ['component', 'site'].every((key) => {
    let node = shape[key]?._zod.def;
    while (node?.type === 'optional') node = (node as unknown as { innerType: z.ZodType }).innerType._zod.def;
    return node === undefined || node.type === 'string';
  });
}
