/** The plans the server serves: their workloads, and each one rendered as a runbook document. */
import { z } from 'zod';
import type { Plan, Workload } from '../../plan/index.ts';
import { renderHtml, renderMarkdown } from '../../render/index.ts';
import { DOCUMENT_HEADERS, type Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { redactText } from '../redact.ts';

const WorkloadSummary = z.object({
  id: z.string(),
  name: z.string(),
  plan: z.string(),
  tier: z.number(),
  strategy: z.string(),
  owner: z.string(),
  rtoMs: z.number(),
  rpoMs: z.number(),
  runbooks: z.array(z.string()).describe('`workload/name`, as POST /runs takes them'),
  components: z.array(z.object({ id: z.string(), kind: z.string() })),
});

function summary(plan: Plan, workload: Workload): z.infer<typeof WorkloadSummary> {
  return {
    id: workload.id,
    name: workload.name,
    plan: plan.name,
    tier: workload.tier,
    strategy: workload.strategy,
    owner: workload.owner,
    rtoMs: workload.rtoMs,
    rpoMs: workload.rpoMs,
    runbooks: workload.runbooks.map((runbook) => `${workload.id}/${runbook.name}`),
    components: workload.components.map((component) => ({ id: component.id, kind: component.kind })),
  };
}

export function findServedWorkload(ctx: ServerContext, id: string): { plan: Plan; workload: Workload } {
  for (const plan of ctx.plans.list()) {
    const workload = plan.workloads.find((candidate) => candidate.id === id);
    if (workload !== undefined) return { plan, workload };
  }
  throw ApiError.notFound(
    'DRCTL_API_WORKLOAD_NOT_FOUND',
    `no workload ${id} in the plans this server serves`,
    'list them with GET /api/v1/workloads',
  );
}

export function registerPlans(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/plans',
    role: 'viewer',
    summary: 'List the plans served',
    response: z.object({
      plans: z.array(
        z.object({
          name: z.string(),
          hash: z.string(),
          description: z.string().optional(),
          workloads: z.array(WorkloadSummary),
        }),
      ),
    }),
    handler: () => ({
      plans: ctx.plans.list().map((plan) => ({
        name: plan.name,
        hash: plan.hash,
        description: plan.description,
        workloads: plan.workloads.map((workload) => summary(plan, workload)),
      })),
    }),
  });
  api.route({
    method: 'POST',
    path: '/plans/reload',
    role: 'admin',
    summary: 'Load the plan files again',
    description: 'A plan that no longer loads leaves the old set in place; the answer names its problem.',
    response: z.object({ plans: z.array(z.object({ name: z.string(), hash: z.string() })) }),
    handler: async () => {
      await ctx.plans.reload(ctx.providers);
      return { plans: ctx.plans.list().map((plan) => ({ name: plan.name, hash: plan.hash })) };
    },
  });
  api.route({
    method: 'GET',
    path: '/workloads',
    role: 'viewer',
    summary: 'List every workload',
    response: z.object({ workloads: z.array(WorkloadSummary) }),
    handler: () => ({
      workloads: ctx.plans
        .list()
        .flatMap((plan) => plan.workloads.map((workload) => summary(plan, workload))),
    }),
  });
  api.route({
    method: 'GET',
    path: '/workloads/:id',
    role: 'viewer',
    summary: 'One workload as the plan compiles it',
    description:
      'Components, placements, flows and runbooks with their steps; URL passwords and secrets masked.',
    params: z.object({ id: z.string() }),
    handler: ({ params }) => {
      const { plan, workload } = findServedWorkload(ctx, params.id);
      return { plan: plan.name, planHash: plan.hash, workload };
    },
  });
  api.route({
    method: 'GET',
    path: '/plans/:name/runbook',
    role: 'viewer',
    summary: 'The plan rendered as a runbook document',
    description: 'Self-contained HTML (the default) or Markdown, as `drctl render` writes it.',
    params: z.object({ name: z.string() }),
    query: z.object({
      format: z.enum(['html', 'md']).default('html'),
      runbook: z.string().optional().describe('only this runbook, `workload/name`'),
    }),
    handler: ({ params, query, c }) => {
      const plan = ctx.plans.get(params.name);
      const options = query.runbook === undefined ? {} : { runbook: query.runbook };
      const text = redactText(
        ctx,
        query.format === 'md' ? renderMarkdown(plan, options) : renderHtml(plan, options),
      );
      return c.body(text, 200, {
        ...DOCUMENT_HEADERS,
        'content-type': query.format === 'md' ? 'text/markdown; charset=utf-8' : 'text/html; charset=utf-8',
      });
    },
  });
}
