/** Readiness at a glance: the latest background check, summed up per workload. */
import { z } from 'zod';
import { RedactedJson } from '../api.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { redactAnswer } from '../redact.ts';

const Fact = z.object({
  component: z.string(),
  site: z.string().optional(),
  name: z.string(),
  ok: z.boolean(),
  value: z.union([z.number(), z.string(), z.boolean()]).optional(),
  limit: z.union([z.number(), z.string()]).optional(),
  message: z.string(),
});

const Readiness = z.object({
  checkedAt: z.string().optional().describe('the oldest plan check in the answer; absent before the first'),
  ok: z.boolean(),
  workloads: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      plan: z.string(),
      tier: z.number(),
      strategy: z.string(),
      rtoMs: z.number(),
      rpoMs: z.number(),
      light: z.enum(['green', 'amber', 'red']),
      reasons: z.array(z.string()),
      facts: z.array(Fact),
      lastDrill: z
        .object({
          id: z.string(),
          scenario: z.string(),
          startedAt: z.string(),
          passed: z.boolean(),
          rtoMs: z.number().optional(),
          lostWrites: z.number(),
          rpoMs: z.number().optional(),
        })
        .optional(),
      findings: z.object({ errors: z.number(), warnings: z.number() }),
    }),
  ),
});

export function registerReadiness(api: Api, ctx: ServerContext): void {
  // the view is rebuilt at most once a second: redacted and serialised once for all its readers
  let shared: { view: object; redactor: object; json: RedactedJson } | undefined;
  api.route({
    method: 'GET',
    path: '/readiness',
    role: 'viewer',
    summary: 'Readiness of every workload',
    response: Readiness,
    handler: async () => {
      const view = await ctx.readiness.view();
      const redactor = ctx.plans.redactor;
      if (shared?.view !== view || shared.redactor !== redactor)
        shared = { view, redactor, json: new RedactedJson(redactAnswer(ctx, view)) };
      return shared.json;
    },
  });
  api.route({
    method: 'POST',
    path: '/readiness/check',
    role: 'operator',
    summary: 'Check readiness now',
    description: 'Runs every provider check and probe now and answers with the fresh result.',
    response: Readiness,
    handler: async () => {
      await ctx.readiness.refresh();
      return ctx.readiness.view();
    },
  });
}
