/**
 * `drctl validate`'s quick path as the build made it (`scripts/build.js`): one CommonJS bundle of
 * `quick-validate.ts`, what it imports and the precompiled validators, run with the V8 code cache the
 * build wrote after validating an example through it. The functions a validation runs are then not
 * parsed and compiled again at every start (about a third of the quick path's time). A cache made by
 * another Node is refused by V8, and the bundle is compiled as usual.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as vm from 'node:vm';
import type { Validators, quicklyValidPlan } from './quick-validate.ts';

export interface QuickBundle {
  quicklyValidPlan: typeof quicklyValidPlan;
  validators: Validators;
}

const BUNDLE = fileURLToPath(new URL('./quick-validate.bundle.cjs', import.meta.url));
const CACHE = fileURLToPath(new URL('./quick-validate.bundle.cache', import.meta.url));

/** The bundle, or undefined when there is none (drctl running from its sources). */
export function loadQuickBundle(): QuickBundle | undefined {
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(CACHE);
  } catch {
    // no cache: compiled as usual
  }
  try {
    return run(cachedData).bundle;
  } catch {
    return undefined;
  }
}

/** Build time: validates `plan` once through the bundle, then keeps the code V8 compiled meanwhile. */
export async function writeQuickBundleCache(plan: string): Promise<void> {
  const { bundle, script } = run(undefined);
  if ((await bundle.quicklyValidPlan(plan, bundle.validators)) === undefined)
    throw new Error(`the quick path did not confirm ${plan}`);
  writeFileSync(CACHE, script.createCachedData());
}

function run(cachedData: Buffer | undefined): { bundle: QuickBundle; script: vm.Script } {
  const script = new vm.Script(module.wrap(readFileSync(BUNDLE, 'utf8')), {
    filename: BUNDLE,
    ...(cachedData === undefined ? {} : { cachedData }),
    // the bundle leaves the yaml package (syntax errors) to Node's loader; before Node 20.12 there is
    // no such option, the import fails, and the plan takes the full path
    ...(vm.constants === undefined
      ? {}
      : { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }),
  });
  const exports = {};
  const commonJs = { exports };
  // the CommonJS wrapper: (exports, require, module, __filename, __dirname)
  (script.runInThisContext() as (...args: unknown[]) => void)(
    exports,
    createRequire(BUNDLE),
    commonJs,
    BUNDLE,
    dirname(BUNDLE),
  );
  return { bundle: commonJs.exports as QuickBundle, script };
}
