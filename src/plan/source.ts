/**
 * Plan files as parsed YAML that remembers where every value was written, so that a schema problem or a
 * broken reference found long after parsing can still name its file, line and column.
 *
 * Parsing goes through js-yaml's event stream: it is about ten times faster than building the `yaml`
 * package's document tree (a 1.5 MB plan: ~0.3 s against ~3.5 s), and its events carry the source offsets
 * we index positions from. The `yaml` package is used only when a file has syntax errors, because it
 * reports all of them with positions instead of stopping at the first.
 */
import { readFile, stat } from 'node:fs/promises';
import {
  constructFromEvents,
  EVENT_ID,
  getScalarValue,
  parseEvents,
  YAMLException,
  type Event,
} from 'js-yaml';
import { DrctlError, type PlanProblem, type SourceLocation } from '../errors.ts';
import { CONTROL_CHARACTERS, escapeControls } from './text.ts';

/** A plan file larger than this is refused before it is read: plans are text, not data dumps. */
export const MAX_PLAN_FILE_BYTES = 5 * 1024 * 1024;
/**
 * Bytes a file may expand to through aliases (each key and text counted by its length, every value by 8):
 * twice the largest file, far above honest use of anchors, far below a "billion laughs" file, which
 * counted in values could still render to hundreds of megabytes from one long string.
 */
const MAX_EXPANDED_BYTES = 2 * MAX_PLAN_FILE_BYTES;
/** Mappings and lists nested deeper than this are refused while parsing, before anything recurses. */
const MAX_DEPTH = 100;

export type PathSegment = string | number;

/** Where a value starts, and for a mapping or sequence, where its children are. */
interface PositionNode {
  start: number;
  entries?: Map<string, { keyStart: number; node: PositionNode }>;
  items?: PositionNode[];
}

export interface SourceFile {
  /** Path as the user gave it (or as an include resolved it), for messages. */
  file: string;
  bytes: Buffer;
  value: unknown;
  positions: PositionNode | undefined;
  lineStarts: number[];
}

/** Reads and parses one plan file; every problem is returned positioned, nothing is thrown for bad content. */
export async function readSourceFile(
  file: string,
  displayName: string,
): Promise<{ source: SourceFile | undefined; problems: PlanProblem[] }> {
  const start = { file: displayName, line: 1, column: 1 };
  const info = await stat(file);
  if (!info.isFile()) {
    return {
      source: undefined,
      problems: [
        problem('DRCTL_PLAN_NOT_A_FILE', `${displayName} is not a file`, start, 'name a YAML plan file'),
      ],
    };
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
  const text = bytes.toString('utf8');
  let events: Event[];
  let value: unknown;
  try {
    events = parseEvents(text, { filename: displayName, maxDepth: MAX_DEPTH });
    value = constructFromEvents(events, { source: text, filename: displayName })[0];
  } catch (error) {
    return { source: undefined, problems: await syntaxProblems(text, displayName, error) };
  }
  const second = secondDocumentOffset(events, text);
  if (second !== undefined) {
    return {
      source: undefined,
      problems: [
        problem(
          'DRCTL_PLAN_MULTIPLE_DOCUMENTS',
          `${displayName} holds more than one YAML document; everything after this separator would be ignored`,
          position({ file: displayName, lineStarts: lineStarts(text) }, second),
          'remove the `---` line and merge the documents, or move the rest into its own file and name it in include:',
        ),
      ],
    };
  }
  if (events.some((event) => event.type === EVENT_ID.ALIAS) && !withinExpansionBudget(value)) {
    return {
      source: undefined,
      problems: [
        problem(
          'DRCTL_PLAN_ALIAS_BOMB',
          `${displayName} expands to more than ${MAX_EXPANDED_BYTES / 1024 / 1024} MB through YAML aliases`,
          start,
          'write the repeated values out or use fewer anchors',
        ),
      ],
    };
  }
  const source: SourceFile = {
    file: displayName,
    bytes,
    value,
    positions: indexPositions(events, text),
    lineStarts: lineStarts(text),
  };
  return { source, problems: unsafeTextProblems(source) };
}

/**
 * Keys and texts that parse but must not be used: `__proto__`, which an object built from the plan
 * would silently drop (a runbook of that name would vanish), and control characters, which would reach
 * a terminal, a log or a message as escape sequences. Aliased values are checked where they are written.
 */
function unsafeTextProblems(source: SourceFile): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const seen = new Set<object>();
  const visit = (value: unknown, path: PathSegment[]): void => {
    if (typeof value === 'string') {
      if (CONTROL_CHARACTERS.test(value))
        problems.push(
          problem(
            'DRCTL_PLAN_CONTROL_CHARACTER',
            `a control character (${escapeControls(value.match(CONTROL_CHARACTERS)![0])}) in the text here`,
            locate(source, path),
            'remove it: plans hold printable text; an escape sequence would reach terminals and messages',
          ),
        );
      return;
    }
    if (value === null || typeof value !== 'object' || seen.has(value)) return;
    seen.add(value);
    for (const [key, child] of Object.entries(value)) {
      const childPath = [...path, Array.isArray(value) ? Number(key) : key];
      if (key === '__proto__' || CONTROL_CHARACTERS.test(key))
        problems.push(
          problem(
            'DRCTL_PLAN_RESERVED_KEY',
            key === '__proto__'
              ? 'the key __proto__ cannot be used'
              : `a control character (${escapeControls(key.match(CONTROL_CHARACTERS)![0])}) in a key`,
            locate(source, childPath, { key: true }),
            'rename it: keys and ids are letters, digits, "-" and "_"',
          ),
        );
      visit(child, childPath);
    }
  };
  visit(source.value, []);
  return problems;
}

/** Where the value at `path` was written (or its key, with `key`); falls back to the deepest ancestor found. */
export function locate(
  source: SourceFile,
  path: readonly PathSegment[],
  { key = false } = {},
): SourceLocation {
  let node = source.positions;
  let offset = node?.start ?? 0;
  for (const [index, segment] of path.entries()) {
    const entry = node?.entries?.get(String(segment));
    const next = entry ? entry.node : node?.items?.[Number(segment)];
    if (!next) break;
    if (key && entry && index === path.length - 1) return position(source, entry.keyStart);
    node = next;
    offset = next.start;
  }
  return position(source, offset);
}

/**
 * Where `needle` is written inside the value at `path` (a placeholder in a template body, say); the value's
 * own position when the text cannot be found there (an escaped or folded scalar).
 */
export function locateText(source: SourceFile, path: readonly PathSegment[], needle: string): SourceLocation {
  const start = locate(source, path);
  const offset = source.lineStarts[start.line - 1]! + start.column - 1;
  const text = source.bytes.toString('utf8');
  const found = text.indexOf(needle, offset);
  // a needle further away than the scalar could be belongs to a later value
  if (found === -1 || found - offset > 64 * 1024) return start;
  return position(source, found);
}

function position(source: Pick<SourceFile, 'file' | 'lineStarts'>, offset: number): SourceLocation {
  const starts = source.lineStarts;
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= offset) low = middle;
    else high = middle - 1;
  }
  return { file: source.file, line: low + 1, column: offset - starts[low]! + 1 };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Builds the position tree of the first document from the event stream. */
function indexPositions(events: Event[], text: string): PositionNode | undefined {
  type Frame = {
    node: PositionNode;
    pendingKey: { text: string; start: number } | undefined;
    isMap: boolean;
  };
  const stack: Frame[] = [];
  let root: PositionNode | undefined;
  const attach = (node: PositionNode, keyText?: { text: string; start: number }): boolean => {
    const parent = stack[stack.length - 1];
    if (!parent) {
      root ??= node;
      return true;
    }
    if (!parent.isMap) {
      parent.node.items!.push(node);
      return true;
    }
    if (parent.pendingKey === undefined) {
      // this node is a key; only scalar keys can be addressed by a path
      parent.pendingKey = keyText ?? { text: '\u0000complex', start: node.start };
      return false;
    }
    parent.node.entries!.set(parent.pendingKey.text, { keyStart: parent.pendingKey.start, node });
    parent.pendingKey = undefined;
    return true;
  };
  for (const event of events) {
    switch (event.type) {
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        const isMap = event.type === EVENT_ID.MAPPING;
        const node: PositionNode = isMap
          ? { start: event.start, entries: new Map() }
          : { start: event.start, items: [] };
        attach(node);
        stack.push({ node, pendingKey: undefined, isMap });
        break;
      }
      case EVENT_ID.SCALAR:
        attach({ start: event.valueStart }, { text: getScalarValue(text, event), start: event.valueStart });
        break;
      case EVENT_ID.ALIAS:
        attach({ start: event.anchorStart });
        break;
      case EVENT_ID.POP:
        stack.pop();
        if (stack.length === 0 && root) return root;
        break;
      default:
        break;
    }
  }
  return root;
}

/**
 * Where the separator of a second document with content starts, if the file has one. A plan is one
 * document: a second one was silently dropped before, so its settings seemed applied but were not.
 * A trailing `---` with nothing after it is harmless and allowed.
 */
function secondDocumentOffset(events: Event[], text: string): number | undefined {
  let documents = 0;
  let firstEnd = 0;
  for (const [index, event] of events.entries()) {
    if (event.type === EVENT_ID.DOCUMENT) {
      documents += 1;
      if (documents < 2) continue;
      const next = events[index + 1];
      const empty = next?.type === EVENT_ID.SCALAR && next.valueStart === -1;
      if (empty) continue;
      // document events carry no offsets: the separator is the first `---` or `...` line after the
      // first document's last value (a `---` inside a block scalar lies before that value's end)
      const separator = /^(?:---|\.\.\.)(?=\s|$)/gm;
      separator.lastIndex = firstEnd;
      return separator.exec(text)?.index ?? firstEnd;
    }
    if (documents === 1) firstEnd = Math.max(firstEnd, eventEnd(event));
  }
  return undefined;
}

function eventEnd(event: Event): number {
  switch (event.type) {
    case EVENT_ID.SCALAR:
      return Math.max(event.valueEnd, event.anchorEnd, event.tagEnd);
    case EVENT_ID.MAPPING:
    case EVENT_ID.SEQUENCE:
      return Math.max(event.start, event.anchorEnd, event.tagEnd);
    case EVENT_ID.ALIAS:
      return event.anchorEnd;
    default:
      return 0;
  }
}

/** False when the value, with aliases expanded, is larger than the budget allows. */
function withinExpansionBudget(value: unknown): boolean {
  let budget = MAX_EXPANDED_BYTES;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    budget -= typeof next === 'string' ? next.length + 8 : 8;
    if (budget < 0) return false;
    if (next && typeof next === 'object')
      for (const [key, child] of Object.entries(next)) {
        budget -= key.length;
        pending.push(child);
      }
  }
  return true;
}

/**
 * Every syntax error of a file, positioned, from the `yaml` package's error-tolerant parser, loaded here
 * only (it takes longer to load than a valid plan takes to check).
 */
async function syntaxProblems(text: string, file: string, error: unknown): Promise<PlanProblem[]> {
  const first = jsYamlProblem(text, file, error);
  // nesting too deep or an unknown tag: the `yaml` package has no position for the one and would recurse
  // into the other until the stack overflows
  if (first && first.hint !== yamlHint('')) return [first];
  const { LineCounter, parseDocument } = await import('yaml');
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems = document.errors.map((error) => {
    const pos = lineCounter.linePos(error.pos[0]);
    return problem(
      'DRCTL_PLAN_YAML',
      error.message.split('\n')[0] ?? error.message,
      { file, line: pos.line, column: pos.col },
      yamlHint(error.code),
    );
  });
  return problems.length > 0
    ? problems
    : [
        first ??
          problem(
            'DRCTL_PLAN_YAML',
            'the file is not valid YAML',
            { file, line: 1, column: 1 },
            'fix the YAML syntax',
          ),
      ];
}

/** js-yaml's error at its position, with a hint for the errors only it reports. */
function jsYamlProblem(text: string, file: string, error: unknown): PlanProblem | undefined {
  if (!(error instanceof YAMLException) || error.mark === undefined) return undefined;
  const at = position({ file, lineStarts: lineStarts(text) }, error.mark.position);
  if (error.reason.includes('maxDepth'))
    return problem(
      'DRCTL_PLAN_YAML',
      `mappings and lists are nested more than ${MAX_DEPTH} levels deep`,
      at,
      'flatten the structure: a plan needs a handful of levels',
    );
  if (error.reason.includes(' tag '))
    return problem(
      'DRCTL_PLAN_YAML',
      error.reason,
      at,
      'remove the tag: a plan holds plain YAML values (text, numbers, lists, mappings)',
    );
  return problem('DRCTL_PLAN_YAML', error.reason, at, yamlHint(''));
}

/** The first line of a file: where problems about the file as a whole point. */
export function fileStart(file: string): SourceLocation {
  return { file, line: 1, column: 1 };
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
  return new DrctlError(
    'DRCTL_PLAN_UNREADABLE',
    `cannot read plan file ${file}: ${(error as Error).message}`,
    {
      hint: 'check the file permissions',
      exitCode: 2,
      cause: error,
    },
  );
}
