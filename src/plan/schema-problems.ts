/**
 * A plan file checked against the zod schema, and zod's issues turned into positioned plan problems with
 * hints ("unknown key "tiers"; did you mean "tier"?").
 */
import type { z } from 'zod';
import type { PlanProblem } from '../errors.ts';
import { PlanFile, type PlanFileInput } from './schema.ts';
import { fileStart, locate, problem, type SourceFile } from './source.ts';
import { closest, planVocabulary } from './vocabulary.ts';

export function validateFile(source: SourceFile, problems: PlanProblem[]): PlanFileInput | undefined {
  const value = source.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(
      problem(
        'DRCTL_PLAN_SHAPE',
        'a plan file must be a mapping of sections (version, sites, workloads, ...)',
        fileStart(source.file),
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
