/**
 * The streams of one transfer (a tar from one side, a tar into the other, commands between): the first
 * failure of any of them stops all of them and is the one reported, so a host that drops off mid-transfer
 * fails the step with DRCTL_HOST_UNREACHABLE at once, never a hang behind a stream no one reads any more.
 */
import type { Executor, RunResult, StreamHandle } from '../exec/index.ts';
import { transferFailed } from './host-store.ts';

export class Transfer {
  private readonly controller = new AbortController();
  private first: { error: unknown } | undefined;
  private rejectFailed: (error: unknown) => void = () => undefined;
  /** Rejects with the first failure. */
  readonly failed: Promise<never>;

  constructor(signal: AbortSignal | undefined, cancelled: () => unknown) {
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined); // raced against the work, never awaited alone
    if (signal?.aborted === true) this.fail(cancelled());
    signal?.addEventListener('abort', () => this.fail(cancelled()), { once: true });
  }

  /** Aborted at the first failure: every stream of the transfer is started with it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  fail(error: unknown): void {
    if (this.first !== undefined) return;
    this.first = { error };
    this.rejectFailed(error);
    this.controller.abort(error);
  }

  /** Stop every stream of the transfer: what it was for is done. What they report then is no failure. */
  end(): void {
    this.first ??= { error: undefined };
    this.controller.abort();
  }

  /** The first failure, else `error`. */
  reason(error: unknown): unknown {
    return this.first === undefined ? error : this.first.error;
  }

  /** `work`, unless the transfer failed first. */
  guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failed]);
  }

  /** A stream's command: an exit outside `ok` (or its host dropping off) fails the transfer. */
  watch(
    handle: StreamHandle,
    executor: Executor,
    what: string,
    ok: readonly number[] = [0],
  ): Promise<RunResult> {
    const done = handle.done.then(
      (result) => {
        if (result.exitCode === null || !ok.includes(result.exitCode)) {
          const error = transferFailed(executor, what, result);
          this.fail(error);
          throw error;
        }
        return result;
      },
      (error: unknown) => {
        this.fail(error);
        throw error;
      },
    );
    done.catch(() => undefined); // reported through `failed`
    return done;
  }
}
