/**
 * HTTP probing: request a URL and compare the answer (status, body, JSON fields, latency) with what is
 * expected. Never throws for what it observes: a refused connection, a timeout or a wrong status are
 * results with `ok: false`, so callers can report them as facts.
 */

/** How much of a response body is kept as evidence. Larger bodies are cut, never kept whole. */
export const BODY_EXCERPT_LIMIT = 2_048;

export interface HttpProbeOptions {
  url: string;
  /** @default 'GET' */
  method?: string;
  headers?: Record<string, string>;
  /** Sent as is; an object is sent as JSON with a JSON content type. */
  body?: string | Record<string, unknown> | unknown[];
  /** Expected status; any of them passes. @default [200] */
  status?: number | readonly number[];
  bodyContains?: string;
  /** Dotted path (`data.items.0.id`) → expected value, compared as JSON. */
  json?: Record<string, unknown>;
  /** Fails when the response takes longer than this, even if it is otherwise right. */
  latencyBudgetMs?: number;
  /** Abort the request after this long. @default 5000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** @default BODY_EXCERPT_LIMIT */
  bodyLimit?: number;
}

export interface HttpProbeResult {
  ok: boolean;
  url: string;
  /** Undefined when no response came back (refused, timed out, aborted). */
  status: number | undefined;
  /** Time to the full body, in ms. */
  latencyMs: number;
  /** The body's first `bodyLimit` characters. */
  bodyExcerpt: string;
  bodyTruncated: boolean;
  /** Every expectation that did not hold, in words; empty when ok. */
  failures: string[];
  /** One line for people. */
  message: string;
}

/** Requests `url` and compares the answer with the expectations. Never throws for what it observes. */
export async function probeHttp(options: HttpProbeOptions): Promise<HttpProbeResult> {
  const method = (options.method ?? 'GET').toUpperCase();
  const timeoutMs = options.timeoutMs ?? 5_000;
  const limit = options.bodyLimit ?? BODY_EXCERPT_LIMIT;
  const expected =
    options.status === undefined
      ? [200]
      : typeof options.status === 'number'
        ? [options.status]
        : options.status;
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (typeof options.body === 'string') body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (options.signal) signals.push(options.signal);

  const started = performance.now();
  let status: number | undefined;
  let text = '';
  const failures: string[] = [];
  try {
    const response = await fetch(options.url, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.any(signals),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const latencyMs = performance.now() - started;
    const reason = describeFetchError(error, timeoutMs, options.signal);
    return {
      ok: false,
      url: options.url,
      status: undefined,
      latencyMs,
      bodyExcerpt: '',
      bodyTruncated: false,
      failures: [reason],
      message: `${method} ${options.url}: ${reason}`,
    };
  }
  const latencyMs = performance.now() - started;

  if (!expected.includes(status)) failures.push(`status ${status}, expected ${expected.join(' or ')}`);
  if (options.bodyContains !== undefined && !text.includes(options.bodyContains)) {
    failures.push(`body does not contain ${JSON.stringify(options.bodyContains)}`);
  }
  if (options.json !== undefined) failures.push(...compareJson(text, options.json));
  if (options.latencyBudgetMs !== undefined && latencyMs > options.latencyBudgetMs) {
    failures.push(`took ${Math.round(latencyMs)}ms, over the ${options.latencyBudgetMs}ms budget`);
  }
  const ok = failures.length === 0;
  const message = ok
    ? `${method} ${options.url}: ${status} in ${Math.round(latencyMs)}ms`
    : `${method} ${options.url}: ${failures.join('; ')}`;
  return {
    ok,
    url: options.url,
    status,
    latencyMs,
    bodyExcerpt: text.slice(0, limit),
    bodyTruncated: text.length > limit,
    failures,
    message,
  };
}

function describeFetchError(error: unknown, timeoutMs: number, outer: AbortSignal | undefined): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return outer?.aborted ? 'cancelled' : `no answer within ${timeoutMs}ms`;
  }
  // fetch wraps the socket error ("fetch failed"); the cause says what really happened
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  return cause instanceof Error ? cause.message : String(cause);
}

/** Compares dotted JSON paths of `text` with expected values; returns what differs. */
export function compareJson(text: string, expected: Record<string, unknown>): string[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return ['body is not JSON'];
  }
  const failures: string[] = [];
  for (const [path, want] of Object.entries(expected)) {
    const found = jsonPath(document, path);
    if (!found.present) failures.push(`JSON field ${path} is missing`);
    else if (JSON.stringify(found.value) !== JSON.stringify(want)) {
      failures.push(`JSON field ${path} is ${JSON.stringify(found.value)}, expected ${JSON.stringify(want)}`);
    }
  }
  return failures;
}

/** Follows a dotted path (`a.b.0.c`); array indexes are numbers. */
export function jsonPath(document: unknown, path: string): { present: boolean; value: unknown } {
  let current: unknown = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part))
      return { present: false, value: undefined };
    current = (current as Record<string, unknown>)[part];
  }
  return { present: true, value: current };
}
