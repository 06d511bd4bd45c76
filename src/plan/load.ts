/**
 * Loading a plan: read the root file and its includes, validate each against the schema, then compile
 * them into one model. Every problem in every file is collected and reported at once, positioned.
 */
import { createHash } from 'node:crypto';
import { dirname, relative, resolve } from 'node:path';
import type { z } from 'zod';
import { PlanInvalidError, type PlanProblem } from '../errors.ts';
import { compilePlan, type LoadedFile } from './compile.ts';
import type { Plan } from './model.ts';
import { PlanFile, type PlanFileInput } from './schema.ts';
import { fileError, locate, problem, readSourceFile, type SourceFile } from './source.ts';
import { closest, planVocabulary } from './vocabulary.ts';

export interface LoadPlanOptions {
  /**
   * Further checks on the compiled plan, such as provider parameter validation; their problems are
   * reported with the plan's own. Kept as a hook so the plan layer never imports providers.
   */
  checks?: ReadonlyArray<(plan: Plan) => PlanProblem[]>;
}

/** A plan may not include more files than this; it stops runaway include trees early. */
const MAX_INCLUDED_FILES = 500;

/** Loads, validates and compiles a plan. Throws PlanInvalidError listing every problem found. */
export async function loadPlan(file: string, options: LoadPlanOptions = {}): Promise<Plan> {
  const rootPath = resolve(file);
  const baseDir = dirname(rootPath);
  const loaded: LoadedFile[] = [];
  const problems: PlanProblem[] = [];
  const seen = new Set<string>();

  const visit = async (
    path: string,
    display: string,
    chain: string[],
    includedAt?: PlanProblem['location'],
  ): Promise<void> => {
    if (chain.includes(path)) {
      const loop = [...chain.slice(chain.indexOf(path)), path]
        .map((p) => relative(baseDir, p) || p)
        .join(' → ');
      problems.push(
        problem(
          'DRCTL_PLAN_INCLUDE_LOOP',
          `include loop: ${loop}`,
          includedAt ?? start(display),
          'remove one of the includes so the files form a tree',
        ),
      );
      return;
    }
    if (seen.has(path)) return; // included twice through different branches: load once
    if (seen.size >= MAX_INCLUDED_FILES) {
      problems.push(
        problem(
          'DRCTL_PLAN_TOO_MANY_FILES',
          `a plan may include at most ${MAX_INCLUDED_FILES} files`,
          includedAt ?? start(display),
          'merge small files',
        ),
      );
      return;
    }
    seen.add(path);
    let read;
    try {
      read = await readSourceFile(path, display);
    } catch (error) {
      if (includedAt === undefined) throw fileError(display, error);
      problems.push(
        problem(
          'DRCTL_PLAN_INCLUDE_MISSING',
          `included file ${display} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
          includedAt,
          'check the path; includes are relative to the file that includes them',
        ),
      );
      return;
    }
    problems.push(...read.problems);
    if (!read.source) return;
    const isRoot = includedAt === undefined;
    if (isRoot && (read.source.value === undefined || read.source.value === null)) {
      problems.push(
        problem(
          'DRCTL_PLAN_EMPTY',
          'the plan file is empty: a plan needs at least version: 1 and one workload',
          start(display),
          '`drctl init` makes a start',
        ),
      );
      return;
    }
    const input = validateFile(read.source, problems);
    if (!input) return;
    // included files may be fragments (only contacts, say); the file a user names is the plan itself
    if (isRoot && input.version === undefined)
      problems.push(
        problem(
          'DRCTL_PLAN_VERSION_MISSING',
          'the plan has no version',
          start(display),
          'add `version: 1` as the first line; `drctl init` makes a start',
        ),
      );
    loaded.push({ source: read.source, input });
    for (const [index, include] of (input.include ?? []).entries()) {
      const target = resolve(dirname(path), include);
      await visit(
        target,
        relative(process.cwd(), target) || target,
        [...chain, path],
        locate(read.source, ['include', index]),
      );
    }
  };

  await visit(rootPath, file, []);
  if (problems.length > 0) throw new PlanInvalidError(problems);

  const hash = createHash('sha256');
  for (const { source } of loaded) hash.update(source.bytes);
  const { plan, problems: compileProblems } = compilePlan(loaded, {
    hash: hash.digest('hex'),
    baseDir,
    files: loaded.map((f) => f.source.file),
  });
  problems.push(...compileProblems);
  if (plan.workloads.length === 0 && loaded[0])
    problems.push(
      problem(
        'DRCTL_PLAN_NO_WORKLOADS',
        'the plan defines no workloads, so there is nothing to recover',
        locate(loaded[0].source, ['workloads']),
        'add a workload under workloads: (here or in an included file); `drctl init` makes a start',
      ),
    );
  if (problems.length === 0) for (const check of options.checks ?? []) problems.push(...check(plan));
  if (problems.length > 0) throw new PlanInvalidError(problems);
  return plan;
}

function start(file: string): PlanProblem['location'] {
  return { file, line: 1, column: 1 };
}

function validateFile(source: SourceFile, problems: PlanProblem[]): PlanFileInput | undefined {
  const value = source.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(
      problem(
        'DRCTL_PLAN_SHAPE',
        'a plan file must be a mapping of sections (version, sites, workloads, ...)',
        start(source.file),
        'start the file with `version: 1` and top-level sections',
      ),
    );
    return undefined;
  }
  const result = PlanFile.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) problems.push(...issueProblems(source, issue));
  return undefined;
}

type Issue = z.core.$ZodIssue;

function issueProblems(source: SourceFile, issue: Issue): PlanProblem[] {
  const path = issue.path as (string | number)[];
  const where = path.length > 0 ? `${formatPath(path)}: ` : '';
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        const suggestion = closest(key, planVocabulary());
        return problem(
          'DRCTL_PLAN_UNKNOWN_KEY',
          `${where}unknown key "${key}"${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
          locate(source, [...path, key], { key: true }),
          suggestion ? `rename it to ${suggestion}` : 'remove it; docs/plan.md lists every key',
        );
      });
    case 'invalid_union': {
      // report the branch that got furthest: its problems are the ones the author most likely meant
      const branches = issue.errors.filter((branch) => branch.length > 0);
      const deepest = branches.sort((a, b) => depth(b) - depth(a))[0];
      if (deepest && depth(deepest) > 0)
        return deepest.flatMap((inner) =>
          issueProblems(source, { ...inner, path: [...path, ...inner.path] } as Issue),
        );
      return [
        problem(
          'DRCTL_PLAN_TYPE',
          `${where}${issue.message === 'Invalid input' ? 'not one of the accepted forms' : issue.message}`,
          locate(source, path),
          'docs/plan.md shows the accepted forms',
        ),
      ];
    }
    case 'invalid_type': {
      const missing = issue.input === undefined;
      return [
        problem(
          missing ? 'DRCTL_PLAN_MISSING' : 'DRCTL_PLAN_TYPE',
          missing
            ? `${where}is required`
            : `${where}expected ${issue.expected}, got ${describe(issue.input)}`,
          locate(source, path),
          missing ? `add ${String(path[path.length - 1])}` : `write a ${issue.expected} here`,
        ),
      ];
    }
    case 'invalid_value': {
      // a missing key of a fixed set of values (tier, role) is missing, not a value outside the set
      if (issue.input === undefined)
        return [
          problem(
            'DRCTL_PLAN_MISSING',
            `${where}is required`,
            locate(source, path),
            `add ${String(path[path.length - 1])}`,
          ),
        ];
      const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
      const suggestion =
        typeof issue.input === 'string' ? closest(issue.input, issue.values.map(String)) : undefined;
      return [
        problem(
          'DRCTL_PLAN_VALUE',
          `${where}${JSON.stringify(issue.input)} is not allowed; use one of ${allowed}${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
          locate(source, path),
          suggestion ? `write ${suggestion}` : `use one of ${allowed}`,
        ),
      ];
    }
    default: {
      // our own refinements phrase the fix after a semicolon: "not a duration; write it like 90s"
      const [what, fix] = issue.message.split('; ');
      return [
        problem(
          'DRCTL_PLAN_VALUE',
          `${where}${what}`,
          locate(source, path),
          fix ?? 'docs/plan.md describes this field',
        ),
      ];
    }
  }
}

function formatPath(path: readonly (string | number)[]): string {
  return path
    .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`))
    .join('');
}

function depth(issues: readonly Issue[]): number {
  return Math.max(...issues.map((i) => i.path.length + (i.code === 'invalid_type' ? 0 : 0.5)));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}
