/**
 * The one place that turns errors into HTTP answers. Everything a handler throws comes through here: a
 * DrctlError keeps its code, message and hint with a status chosen from the code; anything else is a
 * 500 with a generic message (its stack goes to the server's log, never to the client).
 */
import { DrctlError, PlanInvalidError, UsageError } from '../errors.ts';

/**
 * An answer a route chooses on purpose: a status, a stable code, and words a person can act on over
 * HTTP (a hint names routes and fields, never a CLI flag). The common answers have constructors.
 */
export class ApiError extends DrctlError {
  override name = 'ApiError';
  readonly status: number;
  /** The request field the error is about (`body.note`, `params.id`), for 400s. */
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, options: ApiErrorOptions = {}) {
    super(code, message, {
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.status = status;
    this.field = options.field;
  }

  /** 400: the request does not say what the route needs. */
  static invalid(message: string, options: ApiErrorOptions = {}): ApiError {
    return new ApiError(400, 'DRCTL_API_INVALID', message, options);
  }

  /** 401: no token and no session. */
  static tokenMissing(): ApiError {
    return new ApiError(401, 'DRCTL_API_UNAUTHENTICATED', 'this needs a token', {
      hint: 'send Authorization: Bearer TOKEN, or sign in to the console',
    });
  }

  /** 401: a token that is not (or no longer) valid. */
  static tokenInvalid(message: string, options: Pick<ApiErrorOptions, 'field'> = {}): ApiError {
    return new ApiError(401, 'DRCTL_API_TOKEN_INVALID', message, {
      ...options,
      hint: 'ask an admin for a token (POST /api/v1/tokens); revoked tokens stop working',
    });
  }

  /** 403: `who` may not do `what`: it needs `role`. */
  static roleMissing(who: string, what: string, role: string): ApiError {
    return new ApiError(403, 'DRCTL_API_FORBIDDEN', `${who} may not ${what}`, {
      hint: `this needs the ${role} role (or admin)`,
    });
  }

  /** 404: nothing by that name or id; the hint says where to list what there is. */
  static notFound(code: string, message: string, hint?: string): ApiError {
    return new ApiError(404, code, message, hint === undefined ? {} : { hint });
  }

  /** 409: the thing exists but is not in a state that allows this. */
  static conflict(code: string, message: string, hint?: string): ApiError {
    return new ApiError(409, code, message, hint === undefined ? {} : { hint });
  }

  /** 503: the server is shutting down and takes no new work. */
  static stopping(): ApiError {
    return new ApiError(503, 'DRCTL_API_STOPPING', 'the server is stopping', {
      hint: 'try again once it is back',
    });
  }
}

export interface ApiErrorOptions {
  hint?: string;
  field?: string;
  cause?: unknown;
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
    const usage = error instanceof UsageError || error.exitCode === 2;
    const status = STATUS_BY_CODE[error.code] ?? (usage ? 400 : 422);
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
  const hint = apiHintOf(error);
  return {
    error: {
      code: error.code,
      message: error.message,
      ...(hint === undefined ? {} : { hint }),
      ...(field === undefined ? {} : { field }),
    },
  };
}

/** A CLI flag (`--state`, `--json`) in a hint: words for the command line, not for an API client. */
export const CLI_FLAG = /(?<![\w-])--[a-z][\w-]*/i;

/**
 * The hint an API client reads: `apiHint` where the error has one; else its hint, unless that speaks of
 * CLI flags — errors raised below the server (the engine, the stores) are mostly written for the
 * command line, and an API client told to "pass --state" cannot act on it.
 */
export function apiHintOf(error: DrctlError): string | undefined {
  if (error.apiHint !== undefined) return error.apiHint;
  if (error.hint === undefined || !CLI_FLAG.test(error.hint)) return error.hint;
  return `docs/errors.md explains ${error.code}`;
}
