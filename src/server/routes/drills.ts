/** Drill reports as `drctl drill` stored them: the list (for trends) and each whole report. */
import { z } from 'zod';
import type { DrillReportRecord } from '../../store/index.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import { ApiError } from '../errors.ts';

const DrillSummary = z.object({
  id: z.string(),
  workload: z.string(),
  scenario: z.string(),
  planHash: z.string().optional(),
  startedAt: z.string(),
  passed: z.boolean(),
  detectionMs: z.number().optional(),
  rtoMs: z.number().optional(),
  lostWrites: z.number(),
});

function summary(record: DrillReportRecord): z.infer<typeof DrillSummary> {
  return {
    id: record.id,
    workload: record.workload,
    scenario: record.scenario,
    ...(record.planHash === undefined ? {} : { planHash: record.planHash }),
    startedAt: record.startedAt.toISOString(),
    passed: record.passed,
    ...(record.detectionMs === undefined ? {} : { detectionMs: record.detectionMs }),
    ...(record.rtoMs === undefined ? {} : { rtoMs: record.rtoMs }),
    lostWrites: record.lostWrites,
  };
}

export function registerDrills(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'GET',
    path: '/drills',
    role: 'viewer',
    summary: 'List drill reports, newest first',
    query: z.object({
      workload: z.string().optional(),
      scenario: z.string().optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
    response: z.object({ drills: z.array(DrillSummary) }),
    handler: async ({ query }) => ({
      drills: (
        await ctx.store.listDrillReports({
          limit: query.limit,
          ...(query.workload === undefined ? {} : { workload: query.workload }),
          ...(query.scenario === undefined ? {} : { scenario: query.scenario }),
        })
      ).map(summary),
    }),
  });
  api.route({
    method: 'GET',
    path: '/drills/:id',
    role: 'viewer',
    summary: 'One drill report (docs/drills.md describes it)',
    params: z.object({ id: z.string() }),
    handler: async ({ params }) => {
      const record = (await ctx.store.listDrillReports({ limit: 10_000 })).find((r) => r.id === params.id);
      if (record === undefined) {
        throw new ApiError(404, 'DRCTL_API_DRILL_NOT_FOUND', `no drill report ${params.id}`, {
          hint: 'list them with GET /api/v1/drills',
        });
      }
      return { ...summary(record), report: record.report };
    },
  });
}
