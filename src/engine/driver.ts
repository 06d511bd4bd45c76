/**
 * The run loop: one driver per run at a time (a lease in the store); several runs may be driven by one
 * process. Each turn turns people's input into transitions, starts what can start and ends the run when
 * nothing is left. See ARCHITECTURE.md for the states, the record order and the resume rules.
 */
import { hostname } from 'node:os';
import { RECORD } from './journal.ts';
import type { RunDriver, RunOutcome } from './options.ts';
import { AbandonedSignal, abortRunning, cancelTurn, StoppedSignal } from './cancellation.ts';
import { ENGINE_ACTOR } from './records.ts';
import { recoverInFlight } from './resume.ts';
import { rollback, rollbackChild } from './rollback.ts';
import { RunContext } from './run-context.ts';
import type { RunContextOptions } from './run-context.ts';
import { isFinal } from './state.ts';
import { startAttempt } from './step-execution.ts';
import { answerWaiting } from './waiting.ts';

/** Default time steps in flight get to finish when a driver stops. */
const STOP_GRACE_MS = 10_000;

export class Driver implements RunDriver {
  readonly runId: string;
  done!: Promise<RunOutcome>;
  readonly #run: RunContext;
  /** A renewal is on its way (it may wait out a store outage): the next tick does not send another. */
  #renewing = false;
  #turns = 0;

  constructor(options: RunContextOptions) {
    this.#run = new RunContext(options);
    this.runId = this.#run.runId;
  }

  /** Takes the run's lease (see RunJournal.takeLease). */
  async takeLease(): Promise<void> {
    await this.#run.journal.takeLease();
  }

  launch(): RunDriver {
    this.done = this.#drive();
    return this;
  }

  async cancel(by: string, reason?: string): Promise<void> {
    const run = this.#run;
    if (run.finished || run.state.cancelRequested) return;
    await run.write([
      { type: RECORD.cancelRequested, actor: by, data: reason === undefined ? {} : { reason } },
    ]);
    run.poke();
  }

  async stop(graceMs = STOP_GRACE_MS): Promise<RunOutcome> {
    const run = this.#run;
    if (!run.finished) {
      run.stopping = true;
      run.poke();
    }
    const timer = setTimeout(() => {
      abortRunning(run, new StoppedSignal('the driver stopped'));
      run.journal.givingUp = true;
    }, graceMs);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  async #drive(): Promise<RunOutcome> {
    const run = this.#run;
    const renew = setInterval(
      () => {
        if (this.#renewing) return;
        this.#renewing = true;
        run.journal
          .patiently(() => this.takeLease())
          .catch((error: unknown) => run.fail(error))
          .finally(() => (this.#renewing = false));
      },
      Math.max(50, run.leaseTtlMs / 3),
    );
    renew.unref();
    try {
      await run.write([
        {
          type: RECORD.runDriven,
          actor: run.mode.by,
          data: { pid: process.pid, host: hostname(), resumed: run.mode.resumed },
        },
      ]);
      await run.hook('onRunStart', { ...run.event, resumed: run.mode.resumed });
      await this.#skipChosen();
      await recoverInFlight(run);
      return await this.#loop();
    } catch (error) {
      abortRunning(run, new AbandonedSignal('the driver lost the run'));
      throw error;
    } finally {
      clearInterval(renew);
      for (const timer of run.retryTimers.values()) clearTimeout(timer);
      run.finished = true;
      await run.journal.release();
    }
  }

  /** Turns until the run ends (or waits, with returnWhenWaiting), sleeping between turns until poked. */
  async #loop(): Promise<RunOutcome> {
    const run = this.#run;
    const pollMs = run.engine.pollMs ?? 200;
    for (;;) {
      if (run.fatal !== undefined) throw run.fatal;
      const outcome = await this.#turn();
      if (outcome !== undefined) {
        await run.hook('onRunComplete', {
          ...run.event,
          status: outcome.status,
          durationMs: outcome.durationMs,
        });
        return outcome;
      }
      if (run.fatal !== undefined) throw run.fatal;
      const quiet = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), pollMs);
        run.wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      run.wake = undefined;
      // read operator input when idle for a poll interval, and now and then while steps keep finishing
      if (quiet || (this.#turns += 1) % 64 === 0) await run.journal.catchUp();
    }
  }

  async #skipChosen(): Promise<void> {
    const run = this.#run;
    for (const [id, reason] of run.mode.skip ?? []) {
      const execution = run.executions.get(id);
      if (execution === undefined || run.state.steps.get(id)?.status !== 'pending') continue;
      await run.write([
        { type: RECORD.stepSkipped, step: id, actor: ENGINE_ACTOR, data: { by: run.mode.by, reason } },
      ]);
      await run.hook('onStepComplete', {
        ...run.event,
        step: execution.step,
        status: 'skipped',
        summary: `skipped: ${reason}`,
        actualMs: 0,
      });
    }
  }

  /** One look at the run: turn inputs into transitions, start what can start, finish when done. */
  async #turn(): Promise<RunOutcome | undefined> {
    const run = this.#run;
    const state = run.state;
    if (state.finishedAt !== undefined) return run.outcome(state.status);
    if (run.stopping) return run.running.size > 0 ? undefined : run.outcome(state.status);
    if (state.cancelRequested) return cancelTurn(run);

    for (const id of [...run.attention]) {
      run.attention.delete(id);
      const step = state.steps.get(id);
      if (step === undefined) continue;
      if (step.status === 'waiting') await answerWaiting(run, step);
      else if (
        step.status === 'retrying' &&
        !run.running.has(id) &&
        !run.retryTimers.has(id) &&
        !state.stopping
      ) {
        if ((step.retryAt?.getTime() ?? 0) <= Date.now()) startAttempt(run, step);
        else run.scheduleRetry(step);
      }
    }

    if (state.stopping) {
      if (run.running.size > 0) return undefined;
      if (state.stopping === 'rollback') return rollback(run);
      return run.finish('failed', `step ${state.stoppedBecause ?? '?'} failed`);
    }

    while (run.running.size < run.parallel && run.ready.length > 0) {
      const id = run.nextReady() as string;
      const step = state.steps.get(id);
      if (step?.status !== 'pending' || run.running.has(id)) continue;
      if (run.childStopped(id)) continue;
      startAttempt(run, step);
    }
    for (const [child, stopped] of state.stoppedChildren) {
      if (stopped.how === 'rollback' && !stopped.rolledBack && !run.childRunning(child))
        await rollbackChild(run, child, stopped.because);
    }
    if (run.running.size > 0 || run.retryTimers.size > 0 || run.ready.length > 0) return undefined;
    return this.#settle();
  }

  /** Nothing runs or is queued: the run ends, waits for people, or cannot go on. */
  async #settle(): Promise<RunOutcome | undefined> {
    const run = this.#run;
    const state = run.state;
    let waiting = 0;
    let open = 0;
    for (const step of state.steps.values()) {
      if (step.status === 'waiting') waiting += 1;
      if (!isFinal(step.status)) open += 1;
    }
    if (open === 0) {
      const failed =
        state.toleratedFailure || [...state.steps.values()].some((step) => step.status === 'failed');
      return run.finish(
        failed ? 'failed' : 'succeeded',
        failed ? 'a step failed under on_failure: continue' : undefined,
      );
    }
    if (waiting > 0 && run.mode.returnWhenWaiting) return run.outcome('waiting');
    if (waiting === 0 && run.attention.size === 0) {
      // nothing runs, nothing waits for people and nothing can start: the graph cannot go on
      const stopped = [...state.stoppedChildren].map(([child, why]) => `${child} (step ${why.because})`);
      return run.finish(
        'failed',
        stopped.length > 0
          ? `child ${stopped.join(', ')} failed; what depends on it did not start`
          : 'no step can start: their needs failed',
      );
    }
    return undefined;
  }
}
