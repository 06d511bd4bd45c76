/**
 * Errors people can act on. Every user-facing error carries a stable code (listed in docs/errors.md),
 * a message naming the thing and the place, and a hint saying how to fix it. The kinds differ in who
 * reads them and what they need:
 *
 * - `PlanInvalidError`: problems in a plan file, each with file:line:column and a hint.
 * - `UsageError`: the command line or this machine is not as the command needs (bad flag, missing file,
 *   missing binary); the CLI exits 2 on it, the API answers 400 unless its code says otherwise.
 * - `StepFailure`: a provider action failed while a run executed it; the engine journals its code and
 *   message, and whether trying again may help.
 * - `ApiError` (server/errors.ts): an answer a route chooses on purpose, with its HTTP status.
 * - `DrctlError`: the base of them all, and any other local error (a run that cannot go on, a store
 *   that cannot be read).
 *
 * The CLI turns errors into exit codes in one place (src/cli/main.ts), the server into HTTP answers in
 * one place (src/server/errors.ts); nothing else prints a stack.
 */

/** Where in a plan file something is. Lines and columns start at 1. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface DrctlErrorOptions {
  /** How to fix it, in the words of whoever raised it: a CLI command may name its flags here. */
  hint?: string;
  /**
   * The hint an API client reads, where `hint` speaks of the command line (flags). An API answer never
   * carries a hint that names a flag: without `apiHint`, such a hint is replaced (server/errors.ts).
   * @default hint
   */
  apiHint?: string;
  location?: SourceLocation;
  /**
   * The CLI's exit code: 1 the plan or the run failed, 2 usage or environment. New code throws a
   * `UsageError` for 2 instead of setting this; the option stays for errors written before the kinds.
   * @default 1
   */
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
  /** Read by the CLI only (src/cli/main.ts); the API answers from the code and the kind. */
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

export interface StepFailureOptions {
  hint?: string;
  /** Whether the same action may succeed when tried again (a timeout, a refused connection). @default false */
  retryable?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * A provider action that failed while a run executed it: what the engine journals (code and message),
 * with the facts that explain it in `details`. Not a usage error: the run, not the command line, failed.
 */
export class StepFailure extends DrctlError {
  override name = 'StepFailure';
  readonly retryable: boolean;

  constructor(code: string, message: string, options: StepFailureOptions = {}) {
    const { retryable = false, ...rest } = options;
    super(code, message, rest);
    this.retryable = retryable;
  }
}

/** A run id the store at hand does not hold; `where` names that store. */
export function runNotFound(runId: string, where = 'this state directory'): UsageError {
  return new UsageError('DRCTL_RUN_NOT_FOUND', `run ${runId} is not in ${where}`, {
    hint: 'list runs with `drctl status`, or pass the --state the run was started with',
    apiHint: 'list runs with GET /api/v1/runs',
  });
}

/** Another live drctl process holds the run's lease; `holder` is what the lease says of it. */
export function runLocked(runId: string, holder: { pid?: number; host?: string } | undefined): UsageError {
  return new UsageError(
    'DRCTL_RUN_LOCKED',
    `run ${runId} is being driven by another drctl process (pid ${holder?.pid ?? '?'} on ${holder?.host ?? '?'})`,
    {
      hint: 'follow it with `drctl status`, or approve and decide from here; only one process drives a run',
      apiHint: `follow it with GET /api/v1/runs/${runId}; approvals and decisions reach the process that drives it`,
      details: { pid: holder?.pid, host: holder?.host },
    },
  );
}

/** Whether `error` is a drctl error with this code: how callers tell the outcomes they expect. */
export function hasCode(error: unknown, code: string): error is DrctlError {
  return error instanceof DrctlError && error.code === code;
}

export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}
