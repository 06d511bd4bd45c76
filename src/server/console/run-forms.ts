/**
 * The forms people act on a run with from the console: confirm, approve, reject, decide, cancel,
 * resume. Each calls the server's actions (../actions.ts), as the API does, and answers with a redirect
 * to the run page; a refusal becomes a notice there.
 */
import { z } from 'zod';
import type { Api } from '../api.ts';
import { RUN_ACTION_REQUESTS, RUN_ACTION_ROLES, StepParams, Text, runActions } from '../actions.ts';
import type { ServerContext } from '../context.ts';
import { formEvidence } from '../routes/runs.ts';
import type { ConsoleKit } from './kit.ts';

export function registerRunForms(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { act } = kit;
  const runPath = (id: string): string => `/runs/${encodeURIComponent(id)}`;
  const actions = runActions(ctx);

  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/confirm',
    role: RUN_ACTION_ROLES.confirm,
    summary: 'Confirm a manual step',
    params: StepParams,
    files: true,
    body: z.object({ evidence: z.string().max(1_000_000).optional(), note: Text.optional() }),
    handler: ({ c, params, body, files, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.confirm(principal, {
          runId: params.id,
          step: params.step,
          note: body.note,
          evidence: formEvidence(body.evidence, files),
        });
        return undefined;
      }),
  });

  // approve and reject are open to every signed-in person here, so that a refusal (role, four-eyes)
  // is shown on the page with its reason; the actions decide
  api.page({
    ...RUN_ACTION_REQUESTS.approve,
    role: 'viewer',
    summary: 'Approve a step',
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.approve(principal, { runId: params.id, step: params.step, note: body.note });
        return undefined;
      }),
  });

  api.page({
    method: 'POST',
    path: '/runs/:id/steps/:step/reject',
    role: 'viewer',
    summary: 'Reject a step',
    params: StepParams,
    body: z.object({ note: Text.optional(), reason: Text.optional() }),
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        const reason = body.reason ?? body.note;
        await actions.reject(principal, { runId: params.id, step: params.step, reason });
        return undefined;
      }),
  });

  api.page({
    ...RUN_ACTION_REQUESTS.decide,
    summary: 'Decide for an escalated step',
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.decide(principal, { runId: params.id, step: params.step, choice: body.choice });
        return undefined;
      }),
  });

  api.page({
    ...RUN_ACTION_REQUESTS.cancel,
    summary: 'Cancel a run',
    handler: ({ c, params, body, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.cancel(principal, { runId: params.id, reason: body.reason });
        return undefined;
      }),
  });

  api.page({
    ...RUN_ACTION_REQUESTS.resume,
    summary: 'Resume a run',
    handler: ({ c, params, principal }) =>
      act(c, principal, runPath(params.id), async () => {
        await actions.resume(principal, { runId: params.id });
        return undefined;
      }),
  });
}
