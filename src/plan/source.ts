/**
 * Plan files as parsed YAML documents that remember where every value was written, so that a schema
 * problem or a broken reference found long after parsing can still name its file, line and column.
 */
import { readFile, stat } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { DrctlError, type PlanProblem, type SourceLocation } from '../errors.ts';

/** A plan file larger than this is refused before it is read: plans are text, not data dumps. */
export const MAX_PLAN_FILE_BYTES = 5 * 1024 * 1024;
/** Aliases a file may expand; far above honest use, far below a "billion laughs" document. */
const MAX_ALIAS_COUNT = 1_000;

export type PathSegment = string | number;

export interface SourceFile {
  /** Path as the user gave it (or as an include resolved it), for messages. */
  file: string;
  bytes: Buffer;
  document: Document.Parsed;
  lineCounter: LineCounter;
  value: unknown;
}

/** Reads and parses one plan file; every problem is returned positioned, nothing is thrown for bad content. */
export async function readSourceFile(
  file: string,
  displayName: string,
): Promise<{ source: SourceFile | undefined; problems: PlanProblem[] }> {
  const start = { file: displayName, line: 1, column: 1 };
  const info = await stat(file);
  if (!info.isFile()) {
    return { source: undefined, problems: [problem('DRCTL_PLAN_NOT_A_FILE', `${displayName} is not a file`, start, 'name a YAML plan file')] };
  }
  if (info.size > MAX_PLAN_FILE_BYTES) {
    const mb = (info.size / 1024 / 1024).toFixed(1);
    return {
      source: undefined,
      problems: [
        problem(
          'DRCTL_PLAN_TOO_LARGE',
          `${displayName} is ${mb} MB; plan files are limited to ${MAX_PLAN_FILE_BYTES / 1024 / 1024} MB`,
          start,
          'split the plan into several files with include:, or remove generated data from it',
        ),
      ],
    };
  }
  const bytes = await readFile(file);
  const lineCounter = new LineCounter();
  const document = parseDocument(bytes.toString('utf8'), { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): SourceLocation => {
    const pos = lineCounter.linePos(offset);
    return { file: displayName, line: pos.line, column: pos.col };
  };
  const syntax = document.errors.map((error) =>
    problem('DRCTL_PLAN_YAML', error.message.split('\n')[0] ?? error.message, at(error.pos[0]), yamlHint(error.code)),
  );
  if (syntax.length > 0) return { source: undefined, problems: syntax };

  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // yaml throws a ReferenceError when aliases expand beyond maxAliasCount (the "billion laughs" guard)
    const message = error instanceof Error ? error.message : String(error);
    return {
      source: undefined,
      problems: [
        problem('DRCTL_PLAN_ALIAS_BOMB', `${displayName} expands too many YAML aliases (${message})`, start, 'write the repeated values out or use fewer anchors'),
      ],
    };
  }
  return { source: { file: displayName, bytes, document, lineCounter, value }, problems: [] };
}

/** Where the value at `path` was written; falls back to the deepest ancestor that exists. */
export function locate(source: SourceFile, path: readonly PathSegment[], { key = false } = {}): SourceLocation {
  let node: unknown = source.document.contents;
  let found: Node | undefined = source.document.contents ?? undefined;
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      if (last && key && isScalar(pair.key)) {
        found = pair.key;
        break;
      }
      node = pair.value;
    } else if (isSeq(node)) {
      node = node.items[Number(segment)];
    } else break;
    if (node && typeof node === 'object' && 'range' in node) found = node as Node;
    else break;
  }
  const offset = found?.range?.[0] ?? 0;
  const pos = source.lineCounter.linePos(offset);
  return { file: source.file, line: pos.line, column: pos.col };
}

export function problem(code: string, message: string, location: SourceLocation, hint?: string): PlanProblem {
  return hint === undefined ? { code, message, location } : { code, message, location, hint };
}

function yamlHint(code: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'remove one of the two entries with the same key';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation: nested entries use the same number of spaces';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    default:
      return 'fix the YAML syntax at this position';
  }
}

/** Turns a file-system error on a plan path into an actionable error. */
export function fileError(file: string, error: unknown): DrctlError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new DrctlError('DRCTL_PLAN_NOT_FOUND', `plan file ${file} does not exist`, {
      hint: 'check the path, or create a plan with `drctl init`',
      exitCode: 2,
      cause: error,
    });
  }
  return new DrctlError('DRCTL_PLAN_UNREADABLE', `cannot read plan file ${file}: ${(error as Error).message}`, {
    hint: 'check the file permissions',
    exitCode: 2,
    cause: error,
  });
}
