/**
 * What people do to a run from the server — approve, reject, confirm, decide, cancel, resume — in one
 * place for the API routes (routes/runs.ts) and the console's forms (console/). Each action checks the
 * role it needs here, calls the engine's operator function with the person's name (so approver lists,
 * quorum and four-eyes hold as in the CLI), and tells live clients at once.
 */
import { z } from 'zod';
import { approveStep, confirmStep, decideStep, rejectStep } from '../engine/index.ts';
import type { Decision } from '../engine/index.ts';
import { allows } from './auth.ts';
import type { Principal, Role } from './auth.ts';
import type { ServerContext } from './context.ts';
import { ApiError } from './errors.ts';
import { notFound } from './runs.ts';

/** The role each action needs; the API routes declare these, and the console's forms are held to them. */
export const RUN_ACTION_ROLES = {
  approve: 'approver',
  reject: 'approver',
  confirm: 'operator',
  decide: 'operator',
  cancel: 'operator',
  resume: 'operator',
} as const satisfies Record<string, Role>;

export type RunAction = keyof typeof RUN_ACTION_ROLES;

export const RunParams = z.object({ id: z.string().min(1).max(100) });
export const StepParams = RunParams.extend({ step: z.string().min(1).max(200) });
export const Text = z.string().max(10_000);

/**
 * How the actions whose requests are the same over the API and from a console form are asked for:
 * method, path (under /api/v1 for the API, absolute for the console), role, parameters and body.
 * Confirm and reject take a different body from a form (a text field for evidence, `note` as the reason).
 */
export const RUN_ACTION_REQUESTS = {
  approve: {
    method: 'POST',
    path: '/runs/:id/steps/:step/approve',
    role: RUN_ACTION_ROLES.approve,
    params: StepParams,
    body: z.object({ note: Text.optional() }),
  },
  decide: {
    method: 'POST',
    path: '/runs/:id/steps/:step/decide',
    role: RUN_ACTION_ROLES.decide,
    params: StepParams,
    body: z.object({ choice: z.enum(['retry', 'skip', 'done', 'abort']) }),
  },
  cancel: {
    method: 'POST',
    path: '/runs/:id/cancel',
    role: RUN_ACTION_ROLES.cancel,
    params: RunParams,
    body: z.object({ reason: Text.optional() }),
  },
  resume: {
    method: 'POST',
    path: '/runs/:id/resume',
    role: RUN_ACTION_ROLES.resume,
    params: RunParams,
    body: z.object({}),
  },
} as const;

interface StepInput {
  runId: string;
  step: string;
}

export interface RunActions {
  approve(principal: Principal | undefined, input: StepInput & { note?: string | undefined }): Promise<void>;
  reject(principal: Principal | undefined, input: StepInput & { reason?: string | undefined }): Promise<void>;
  confirm(
    principal: Principal | undefined,
    input: StepInput & { note?: string | undefined; evidence?: Record<string, string> | undefined },
  ): Promise<void>;
  decide(principal: Principal | undefined, input: StepInput & { choice: Decision }): Promise<void>;
  cancel(
    principal: Principal | undefined,
    input: { runId: string; reason?: string | undefined },
  ): Promise<void>;
  resume(principal: Principal | undefined, input: { runId: string }): Promise<void>;
}

/** Refuses a person whose role does not allow the action, naming the role it needs. */
function mayAct(principal: Principal | undefined, action: RunAction): string {
  const role = RUN_ACTION_ROLES[action];
  const what = action === 'cancel' || action === 'resume' ? 'runs' : 'steps';
  if (principal === undefined || !allows(principal.role, role))
    throw ApiError.roleMissing(principal?.name ?? 'you', `${action} ${what}`, role);
  return principal.name;
}

export function runActions(ctx: ServerContext): RunActions {
  /** After people act: live clients see the record now, whoever drives the run. */
  const acted = async (runId: string): Promise<void> => {
    await ctx.watcher.check(runId);
  };
  return {
    async approve(principal, { runId, step, note }) {
      const by = mayAct(principal, 'approve');
      await approveStep(ctx.store, { runId, step, by, ...(note === undefined ? {} : { note }) });
      await acted(runId);
    },
    async reject(principal, { runId, step, reason }) {
      const by = mayAct(principal, 'reject');
      await rejectStep(ctx.store, { runId, step, by, ...(reason === undefined ? {} : { reason }) });
      await acted(runId);
    },
    async confirm(principal, { runId, step, note, evidence }) {
      const by = mayAct(principal, 'confirm');
      await confirmStep(ctx.store, {
        runId,
        step,
        by,
        ...(note === undefined ? {} : { note }),
        ...(evidence === undefined ? {} : { evidence }),
      });
      await acted(runId);
    },
    async decide(principal, { runId, step, choice }) {
      const by = mayAct(principal, 'decide');
      await decideStep(ctx.store, { runId, step, by, choice });
      await acted(runId);
    },
    async cancel(principal, { runId, reason }) {
      const by = mayAct(principal, 'cancel');
      await ctx.runs.cancel(runId, by, reason);
      await acted(runId);
    },
    async resume(principal, { runId }) {
      const by = mayAct(principal, 'resume');
      if ((await ctx.store.getRun(runId)) === undefined) throw notFound(runId);
      await ctx.runs.resume(runId, by);
      await acted(runId);
    },
  };
}
