/**
 * The console's runbook pages: every plan's runbooks, one workload's, one rendered runbook.
 */
import { z } from 'zod';
import { findRunbook } from '../../engine/index.ts';
import { renderHtml } from '../../render/index.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { redactText } from '../redact.ts';
import { page } from './layout.ts';
import { runbooksBody } from './pages.ts';
import type { ConsoleKit } from './kit.ts';

export function registerRunbookPages(api: Api, ctx: ServerContext, kit: ConsoleKit): void {
  const { send, analysed } = kit;

  api.page({
    method: 'GET',
    path: '/runbooks',
    role: 'viewer',
    summary: 'Runbooks and findings',
    handler: ({ c, principal }) =>
      send(c, page({ title: 'Runbooks', current: 'runbooks', principal, body: runbooksBody(analysed()) })),
  });

  api.page({
    method: 'GET',
    path: '/runbooks/:workload',
    role: 'viewer',
    summary: "A workload's runbooks and findings",
    params: z.object({ workload: z.string().min(1).max(200) }),
    handler: ({ c, params, principal }) => {
      const plans = analysed().filter(({ plan }) => plan.workloads.some((w) => w.id === params.workload));
      if (plans.length === 0) throw workloadNotFound(params.workload);
      return send(
        c,
        page({
          title: params.workload,
          current: 'runbooks',
          principal,
          body: runbooksBody(plans, params.workload),
        }),
      );
    },
  });

  api.page({
    method: 'GET',
    path: '/runbooks/:workload/:runbook',
    role: 'viewer',
    summary: 'A rendered runbook',
    params: z.object({ workload: z.string().min(1).max(200), runbook: z.string().min(1).max(200) }),
    handler: ({ c, params }) => {
      const plan = ctx.plans
        .list()
        .find((candidate) => candidate.workloads.some((w) => w.id === params.workload));
      if (plan === undefined) throw workloadNotFound(params.workload);
      const ref = `${params.workload}/${params.runbook}`;
      findRunbook(plan, ref);
      return send(c, redactText(ctx, renderHtml(plan, { runbook: ref })));
    },
  });
}

function workloadNotFound(id: string): ApiError {
  return ApiError.notFound(
    'DRCTL_API_WORKLOAD_NOT_FOUND',
    `no workload ${id} in the plans this server serves`,
    'the runbooks page lists them',
  );
}
