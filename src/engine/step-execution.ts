/**
 * One attempt of a step, from its `step-started` to its outcome: the provider action (or the wait, or
 * the checks), validation, the timeout, success (with the steps it lets start in the same append) and
 * failure (retry, escalation).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DrctlError } from '../errors.ts';
import type { Step } from '../plan/model.ts';
import type { ActionContext } from '../providers/provider.ts';
import type { JournalInput } from '../store/store.ts';
import { AbandonedSignal, CancelledSignal, StoppedSignal } from './cancellation.ts';
import { runCheck } from './checks.ts';
import { RECORD } from './journal.ts';
import type { Decision, StepFailureData } from './journal.ts';
import { checkRecord, ENGINE_ACTOR, interruptedRecords, startedRecord } from './records.ts';
import type { RunContext } from './run-context.ts';
import type { StepState } from './state.ts';

/** Starts an attempt; `reserved` is given when its `step-started` is already written (`startableAfter`). */
export function startAttempt(run: RunContext, step: StepState, reserved?: AbortController): void {
  const id = step.snapshot.id;
  const controller = reserved ?? new AbortController();
  run.running.set(id, controller);
  runAttempt(run, step, controller, reserved !== undefined)
    .catch((error: unknown) => run.fail(error))
    .finally(() => {
      run.running.delete(id);
      run.attention.add(id);
      run.poke();
    });
}

async function runAttempt(
  run: RunContext,
  step: StepState,
  controller: AbortController,
  started = false,
): Promise<void> {
  const id = step.snapshot.id;
  const execution = run.executions.get(id);
  if (execution === undefined) throw new Error(`step ${id} is in the run but not in the plan`);
  const planStep = execution.step;
  const attempt = started ? step.attempts : step.attempts + 1;
  if (planStep.kind === 'approval' || planStep.kind === 'manual') {
    await run.write([
      startedRecord(id, attempt),
      {
        type: RECORD.stepWaiting,
        step: id,
        actor: ENGINE_ACTOR,
        data: { for: planStep.kind === 'approval' ? 'approval' : 'confirmation' },
      },
    ]);
    await run.hook('onStepStart', { ...run.event, step: planStep, attempt });
    await run.notifyWaiting(id);
    return;
  }
  if (!started) await run.write([startedRecord(id, attempt)]);
  await run.hook('onStepStart', { ...run.event, step: planStep, attempt });
  const evidence: JournalInput[] = [];
  const timeout =
    planStep.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          controller.abort(
            new DrctlError('DRCTL_STEP_TIMEOUT', `step ${id} did not finish within ${planStep.timeoutMs}ms`),
          );
        }, planStep.timeoutMs);
  const ctx = run.actionContext(planStep, controller.signal, evidence);
  try {
    // a step started beside its predecessor's success may have been cancelled before it got here
    if (controller.signal.aborted) throw controller.signal.reason;
    let summary = 'done';
    let output: Record<string, unknown> | undefined;
    if (execution.action) {
      const result = await execution.action.definition.run(execution.action.params, ctx);
      summary = result.summary;
      output = result.output;
    } else if (planStep.kind === 'wait') {
      summary = await waitStep(run, step, planStep, ctx, evidence);
    }
    if (controller.signal.aborted) throw controller.signal.reason;
    let failedCheck: string | undefined;
    for (const check of planStep.validate) {
      const outcome = await runCheck(check, { providers: run.engine.providers, plan: run.plan, ctx });
      evidence.push(checkRecord(id, outcome));
      if (!outcome.ok && failedCheck === undefined) failedCheck = `${outcome.name}: ${outcome.message}`;
    }
    if (controller.signal.aborted) throw controller.signal.reason;
    if (failedCheck !== undefined) {
      throw new DrctlError('DRCTL_STEP_VALIDATION_FAILED', `step ${id}: validation failed (${failedCheck})`);
    }
    if (planStep.kind === 'check') summary = `${planStep.validate.length} check(s) passed`;
    await succeed(run, step, evidence, summary, output);
  } catch (error) {
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
    await attemptEnded(run, step, attempt, reason, evidence);
  } finally {
    if (timeout) clearTimeout(timeout);
  }
}

/** Writes how an attempt that did not succeed ended: stopped, cancelled, or failed (nothing if abandoned). */
async function attemptEnded(
  run: RunContext,
  step: StepState,
  attempt: number,
  reason: unknown,
  evidence: JournalInput[],
): Promise<void> {
  if (reason instanceof AbandonedSignal) return;
  if (reason instanceof StoppedSignal) {
    await run.write(interruptedRecords(step, attempt, evidence, reason.message));
    return;
  }
  if (reason instanceof CancelledSignal) {
    await run.write([
      ...evidence,
      {
        type: RECORD.stepCancelled,
        step: step.snapshot.id,
        actor: ENGINE_ACTOR,
        data: { attempt, reason: reason.message },
      },
    ]);
    return;
  }
  await failStep(run, step, attempt, reason, evidence, false);
}

/** A wait step: a fixed time from its first start, or until a check passes (by its deadline). */
async function waitStep(
  run: RunContext,
  step: StepState,
  planStep: Step,
  ctx: ActionContext,
  evidence: JournalInput[],
): Promise<string> {
  const wait = planStep.wait;
  const startedAt = step.firstStartedAt?.getTime() ?? Date.now();
  if (wait?.forMs !== undefined) {
    // measured from the first start, so a resumed wait does not start over
    const left = startedAt + wait.forMs - Date.now();
    if (left > 0) await sleep(left, undefined, { signal: ctx.signal });
    return `waited ${wait.forMs}ms`;
  }
  if (wait?.until === undefined) return 'nothing to wait for';
  for (let round = 1; ; round += 1) {
    const outcome = await runCheck(wait.until, { providers: run.engine.providers, plan: run.plan, ctx });
    if (outcome.ok) {
      evidence.push(checkRecord(planStep.id, outcome));
      return `condition met after ${round} check(s)`;
    }
    if (wait.deadlineMs !== undefined && Date.now() + wait.everyMs > startedAt + wait.deadlineMs) {
      evidence.push(checkRecord(planStep.id, outcome));
      throw new DrctlError(
        'DRCTL_WAIT_DEADLINE',
        `step ${planStep.id}: "${outcome.name}" did not pass within ${wait.deadlineMs}ms (${outcome.message})`,
      );
    }
    await sleep(wait.everyMs, undefined, { signal: ctx.signal });
  }
}

/** Writes a step's success (after `before`), with the `step-started` of the steps it lets start. */
export async function succeed(
  run: RunContext,
  step: StepState,
  before: JournalInput[],
  summary: string,
  output?: Record<string, unknown>,
): Promise<void> {
  const id = step.snapshot.id;
  const next = startableAfter(run, step);
  try {
    await run.write([
      ...before,
      {
        type: RECORD.stepSucceeded,
        step: id,
        actor: ENGINE_ACTOR,
        data: { attempt: step.attempts, summary, ...(output ? { output } : {}) },
      },
      ...next.map((ready) => startedRecord(ready.step.snapshot.id, ready.step.attempts + 1)),
    ]);
  } catch (error) {
    for (const ready of next) run.running.delete(ready.step.snapshot.id);
    throw error;
  }
  const execution = run.executions.get(id);
  if (execution)
    await run.hook('onStepComplete', {
      ...run.event,
      step: execution.step,
      status: 'succeeded',
      summary,
      actualMs: step.activeMs,
    });
  for (const ready of next) startAttempt(run, ready.step, ready.controller);
}

/**
 * The steps that may start once `done` succeeds, the next of a chain or the queued ones of a fan-out,
 * up to the parallel limit: their `step-started` goes into the same append as its `step-succeeded`
 * (one commit per step instead of two). They are reserved in `running` at once, so no turn starts
 * them meanwhile. Steps that wait for people start on their own, as before.
 */
function startableAfter(
  run: RunContext,
  done: StepState,
): Array<{ step: StepState; controller: AbortController }> {
  const state = run.state;
  if (run.stopping || run.fatal !== undefined || state.stopping || state.cancelRequested) return [];
  const unblocked = run.unblockedBy(done.snapshot.id);
  const next: Array<{ step: StepState; controller: AbortController }> = [];
  // a step that finishes its attempt still counts in `running` until the attempt returns
  let free = run.parallel - run.running.size + (run.running.has(done.snapshot.id) ? 1 : 0);
  for (const id of [...run.ready, ...unblocked]) {
    if (free <= 0) break;
    const step = state.steps.get(id);
    const kind = run.executions.get(id)?.step.kind;
    if (step?.status !== 'pending' || run.running.has(id) || run.childStopped(id)) continue;
    if (kind === undefined || kind === 'approval' || kind === 'manual') continue;
    const controller = new AbortController();
    run.running.set(id, controller);
    next.push({ step, controller });
    free -= 1;
  }
  return next;
}

/** Writes a failed attempt: a retry is scheduled, or the step fails for good (and waits, if it escalates). */
export async function failStep(
  run: RunContext,
  step: StepState,
  attempt: number,
  error: unknown,
  evidence: JournalInput[],
  noRetry: boolean,
): Promise<void> {
  const id = step.snapshot.id;
  const planStep = run.executions.get(id)?.step;
  const code = error instanceof DrctlError ? error.code : 'DRCTL_STEP_FAILED';
  const message = run.redactor.text(error instanceof Error ? error.message : String(error));
  const retries = planStep?.retries ?? { attempts: 0, backoffMs: 0, maxBackoffMs: 0 };
  const final = noRetry || step.failures + 1 > retries.attempts;
  const retryInMs = final
    ? undefined
    : Math.min(retries.maxBackoffMs, retries.backoffMs * 2 ** step.failures);
  const failure: StepFailureData = {
    attempt,
    code,
    message,
    final,
    ...(retryInMs === undefined ? {} : { retryInMs }),
    ...(code === 'DRCTL_STEP_TIMEOUT' ? { timedOut: true } : {}),
  };
  const records: JournalInput[] = [
    ...evidence,
    { type: RECORD.stepFailed, step: id, actor: ENGINE_ACTOR, data: { ...failure } },
  ];
  const escalate = final && step.snapshot.onFailure === 'escalate';
  if (escalate) {
    records.push({
      type: RECORD.stepWaiting,
      step: id,
      actor: ENGINE_ACTOR,
      data: {
        for: 'decision',
        reason: 'escalated',
        options: ['retry', 'skip', 'abort'] satisfies Decision[],
        ...(step.snapshot.escalateTo ? { escalateTo: step.snapshot.escalateTo } : {}),
      },
    });
  }
  run.log.warn({ step: id, attempt, code, final }, message);
  await run.write(records);
  if (planStep) {
    await run.hook('onStepError', {
      ...run.event,
      step: planStep,
      attempt,
      code,
      message,
      final,
      escalateTo: step.snapshot.escalateTo,
    });
  }
  if (escalate) await run.notifyWaiting(id);
  if (!final) run.scheduleRetry(step);
}
