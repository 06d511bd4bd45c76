// Generated bad plans: every example, with one value at a time replaced by something hostile (a number
// with 310 digits, a date that does not exist, a zero interval, an escape sequence, a missing key...).
// Whatever the plan says, drctl keeps its contract: exit code 0 or 1, no stack trace, no `undefined`,
// `NaN` or `Infinity` in what it prints, and exactly one JSON document on stdout with --json.
import { cpSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { loadPlan } from '../../src/plan/index.ts';
import { runCli, type CliResult } from '../support/cli.ts';
import { tempDir } from '../support/tmp.ts';

const EXAMPLES = readdirSync('examples', { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** Values people (or a fuzzer) write where a plan expects something sane, by what is there now. */
const HOSTILE = {
  duration: [`1${'0'.repeat(309)}s`, '99999999999999999999w', '0s', '0ms', '1.5.5s', '-1s'],
  date: ['2026-02-31', '1', '2026-13-01', '99999-01-01', '2026-02-29'],
  number: [1e300, -1, 0, 0.5, 70_000, 1_000_000_000],
  any: [
    '',
    '\u001b[2J\u001b]0;owned\u0007',
    '__proto__',
    'x'.repeat(5_000),
    null,
    true,
    [],
    {},
    { nested: { deeper: [1, 2, 3] } },
  ] as unknown[],
};

function hostileFor(current: unknown): unknown[] {
  const text = String(current);
  if (typeof current === 'number') return [...HOSTILE.number, ...HOSTILE.any];
  if (/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(text))
    return [...HOSTILE.duration, ...HOSTILE.duration, ...HOSTILE.any];
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) return [...HOSTILE.date, ...HOSTILE.date, ...HOSTILE.any];
  return HOSTILE.any;
}

/** A small deterministic generator, so a failure names a mutation that can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

type Path = Array<string | number>;

/** Every scalar's path and value in the document, and every mapping key's path. */
function pathsOf(text: string): { values: Array<{ path: Path; value: unknown }>; keys: Path[] } {
  const values: Array<{ path: Path; value: unknown }> = [];
  const keys: Path[] = [];
  visit(parseDocument(text), {
    Pair(_, pair, ancestry) {
      const path = pathTo(ancestry);
      if (isScalar(pair.key)) keys.push([...path, String(pair.key.value)]);
    },
    Scalar(key, node, ancestry) {
      if (key === 'key') return;
      values.push({ path: pathTo(ancestry), value: node.value });
    },
  });
  return { values, keys };
}

function pathTo(ancestry: readonly unknown[]): Path {
  const path: Path = [];
  for (const [index, node] of ancestry.entries()) {
    const child = ancestry[index + 1];
    if (isSeq(node) && child !== undefined) path.push(node.items.indexOf(child as never));
    if (isMap(node) && child !== undefined) {
      const pair = child as { key: unknown };
      if (isScalar(pair.key)) path.push(String(pair.key.value));
    }
  }
  return path;
}

interface Mutation {
  file: string;
  describe: string;
  apply: (text: string) => string;
}

/** Mutations of the files plan.yaml is made of (a variant beside it, never loaded, would test nothing). */
function mutations(example: string, files: readonly string[], count: number, seed: number): Mutation[] {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const result: Mutation[] = [];
  for (let i = 0; i < count; i++) {
    const file = pick(files);
    const { values, keys } = pathsOf(readFileSync(join('examples', example, file), 'utf8'));
    const roll = next();
    if (roll < 0.15 && keys.length > 0) {
      const path = pick(keys);
      result.push({
        file,
        describe: `${file}: delete ${path.join('.')}`,
        apply: (text) => edit(text, (doc) => doc.deleteIn(path)),
      });
    } else if (roll < 0.25 && keys.length > 0) {
      const path = pick(keys);
      result.push({
        file,
        describe: `${file}: rename ${path.join('.')} to __proto__`,
        apply: (text) =>
          edit(text, (doc) => {
            const value: unknown = doc.getIn(path, true);
            doc.deleteIn(path);
            doc.setIn([...path.slice(0, -1), '__proto__'], value);
          }),
      });
    } else {
      const { path, value: current } = pick(values);
      const value = pick(hostileFor(current));
      result.push({
        file,
        describe: `${file}: ${path.join('.')} = ${JSON.stringify(value)?.slice(0, 40)}`,
        apply: (text) => edit(text, (doc) => doc.setIn(path, value)),
      });
    }
  }
  return result;
}

function edit(text: string, change: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(text);
  change(doc);
  return doc.toString({ lineWidth: 0 });
}

/** What every command owes its user, however bad the plan. */
function expectContract(result: CliResult, json: boolean, allowed: readonly number[] = [0, 1]): void {
  const printed = `${result.stdout}\n${result.stderr}`;
  expect(allowed, printed.slice(0, 2_000)).toContain(result.code);
  expect(printed).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(printed).not.toMatch(/\bundefined\b|\bNaN\b|\bInfinity\b/);
  expect(printed).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
  if (json) expect(() => JSON.parse(result.stdout), result.stdout.slice(0, 2_000)).not.toThrow();
}

describe.each(EXAMPLES)('mutations of the %s example', (example) => {
  it('keep the command-line contract of validate, analyze, render and the dry run', async () => {
    const seed = 27 + EXAMPLES.indexOf(example);
    let refused = 0;
    const files = (await loadPlan(join('examples', example, 'plan.yaml'))).files.map((f) => basename(f));
    for (const mutation of mutations(example, files, 25, seed)) {
      const dir = tempDir('drctl-mutation-');
      cpSync(join('examples', example), dir, { recursive: true });
      const file = join(dir, mutation.file);
      writeFileSync(file, mutation.apply(readFileSync(file, 'utf8')));
      const plan = join(dir, 'plan.yaml');
      try {
        const validated = await runCli('validate', plan, '--json');
        expectContract(validated, true);
        expectContract(await runCli('validate', plan), false);
        if (validated.code !== 0) {
          refused += 1;
          continue;
        }
        expectContract(await runCli('analyze', plan, '--json', '--now', '2026-11-22'), true);
        expectContract(await runCli('render', plan, '--format', 'md', '--out', '-'), false);
        const runbook = /failover/.test(readFileSync(plan, 'utf8')) ? 'failover' : 'restore';
        // several workloads with that runbook is a usage error (2): still no stack, no NaN
        expectContract(
          await runCli(
            'run',
            plan,
            '--runbook',
            runbook,
            '--dry-run',
            '--json',
            '--state',
            join(dir, '.drctl'),
          ),
          true,
          [0, 1, 2],
        );
      } catch (error) {
        throw new Error(`mutation ${mutation.describe}: ${(error as Error).message}`, { cause: error });
      }
    }
    // the mutations are hostile: most must be refused, or the generator is not testing anything
    expect(refused).toBeGreaterThan(5);
  }, 180_000);
});
