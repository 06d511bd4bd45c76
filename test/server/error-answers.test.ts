/**
 * No API answer tells a client to pass a CLI flag. Walks every hint written in src/ (the `hint` and
 * `apiHint` of every error, the hints of ApiError's constructors), sends each through the one place
 * that turns errors into HTTP answers, and asks a real server the common questions that fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { DrctlError, runLocked, runNotFound, UsageError } from '../../src/errors.ts';
import { ApiError, CLI_FLAG, httpError } from '../../src/server/errors.ts';
import { testServer, type TestServer } from './support.ts';

const SRC = join(import.meta.dirname, '../../src');

interface WrittenHint {
  where: string;
  text: string;
  /** `apiHint`, or a hint given to ApiError: words for API clients only. */
  forApi: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The texts an expression can take: template holes read as `X`, both branches of a `?:`. */
function textsOf(node: ts.Expression): string[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return [node.text];
  if (ts.isTemplateExpression(node))
    return [node.head.text + node.templateSpans.map((span) => `X${span.literal.text}`).join('')];
  if (ts.isConditionalExpression(node)) return [...textsOf(node.whenTrue), ...textsOf(node.whenFalse)];
  if (ts.isParenthesizedExpression(node)) return textsOf(node.expression);
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken)
    return [...textsOf(node.left), ...textsOf(node.right)];
  return [];
}

/** Inside `new ApiError(…)` or `ApiError.xxx(…)`. */
function inApiError(node: ts.Node): boolean {
  for (let at: ts.Node | undefined = node.parent; at !== undefined; at = at.parent) {
    if (ts.isNewExpression(at) && at.expression.getText() === 'ApiError') return true;
    if (ts.isCallExpression(at) && /^ApiError\.\w+$/.test(at.expression.getText())) return true;
    if (ts.isFunctionLike(at)) return false;
  }
  return false;
}

function writtenHints(): WrittenHint[] {
  const hints: WrittenHint[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    if (!/hint/i.test(text)) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const add = (node: ts.Node, value: ts.Expression, forApi: boolean): void => {
      const { line } = source.getLineAndCharacterOfPosition(node.getStart());
      for (const hint of textsOf(value))
        hints.push({ where: `${relative(SRC, file)}:${line + 1}`, text: hint, forApi });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name)) {
        if (node.name.text === 'apiHint') add(node, node.initializer, true);
        if (node.name.text === 'hint') add(node, node.initializer, inApiError(node));
      }
      // ApiError.notFound(code, message, hint) and ApiError.conflict(…)
      if (
        ts.isCallExpression(node) &&
        /^ApiError\.(notFound|conflict)$/.test(node.expression.getText()) &&
        node.arguments[2] !== undefined
      )
        add(node, node.arguments[2], true);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return hints;
}

describe('hints in API answers', () => {
  const hints = writtenHints();

  it('finds the hints written in src, some of them naming CLI flags', () => {
    expect(hints.length).toBeGreaterThan(300);
    expect(hints.filter((hint) => hint.forApi).length).toBeGreaterThan(20);
    // the command line's hints do name flags: the answer below must keep them out
    expect(hints.filter((hint) => !hint.forApi && CLI_FLAG.test(hint.text)).length).toBeGreaterThan(10);
  });

  it('never writes a CLI flag in a hint meant for API clients', () => {
    const flagged = hints.filter((hint) => hint.forApi && CLI_FLAG.test(hint.text));
    expect(flagged.map((hint) => `${hint.where}: ${hint.text}`)).toEqual([]);
  });

  it('answers every hint in src without a CLI flag, whichever kind of error carries it', () => {
    const leaks: string[] = [];
    for (const { where, text } of hints) {
      for (const error of [
        new DrctlError('DRCTL_TEST', 'failed', { hint: text }),
        new UsageError('DRCTL_TEST', 'bad usage', { hint: text }),
        new DrctlError('DRCTL_RUN_NOT_FOUND', 'no such run', { hint: text }),
      ]) {
        const answer = httpError(error);
        const hint = answer.body.error.hint ?? '';
        if (CLI_FLAG.test(hint)) leaks.push(`${where}: ${hint}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('keeps the command line hint for the CLI and sends the API its own', () => {
    const error = runNotFound('r-1');
    expect(error.hint).toMatch(CLI_FLAG);
    expect(httpError(error)).toMatchObject({
      status: 404,
      body: { error: { code: 'DRCTL_RUN_NOT_FOUND', hint: 'list runs with GET /api/v1/runs' } },
    });
    expect(httpError(runLocked('r-1', { pid: 7, host: 'db1' })).status).toBe(409);
    const flagOnly = new UsageError('DRCTL_X', 'x', { hint: 'pass --state DIR' });
    expect(httpError(flagOnly).body.error.hint).toBe('docs/errors.md explains DRCTL_X');
  });

  it('tells the kinds apart in statuses: usage 400, other local errors 422, chosen answers as chosen', () => {
    expect(httpError(new UsageError('DRCTL_X', 'x')).status).toBe(400);
    expect(httpError(new DrctlError('DRCTL_X', 'x')).status).toBe(422);
    expect(httpError(ApiError.conflict('DRCTL_X', 'x')).status).toBe(409);
    expect(httpError(ApiError.tokenMissing()).status).toBe(401);
    expect(httpError(new Error('boom'))).toMatchObject({ status: 500, unexpected: true });
  });
});

describe('a server answering the requests that fail', () => {
  let t: TestServer;
  // testServer closes the server and removes its directory after the file
  beforeAll(async () => {
    t = await testServer();
  });

  it('sends hints without CLI flags for unknown runs, missing and wrong tokens, missing roles and bad bodies', async () => {
    const answers = await Promise.all([
      t.json('GET', '/api/v1/runs/r-nope', { token: t.tokens.vera }),
      t.json('POST', '/api/v1/runs/r-nope/cancel', { token: t.tokens.alice, body: {} }),
      t.json('GET', '/api/v1/runs'),
      t.json('GET', '/api/v1/runs', { token: 'not-a-token' }),
      t.json('POST', '/api/v1/runs/r-nope/cancel', { token: t.tokens.vera, body: {} }),
      t.json('POST', '/api/v1/runs', { token: t.tokens.alice, body: { runbook: 42 } }),
      t.json('GET', '/api/v1/workloads/nope', { token: t.tokens.vera }),
      t.json('GET', '/api/v1/nothing-here', { token: t.tokens.vera }),
    ]);
    expect(answers.map((answer) => answer.status)).toEqual([404, 404, 401, 401, 403, 400, 404, 404]);
    for (const { body } of answers) {
      const error = (body as { error: { code: string; hint?: string } }).error;
      expect(error.code).toMatch(/^DRCTL_/);
      expect(error.hint ?? '').not.toMatch(CLI_FLAG);
    }
  });
});
