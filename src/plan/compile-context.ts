/**
 * What every stage of the compiler shares: the loaded files, how a problem is reported and positioned,
 * the sections written once, and the references each stage collects to be checked once every id is
 * known (compile-references.ts).
 */
import type { PlanProblem, SourceLocation } from '../errors.ts';
import { closest } from './closest.ts';
import { parseDuration } from './duration.ts';
import type { PlanFileInput } from './schema.ts';
import { locate, problem, type PathSegment, type SourceFile } from './source.ts';

export interface LoadedFile {
  source: SourceFile;
  input: PlanFileInput;
}

export type Report = (code: string, message: string, location: SourceLocation, hint?: string) => void;
export type Locator = (...path: PathSegment[]) => SourceLocation;

/** A reference to check once every id is known; its position is computed only if it is broken. */
export interface Reference {
  id: string;
  location: () => SourceLocation;
  what: string;
}

// Durations were validated by the schema, so parsing cannot fail here.
export const ms = (text: string): number => parseDuration(text)!;
export const optMs = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : ms(text);

/** A section written as one object, and the file it is written in. */
export type Section<K extends keyof PlanFileInput> = {
  value: NonNullable<PlanFileInput[K]>;
  file: LoadedFile;
};

export interface CompileContext {
  files: LoadedFile[];
  /** Where the root plan file is: relative paths in the plan are resolved against it. */
  baseDir: string;
  report: Report;
  at(file: LoadedFile, ...path: PathSegment[]): SourceLocation;
  /** A section written as one object may appear in one file only; the first file that has it. */
  single<K extends keyof PlanFileInput>(key: K): Section<K> | undefined;
  /** References collected by every stage, checked at the end. */
  refs: { contact: Reference[]; component: Reference[]; site: Reference[]; host: Reference[] };
  refContact(id: string | undefined, location: () => SourceLocation, what: string): void;
}

export function compileContext(
  files: LoadedFile[],
  baseDir: string,
  problems: PlanProblem[],
): CompileContext {
  const at = (file: LoadedFile, ...path: PathSegment[]): SourceLocation => locate(file.source, path);
  const report: Report = (code, message, location, hint) => {
    problems.push(problem(code, message, location, hint));
  };
  const refs: CompileContext['refs'] = { contact: [], component: [], site: [], host: [] };
  return {
    files,
    baseDir,
    report,
    at,
    single: (key) => {
      const holders = files.filter((f) => f.input[key] !== undefined);
      for (const extra of holders.slice(1)) {
        report(
          'DRCTL_PLAN_DUPLICATE',
          `section ${String(key)} is also defined in ${holders[0]!.source.file}`,
          at(extra, key),
          'define each of these sections in one file only',
        );
      }
      const first = holders[0];
      return first ? { value: first.input[key]!, file: first } : undefined;
    },
    refs,
    refContact: (id, location, what) => {
      if (id !== undefined) refs.contact.push({ id, location, what });
    },
  };
}

export function duplicates(
  items: Array<{ id: string; at: SourceLocation }>,
  what: string,
  report: Report,
): void {
  const seen = new Map<string, SourceLocation>();
  for (const item of items) {
    const first = seen.get(item.id);
    if (first)
      report(
        'DRCTL_PLAN_DUPLICATE_ID',
        `${what} ${item.id} is defined twice (first at ${first.file}:${first.line})`,
        item.at,
        'give each one a unique id',
      );
    else seen.set(item.id, item.at);
  }
}

export function reportUnknown(
  what: string,
  id: string,
  known: string[],
  location: SourceLocation,
  context: string,
  report: Report,
): void {
  const suggestion = closest(id, known);
  report(
    'DRCTL_PLAN_UNKNOWN_REF',
    `${context} names ${what} "${id}", which is not defined${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
    location,
    suggestion
      ? `write ${suggestion}`
      : known.length > 0
        ? `use one of: ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', ...' : ''}`
        : `define the ${what} first`,
  );
}
