/**
 * Loading a plan: read the root file and its includes, validate each against the schema, then compile
 * them into one model. Every problem in every file is collected and reported at once, positioned.
 */
import { createHash } from 'node:crypto';
import { dirname, relative, resolve } from 'node:path';
import { PlanInvalidError, type PlanProblem } from '../errors.ts';
import { compilePlan, type LoadedFile } from './compile.ts';
import type { Plan } from './model.ts';
import type { PlanFileInput } from './schema.ts';
import { fileError, fileStart, locate, problem, readSourceFile, type SourceFile } from './source.ts';

/** Checks one file's parsed YAML against the plan schema: its input, or undefined with the problems added. */
export type FileValidator = (source: SourceFile, problems: PlanProblem[]) => PlanFileInput | undefined;

export interface LoadPlanOptions {
  /**
   * Further checks on the compiled plan, such as provider parameter validation; their problems are
   * reported with the plan's own. Kept as a hook so the plan layer never imports providers.
   */
  checks?: ReadonlyArray<(plan: Plan) => PlanProblem[]>;
  /**
   * How each file is checked against the schema.
   * @default the zod schema, every problem positioned (`schema-problems.ts`)
   */
  validate?: FileValidator;
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
  // zod loads only when a plan is checked with it (`drctl validate` first tries a precompiled check)
  const validateFile = options.validate ?? (await import('./schema-problems.ts')).validateFile;

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
          includedAt ?? fileStart(display),
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
          includedAt ?? fileStart(display),
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
          fileStart(display),
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
          fileStart(display),
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
