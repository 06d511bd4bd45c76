/**
 * What stops a drill before its end, whatever it is doing: a guard (a probe of the plan that must keep
 * passing) failing its `failures` times in a row, the scenario's maximum duration, or an emergency stop
 * (`drctl drill stop`, the API, the console's button), which is a file in the state directory every drill
 * on it watches. On the first of these the drill's `onAbort` runs at once (the runner undoes every fault
 * there), then `signal` aborts so the runner stops the canary and writes the report.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DrillGuard } from '../plan/model.ts';
import { probeOnce } from '../monitor/probe.ts';
import { now, sleep } from './clock.ts';

/** The file an emergency stop writes; drills started before it was written abort. */
export function emergencyStopFile(stateDir: string): string {
  return join(stateDir, 'drill-emergency-stop.json');
}

/** Stop every drill running on this state directory (in any process), as `by`. */
export async function emergencyStop(stateDir: string, by: string, reason?: string): Promise<void> {
  const file = emergencyStopFile(stateDir);
  await mkdir(dirname(file), { recursive: true });
  // written whole, then renamed: a drill polling the file never reads half of it
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, `${JSON.stringify({ at: new Date().toISOString(), by, reason })}\n`);
  await rename(partial, file);
}

export type AbortCause = 'guard' | 'max-duration' | 'emergency-stop';

export interface DrillAbort {
  by: AbortCause;
  reason: string;
  at: number;
}

export interface GuardRecord {
  name: string;
  checks: number;
  failed: number;
  tripped: boolean;
  last: string | undefined;
}

export interface SafetyOptions {
  stateDir: string;
  guards: readonly DrillGuard[];
  maxDurationMs: number;
  /** Runs first when the drill is aborted (undo every fault); its failure is reported, never thrown. */
  onAbort(abort: DrillAbort): Promise<void>;
}

const STOP_POLL_MS = 100;

export class Safety {
  readonly #options: SafetyOptions;
  readonly #controller = new AbortController();
  readonly #stop = new AbortController();
  /** On the wall clock the stop file's `at` is written with (a file's mtime could lag it by a tick). */
  readonly #startedAt = Date.now();
  readonly #loops: Promise<void>[] = [];
  readonly guards: GuardRecord[];
  aborted: DrillAbort | undefined;
  /** Set once `onAbort` has finished (or failed). */
  undone: Promise<void> | undefined;

  private constructor(options: SafetyOptions) {
    this.#options = options;
    this.guards = options.guards.map((g) => ({
      name: g.name,
      checks: 0,
      failed: 0,
      tripped: false,
      last: undefined,
    }));
  }

  static start(options: SafetyOptions): Safety {
    const safety = new Safety(options);
    safety.#loops.push(safety.#watchStop(), safety.#watchTime());
    for (const [index, guard] of options.guards.entries())
      safety.#loops.push(safety.#watchGuard(guard, index));
    return safety;
  }

  /** Aborts when the drill must stop. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  trip(by: AbortCause, reason: string): void {
    if (this.aborted !== undefined || this.#stop.signal.aborted) return;
    this.aborted = { by, reason, at: now() };
    this.undone = this.#options.onAbort(this.aborted).catch(() => undefined);
    this.#controller.abort(new Error(reason));
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#loops);
  }

  async #watchGuard(guard: DrillGuard, index: number): Promise<void> {
    const record = this.guards[index]!;
    let streak = 0;
    while (!this.#stop.signal.aborted && this.aborted === undefined) {
      const begun = now();
      const outcome = await probeOnce(guard.probe, guard.probe, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
      record.checks += 1;
      record.last = outcome.message;
      streak = outcome.ok ? 0 : streak + 1;
      if (!outcome.ok) record.failed += 1;
      if (streak >= guard.probe.failures) {
        record.tripped = true;
        this.trip(
          'guard',
          `guard ${guard.name} failed ${streak} time${streak === 1 ? '' : 's'}: ${outcome.message}`,
        );
        return;
      }
      await sleep(Math.max(0, guard.probe.intervalMs - (now() - begun)), this.#stop.signal);
    }
  }

  async #watchTime(): Promise<void> {
    await sleep(this.#options.maxDurationMs, this.#stop.signal);
    if (!this.#stop.signal.aborted)
      this.trip(
        'max-duration',
        `the drill reached its maximum duration of ${this.#options.maxDurationMs} ms`,
      );
  }

  async #watchStop(): Promise<void> {
    const file = emergencyStopFile(this.#options.stateDir);
    while (!this.#stop.signal.aborted && this.aborted === undefined) {
      const note = await readFile(file, 'utf8')
        .then((text) => JSON.parse(text) as { at?: string; by?: string; reason?: string })
        .catch(() => undefined);
      if (note?.at !== undefined && Date.parse(note.at) >= this.#startedAt) {
        this.trip(
          'emergency-stop',
          `emergency stop by ${note.by ?? 'someone'}${note.reason === undefined ? '' : `: ${note.reason}`}`,
        );
        return;
      }
      await sleep(STOP_POLL_MS, this.#stop.signal);
    }
  }
}
