/**
 * Time and failure wording shared by the canary and the prober.
 */

/** Wall-clock milliseconds since the epoch, with sub-millisecond precision and without Date's jumps. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A short, stable reason for a failed request, for the report: `timeout`, `ECONNREFUSED`, `http 503 read-only`.
 * fetch hides the socket error in `cause`, sometimes two levels deep.
 */
export function failureReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return 'timeout';
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    if (current.cause === undefined) return current.message;
    current = current.cause;
  }
  return String(current instanceof Error ? current.message : current);
}

/** Resolves after `ms`, early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
