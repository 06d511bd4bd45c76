// The validators precompiled from the zod schemas (what `drctl validate` runs first) against zod itself:
// on every example and on many bad variants of them, a precompiled validator never accepts what zod
// refuses, and accepts the examples as zod does; a plan it confirms is the plan the full path loads.
import { readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { loadPlanForCommand } from '../../src/cli/load-plan.ts';
import { quicklyValidPlan, type Validators } from '../../src/cli/quick-validate.ts';
import { validatorsSource } from '../../src/cli/validators.ts';
import { PlanFile } from '../../src/plan/schema.ts';
import { readSourceFile } from '../../src/plan/source.ts';
import { providers } from '../../src/providers/index.ts';
import { tempDir } from '../support/tmp.ts';

const EXAMPLES = readdirSync('examples', { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => join('examples', entry.name, 'plan.yaml'));

const HOSTILE: unknown[] = [
  '',
  '0s',
  '1.5.5s',
  `1${'0'.repeat(40)}s`,
  '2026-02-31',
  'no spaces allowed!',
  '999999:1',
  -1,
  0,
  0.5,
  1e300,
  70_000,
  null,
  true,
  [],
  {},
  [{}],
  new Date('2026-03-01'),
];

let validators: Validators;

beforeAll(async () => {
  const dir = tempDir('drctl-precompiled-');
  const file = join(dir, 'validators.mjs');
  writeFileSync(file, validatorsSource(pathToFileURL(resolve('src/plan/rules.ts')).href));
  ({ validators } = (await import(pathToFileURL(file).href)) as { validators: Validators });
});

/** Deterministic variants of `value`: each scalar replaced, each key removed, an unknown key added. */
function* variants(value: unknown, count: number, seed: number): Generator<unknown> {
  let state = seed >>> 0;
  const next = (n: number): number => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return Math.floor((state / 2 ** 32) * n);
  };
  const paths: Array<Array<string | number>> = [];
  const walk = (node: unknown, path: Array<string | number>): void => {
    paths.push(path);
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, i]));
    else if (node !== null && typeof node === 'object' && !(node instanceof Date))
      for (const [key, child] of Object.entries(node)) walk(child, [...path, key]);
  };
  walk(value, []);
  for (let i = 0; i < count; i++) {
    const copy = structuredClone(value) as Record<string | number, unknown>;
    const path = paths[next(paths.length)]!;
    if (path.length === 0) continue;
    const parent = path
      .slice(0, -1)
      .reduce<Record<string | number, unknown>>(
        (node, key) => node[key] as Record<string | number, unknown>,
        copy,
      );
    const key = path[path.length - 1]!;
    const roll = next(10);
    if (roll === 0 && !Array.isArray(parent)) delete parent[key];
    else if (roll === 1 && typeof parent[key] === 'object' && parent[key] !== null)
      (parent[key] as Record<string, unknown>).unknown_key = 1;
    else parent[key] = HOSTILE[next(HOSTILE.length)];
    yield copy;
  }
}

function expectAgreement(name: string, schema: z.ZodType, value: unknown): boolean {
  const zod = schema.safeParse(value).success;
  const precompiled = validators[name]!(value);
  // accepting what zod refuses would let a wrong plan through; the reverse only costs the quick path
  if (precompiled) expect(zod, `${name} accepted ${JSON.stringify(value)?.slice(0, 300)}`).toBe(true);
  return zod === precompiled;
}

describe('the precompiled plan validator', () => {
  it('accepts every example and never accepts a variant that zod refuses', async () => {
    let agreed = 0;
    let total = 0;
    for (const [index, file] of EXAMPLES.entries()) {
      const { source } = await readSourceFile(file, file);
      expect(validators.plan!(source!.value)).toBe(true);
      for (const variant of variants(source!.value, 120, index + 1)) {
        total += 1;
        if (expectAgreement('plan', PlanFile, variant)) agreed += 1;
      }
    }
    // both ways on nearly all: the refinements are the same functions
    expect(agreed / total).toBeGreaterThan(0.99);
  });

  it("agrees with every provider action's parameter schema on the examples' calls and variants", async () => {
    for (const [index, file] of EXAMPLES.entries()) {
      const plan = await loadPlanForCommand(file);
      for (const step of plan.workloads.flatMap((w) => w.runbooks.flatMap((r) => r.steps))) {
        if (step.call === undefined) continue;
        const name = `action:${step.call.provider}.${step.call.name}`;
        const schema = providers.find((p) => p.name === step.call!.provider)!.actions[step.call.name]!.params;
        expect(validators[name]!(step.call.params), name).toBe(schema.safeParse(step.call.params).success);
        for (const variant of variants(step.call.params, 30, index + 7))
          expectAgreement(name, schema, variant);
      }
    }
  });

  it('confirms each example as the same plan the full path loads', async () => {
    for (const file of EXAMPLES) {
      const full = await loadPlanForCommand(file);
      for (const step of full.workloads.flatMap((w) => w.runbooks.flatMap((r) => r.steps)))
        delete step.clientsMove;
      expect(await quicklyValidPlan(file, validators)).toEqual(full);
    }
  });

  it('leaves a plan with a problem to the full path', async () => {
    const dir = tempDir('drctl-precompiled-plan-');
    const file = join(dir, 'plan.yaml');
    writeFileSync(file, 'version: 1\nname: x\nworkloads: []\ntiers: 3\n');
    expect(await quicklyValidPlan(file, validators)).toBeUndefined();
    expect(await quicklyValidPlan(join(dir, 'missing.yaml'), validators)).toBeUndefined();
  });
});
