/**
 * Errors people can act on. Every user-facing error carries a stable code (listed in docs/errors.md),
 * a message naming the thing and the place, and a hint saying how to fix it. The CLI turns these into
 * exit codes in one place (src/cli/main.ts); nothing else prints a stack.
 */

/** Where in a plan file something is. Lines and columns start at 1. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface DrctlErrorOptions {
  hint?: string;
  /**
   * The hint an API client reads, where `hint` speaks of the command line (flags, commands).
   * @default hint
   */
  apiHint?: string;
  location?: SourceLocation;
  /** 1: the plan or the run failed; 2: usage or environment error. @default 1 */
  exitCode?: 1 | 2;
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class DrctlError extends Error {
  override name = 'DrctlError';
  readonly code: string;
  readonly hint: string | undefined;
  readonly apiHint: string | undefined;
  readonly location: SourceLocation | undefined;
  readonly exitCode: 1 | 2;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: DrctlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.apiHint = options.apiHint;
    this.location = options.location;
    this.exitCode = options.exitCode ?? 1;
    this.details = options.details;
  }
}

/** One problem found in a plan: invalid input, reported with every other problem at once. */
export interface PlanProblem {
  code: string;
  message: string;
  hint?: string;
  location: SourceLocation;
}

/** A plan that failed to load or validate; carries every problem found, not only the first. */
export class PlanInvalidError extends DrctlError {
  override name = 'PlanInvalidError';
  readonly problems: PlanProblem[];

  constructor(problems: PlanProblem[]) {
    const first = problems[0];
    super(first?.code ?? 'DRCTL_PLAN_INVALID', first?.message ?? 'the plan is invalid', {
      ...(first?.hint === undefined ? {} : { hint: first.hint }),
      ...(first === undefined ? {} : { location: first.location }),
    });
    this.problems = problems;
  }
}

/** A usage or environment problem (bad flag, missing file argument, missing binary): exit code 2. */
export class UsageError extends DrctlError {
  override name = 'UsageError';
  constructor(code: string, message: string, options: Omit<DrctlErrorOptions, 'exitCode'> = {}) {
    super(code, message, { ...options, exitCode: 2 });
  }
}

/** A run id the store at hand does not hold; `where` names that store. */
export function runNotFound(runId: string, where = 'this state directory'): UsageError {
  return new UsageError('DRCTL_RUN_NOT_FOUND', `run ${runId} is not in ${where}`, {
    hint: 'list runs with `drctl status`, or pass the --state directory the run was started with',
    apiHint: 'list runs with GET /api/v1/runs',
  });
}

export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}
