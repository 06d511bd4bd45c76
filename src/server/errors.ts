/**
 * The one place that turns errors into HTTP answers. Everything a handler throws comes through here: a
 * DrctlError keeps its code, message and hint with a status chosen from the code; anything else is a
 * 500 with a generic message (its stack goes to the server's log, never to the client).
 */
import { DrctlError, PlanInvalidError } from '../errors.ts';

/** An answer a route chooses on purpose: a status, a stable code, and words a person can act on. */
export class ApiError extends DrctlError {
  override name = 'ApiError';
  readonly status: number;
  /** The request field the error is about (`body.note`, `params.id`), for 400s. */
  readonly field: string | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { hint?: string; field?: string; cause?: unknown } = {},
  ) {
    super(code, message, {
      exitCode: 2,
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = status;
    this.field = options.field;
  }
}

/** Status for the engine's and the store's codes; other DrctlErrors are the client's input (400). */
const STATUS_BY_CODE: Record<string, number> = {
  DRCTL_RUN_NOT_FOUND: 404,
  DRCTL_TOKEN_NOT_FOUND: 404,
  DRCTL_STEP_NOT_FOUND: 404,
  DRCTL_RUN_RUNBOOK_NOT_FOUND: 404,
  DRCTL_APPROVAL_FOUR_EYES: 403,
  DRCTL_APPROVAL_NOT_ALLOWED: 403,
  DRCTL_APPROVAL_DUPLICATE: 409,
  DRCTL_STEP_NOT_WAITING: 409,
  DRCTL_RUN_FINISHED: 409,
  DRCTL_RUN_LOCKED: 409,
  DRCTL_STORE_CONFLICT: 409,
  DRCTL_DECISION_DUPLICATE: 409,
  DRCTL_DECISION_INVALID: 409,
  DRCTL_RUN_PLAN_CHANGED: 409,
  DRCTL_RUN_LEASE_LOST: 409,
  DRCTL_INCIDENT_NOT_FOUND: 404,
  DRCTL_INCIDENT_RESOLVED: 409,
  DRCTL_SITE_RUN_OPEN: 409,
  DRCTL_SITE_DECLARING: 409,
};

export interface ErrorBody {
  error: { code: string; message: string; hint?: string; field?: string };
}

export interface HttpError {
  status: number;
  body: ErrorBody;
  /** Errors the server did not expect: logged with their stack. */
  unexpected: boolean;
}

export function httpError(error: unknown): HttpError {
  if (error instanceof ApiError) {
    return { status: error.status, body: bodyOf(error, error.field), unexpected: false };
  }
  if (error instanceof PlanInvalidError) {
    return { status: 422, body: bodyOf(error, undefined), unexpected: false };
  }
  if (error instanceof DrctlError) {
    const status = STATUS_BY_CODE[error.code] ?? (error.exitCode === 2 ? 400 : 422);
    return { status, body: bodyOf(error, undefined), unexpected: false };
  }
  return {
    status: 500,
    body: {
      error: {
        code: 'DRCTL_INTERNAL',
        message: 'the server failed to answer this request',
        hint: "the server's log has the details",
      },
    },
    unexpected: true,
  };
}

function bodyOf(error: DrctlError, field: string | undefined): ErrorBody {
  // an API client is told what to do over the API, not which flag to pass
  const hint = error.apiHint ?? error.hint;
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(hint === undefined ? {} : { hint }),
      ...(field === undefined ? {} : { field }),
    },
  };
}
