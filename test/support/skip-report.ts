/**
 * A vitest reporter that ends a run which skipped tests with the list of them, by name, and why: the
 * condition of their `describe.skipIf(...)` / `it.skipIf(...)` as written in the test file, or the note a
 * test gave `context.skip(note)`; then the system packages missing on this machine, from the test
 * installer. Tests of a part that is absent may skip (a laptop without Chromium still runs the rest), but
 * never silently: a run that printed no such list tested everything it holds. Tests left out by a name
 * filter (`-t`) are not listed: they were not asked for.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

const ROOT = join(import.meta.dirname, '../..');

export default class SkipReport implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const module of modules) {
      const source = readFileSync(module.moduleId, 'utf8');
      for (const task of skippedTasks(module)) {
        const reason = noteOf(task) ?? skipCondition(source, task.location);
        if (reason !== undefined) skipped.push(`  ${module.relativeModuleId} > ${task.fullName}: ${reason}`);
      }
    }
    if (skipped.length === 0) return;
    const missing = spawnSync('bash', [join(ROOT, 'scripts/install-test-deps.sh'), '--check'], {
      encoding: 'utf8',
    }).stdout.trim();
    const lines = [
      '',
      `SKIPPED: ${skipped.length} test suite(s) or test(s) did not run, so this run did not test everything:`,
      ...skipped,
      missing === ''
        ? 'Every package of scripts/install-test-deps.sh is installed.'
        : `Missing on this machine: ${missing.split('\n').join(', ')}. \`npm run test:all\` installs them and runs everything.`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

/** Skipped suites and tests, each once: the tests inside a skipped suite are that suite's. */
function* skippedTasks(parent: TestModule | TestSuite): Generator<TestSuite | TestCase> {
  for (const child of parent.children) {
    if (child.type === 'suite') {
      if (child.state() === 'skipped') yield child;
      else yield* skippedTasks(child);
    } else if (child.result().state === 'skipped') yield child;
  }
}

function noteOf(task: TestSuite | TestCase): string | undefined {
  if (task.type !== 'test') return undefined;
  const result = task.result();
  return result.state === 'skipped' ? result.note : undefined;
}

/**
 * Why the task declared at `location` was skipped, from its source: vitest places a task at the call that
 * declares it, so `describe.skipIf(cond)('name', ...)` is placed just after `skipIf(cond)`, and
 * `it.skip('name', ...)` at `skip`. A task placed elsewhere was left out by a filter.
 */
function skipCondition(
  source: string,
  location: { line: number; column: number } | undefined,
): string | undefined {
  if (location === undefined) return undefined;
  const lines = source.split('\n');
  const offset =
    lines.slice(0, location.line - 1).reduce((sum, line) => sum + line.length + 1, 0) + location.column - 1;
  if (source.startsWith('skip(', offset)) return 'declared with .skip';
  let end = offset - 1;
  while (end >= 0 && /\s/.test(source[end] ?? '')) end--;
  if (source[end] !== ')') return undefined;
  let depth = 0;
  for (let i = end; i >= 0; i--) {
    if (source[i] === ')') depth++;
    else if (source[i] === '(' && --depth === 0)
      return source.slice(0, i).endsWith('skipIf')
        ? source.slice(i - 6, end + 1).replace(/\s+/g, ' ')
        : undefined;
  }
  return undefined;
}
