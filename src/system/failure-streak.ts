/**
 * A job that runs again and again (a tick, a look for work) and may fail for a long time in a row (the
 * state store down): the first failure of a streak is logged, the repeats are only counted, the job is
 * skipped for longer and longer, and the end of the streak is logged once with how long it lasted.
 */
import type { Logger } from 'pino';

export interface FailureStreakOptions {
  /** What fails, as the log says it: `communications tick`. */
  what: string;
  /** First pause after a failure. @default 250 */
  firstPauseMs?: number;
  /** Longest pause. @default 10000 */
  maxPauseMs?: number;
}

export class FailureStreak {
  readonly #log: Logger | undefined;
  readonly #options: FailureStreakOptions;
  #failures = 0;
  #since = 0;
  #until = 0;
  #said: string | undefined;

  constructor(log: Logger | undefined, options: FailureStreakOptions) {
    this.#log = log;
    this.#options = options;
  }

  /** True while the job should be skipped (a pause after a failure). */
  get pausing(): boolean {
    return Date.now() < this.#until;
  }

  failed(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    if (this.#failures === 0) this.#since = Date.now();
    this.#failures += 1;
    const first = this.#options.firstPauseMs ?? 250;
    const pause = Math.min(this.#options.maxPauseMs ?? 10_000, first * 2 ** Math.min(this.#failures - 1, 16));
    this.#until = Date.now() + pause;
    // said once per streak, and again only when the reason changes
    if (this.#said === message) return;
    this.#said = message;
    this.#log?.warn(
      { error: message, retryInMs: pause },
      `${this.#options.what} failed; trying again less and less often, and saying so once`,
    );
  }

  succeeded(): void {
    if (this.#failures === 0) return;
    this.#log?.info(
      { failures: this.#failures, forMs: Date.now() - this.#since },
      `${this.#options.what} works again`,
    );
    this.#failures = 0;
    this.#until = 0;
    this.#said = undefined;
  }
}
