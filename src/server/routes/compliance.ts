/** The test schedule over HTTP: compliance per workload, drill trends, and the tabletop exercises kept. */
import { z } from 'zod';
import { complianceOf, complianceToJson } from '../../compliance/index.ts';
import { drillTrend } from '../../drill/trends.ts';
import { TABLETOP_COLLECTION } from '../../tabletop/record.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';

const Json = z.record(z.string(), z.unknown());

export function registerCompliance(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/compliance',
    role: 'viewer',
    summary: 'Each required test per workload: last occurrence, result, next due date (docs/compliance.md)',
    query: z.object({ plan: z.string().optional() }),
    response: Json,
    handler: async ({ query }) =>
      complianceToJson(await complianceOf(ctx.plans.get(query.plan), ctx.store, new Date())),
  });
  api.route({
    method: 'GET',
    path: '/trends',
    role: 'viewer',
    summary:
      "Measured RTO, RPO and detection over a scenario's stored drills, and each step against expected",
    query: z.object({ plan: z.string().optional(), workload: z.string(), scenario: z.string() }),
    response: Json,
    handler: async ({ query }) => ({
      ...drillTrend(
        ctx.plans.get(query.plan),
        query.workload,
        query.scenario,
        await ctx.store.listDrillReports({ workload: query.workload, scenario: query.scenario, limit: 1000 }),
      ),
    }),
  });
  api.route({
    method: 'GET',
    path: '/tabletops',
    role: 'viewer',
    summary: 'Tabletop exercises, newest first: attendees, answers per step, open points',
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    response: z.object({ tabletops: z.array(Json) }),
    handler: async ({ query }) => ({
      tabletops: (await ctx.store.listDocuments(TABLETOP_COLLECTION, { limit: query.limit })).map(
        (d) => d.data,
      ),
    }),
  });
}
