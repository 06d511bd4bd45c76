/**
 * `drctl validate`'s quick path: the plan checked by the validators the build precompiled from the
 * schemas (`validators.ts`), so a valid plan is confirmed without loading zod or the providers. The
 * build bundles this module, its imports and the validators into one file (`scripts/build.js`), which
 * loads in one read. It only ever says "valid": a plan it cannot vouch for (any problem, or a file it
 * cannot read) gives undefined, and the command takes the full path, which finds and positions every
 * problem; so what people read about a wrong plan comes from one place.
 */
import { callName } from '../plan/calls.ts';
import { loadPlan } from '../plan/load.ts';
import type { Plan } from '../plan/model.ts';
import type { PlanFileInput } from '../plan/schema.ts';
import { checkReferences, providerCalls } from '../providers/validate-params.ts';

/** What `validators.ts` generates: `plan`, `action:<provider>.<action>`, `check:<provider>.<check>`. */
export type Validators = Record<string, (value: unknown) => boolean>;

/** Thrown from inside the loader to leave the quick path; never seen outside this module. */
class NotVouched extends Error {}

/**
 * The plan, when `validators` accept it and it compiles without a problem; else undefined. Steps carry
 * no `clientsMove` (that needs the providers): `validate` does not show it.
 */
export async function quicklyValidPlan(file: string, validators: Validators): Promise<Plan | undefined> {
  try {
    return await loadPlan(file, {
      validate: (source) => {
        const value = source.value ?? {};
        if (!validators.plan?.(value)) throw new NotVouched();
        return value as PlanFileInput;
      },
      checks: [(plan) => callsValid(plan, validators)],
    });
  } catch {
    return undefined;
  }
}

function callsValid(plan: Plan, validators: Validators): [] {
  for (const { kind, call, where, location } of providerCalls(plan)) {
    const key = `${kind}:${call.provider}.${call.name}`;
    if (!Object.hasOwn(validators, key) || !validators[key]!(call.params)) throw new NotVouched();
    if (checkReferences(kind, callName(call), call.params, where, location, plan).length > 0)
      throw new NotVouched();
  }
  return [];
}
