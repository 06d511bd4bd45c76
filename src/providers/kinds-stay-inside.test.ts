/**
 * Providers are plug-ins: code outside `providers/` asks a provider what it supports (its data) and
 * never branches on a provider's name, a component kind or a backup engine. This test reads every
 * source file and fails on such a branch, naming the file and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BACKUP_ENGINES } from '../plan/schema.ts';
import { providers } from './index.ts';

const SRC = join(import.meta.dirname, '..');

/**
 * Where kinds may be named: the providers themselves, the plan schema that lists engines and kinds, and
 * tests and their test beds (which write plans).
 */
const ALLOWED_FILES = [/^providers\//, /^plan\/schema\.ts$/, /^plan\/schema\//, /\.test\.ts$/, /^testbed\//];

/**
 * Plan words that happen to spell a provider's name: a step's kind `shell` (a `run:` step) and a
 * verification's restore target `postgres` belong to the plan's own vocabulary, not to a provider.
 */
const PLAN_VOCABULARY: { receiver: RegExp; file?: RegExp }[] = [
  { receiver: /(^|\.)(step|planStep|restoreTo)\.kind$/ },
  // a tar entry's type in a backup archive (`directory`), not the files provider's kind
  { receiver: /(^|\.)header\.type$/ },
  // the step being compiled
  { receiver: /^kind$/, file: /^plan\/compile-steps\.ts$/ },
];

const names = [
  ...new Set([
    ...providers.flatMap((provider) => [provider.name, ...provider.kinds]),
    ...BACKUP_ENGINES.filter((engine) => engine !== 'drctl'),
  ]),
];
const quoted = `'(${names.map((name) => name.replace(/[-.]/g, '\\$&')).join('|')})'`;
const BRANCHES = [
  // receiver === 'kind', 'kind' !== receiver
  new RegExp(`([\\w.?!\\]\\[)]+)\\s*[!=]==\\s*${quoted}`, 'g'),
  new RegExp(`${quoted}\\s*[!=]==\\s*([\\w.?!\\]\\[(]+)`, 'g'),
  new RegExp(`\\bcase\\s+${quoted}\\s*:`, 'g'),
  new RegExp(`\\b(?:findProvider|providerForKind)\\(\\s*${quoted}`, 'g'),
];

/**
 * A table keyed or listed by component kinds (`postgres: 'databases'`, `new Set(['postgres', 'sqlite'])`):
 * what a kind is belongs to its provider, or to the plan's vocabulary of kinds (plan/schema/kinds.ts).
 * Two kinds or more in one literal make a table; one kind alone is a program's name as often as a kind.
 */
const kinds = [...new Set(providers.flatMap((provider) => provider.kinds))];
const quotedKind = `(${kinds.map((kind) => kind.replace(/[-.]/g, '\\$&')).join('|')})`;
const TABLE_KEY = new RegExp(`^\\s*['"]?${quotedKind}['"]?\\s*:\\s*['"{\\[]`);
const TABLE_ENTRY = new RegExp(`^\\s*['"]${quotedKind}['"],?\\s*$`);
const QUOTED_KIND = new RegExp(`['"]${quotedKind}['"]`, 'g');

/** Every table of kinds in the file, as `file:line: code` of its first kind. */
function kindTables(file: string, text: string): string[] {
  const found: string[] = [];
  let rows: { line: number; kind: string; code: string }[] = [];
  const endTable = (): void => {
    if (new Set(rows.map((row) => row.kind)).size >= 2)
      found.push(`${file}:${rows[0]!.line}: ${rows[0]!.code}`);
    rows = [];
  };
  text.split('\n').forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(code)) return; // a doc comment
    if (new Set([...code.matchAll(QUOTED_KIND)].map((match) => match[1])).size >= 2) {
      found.push(`${file}:${index + 1}: ${line.trim()}`);
      return;
    }
    const row = TABLE_KEY.exec(code) ?? TABLE_ENTRY.exec(code);
    if (row === null) return;
    // rows more than a few lines apart belong to different literals
    if (rows.length > 0 && index + 1 - rows[rows.length - 1]!.line > 3) endTable();
    rows.push({ line: index + 1, kind: row[1]!, code: line.trim() });
  });
  endTable();
  return found.sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function planWord(file: string, receiver: string | undefined): boolean {
  if (receiver === undefined) return false;
  return PLAN_VOCABULARY.some(
    (word) => word.receiver.test(receiver) && (word.file === undefined || word.file.test(file)),
  );
}

/** Every branch on a kind in the file, as `file:line: code`. */
function kindBranches(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(code)) return; // a doc comment
    for (const pattern of BRANCHES)
      for (const match of code.matchAll(pattern)) {
        const receiver = match.slice(1).find((group) => group !== undefined && !names.includes(group));
        if (!planWord(file, receiver)) found.push(`${file}:${index + 1}: ${line.trim()}`);
      }
  });
  return found;
}

describe('provider and component kinds', () => {
  it('are branched on nowhere outside providers/ and the plan schema', () => {
    const found = sourceFiles(SRC).flatMap((path) => {
      const file = relative(SRC, path).split('\\').join('/');
      return ALLOWED_FILES.some((pattern) => pattern.test(file))
        ? []
        : kindBranches(file, readFileSync(path, 'utf8'));
    });
    expect(found, 'declare it as data on the provider and ask the provider instead').toEqual([]);
  });

  it('are listed in tables nowhere outside providers/ and the plan schema', () => {
    const found = sourceFiles(SRC).flatMap((path) => {
      const file = relative(SRC, path).split('\\').join('/');
      return ALLOWED_FILES.some((pattern) => pattern.test(file))
        ? []
        : kindTables(file, readFileSync(path, 'utf8'));
    });
    expect(found, 'declare it as data on the provider or in plan/schema/kinds.ts').toEqual([]);
  });

  it('are caught in each way a table lists them', () => {
    const text = [
      'const BY_KIND = {',
      "  postgres: 'databases',",
      "  sqlite: 'databases',",
      '};',
      "const HOLDS_DATA = new Set(['postgres', 'files']);",
      'const LISTED = [',
      "  'files',",
      "  'directory',",
      '];',
      "const TOOLS = { postgres: '--version', restic: 'version' };",
    ].join('\n');
    expect(kindTables('analysis/example.ts', text)).toEqual([
      "analysis/example.ts:2: postgres: 'databases',",
      "analysis/example.ts:5: const HOLDS_DATA = new Set(['postgres', 'files']);",
      "analysis/example.ts:7: 'files',",
    ]);
  });

  it('are caught in each way code branches on them', () => {
    expect(
      [
        "if (component.kind === 'postgres') start();",
        "if ('restic' !== policy.engine) return;",
        "case 'sqlite':",
        "const provider = findProvider('pgbackrest');",
        "if (step.kind === 'shell' && component.kind === 'process') run();",
      ].flatMap((line) => kindBranches('drill/example.ts', line)),
    ).toEqual([
      "drill/example.ts:1: if (component.kind === 'postgres') start();",
      "drill/example.ts:1: if ('restic' !== policy.engine) return;",
      "drill/example.ts:1: case 'sqlite':",
      "drill/example.ts:1: const provider = findProvider('pgbackrest');",
      "drill/example.ts:1: if (step.kind === 'shell' && component.kind === 'process') run();",
    ]);
    // the plan's own words that spell a provider's name
    expect(kindBranches('engine/step-execution.ts', "if (step.kind === 'shell') return;")).toEqual([]);
    expect(kindBranches('plan/compile-steps.ts', "kind === 'shell' ? a : b")).toEqual([]);
    expect(kindBranches('drill/runner.ts', "kind === 'postgres' ? a : b")).toHaveLength(1);
  });
});
