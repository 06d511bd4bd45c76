/**
 * Drills: start one (run for real by this server, src/server/drills.ts), follow and cancel its job, and
 * read the reports every drill stored, wherever it ran (the list, for trends, and each whole report).
 */
import { z } from 'zod';
import type { DrillReportRecord } from '../../store/index.ts';
import type { Api } from '../api.ts';
import type { ServerContext } from '../context.ts';
import type { DrillJob } from '../drills.ts';
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

const DrillJobSchema = z.object({
  id: z.string(),
  plan: z.string(),
  workload: z.string(),
  scenario: z.string(),
  startedBy: z.string(),
  startedAt: z.string(),
  status: z.enum(['running', 'passed', 'failed', 'error', 'cancelled', 'interrupted']),
  endedAt: z.string().optional(),
  reportId: z.string().optional().describe('GET /api/v1/drills/{reportId} once the drill measured'),
  error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).optional(),
  progress: z.array(z.object({ at: z.string(), line: z.string() })),
  drillId: z.string().optional().describe('the drill id `drctl drill continue|note` take'),
  pause: z.boolean().optional(),
  steps: z.string().optional(),
});

const JobParams = z.object({ id: z.string().min(1).max(100) });

function shown(job: DrillJob): z.infer<typeof DrillJobSchema> {
  const { host: _host, pid: _pid, ...rest } = job;
  return rest;
}

export function registerDrills(api: Api, ctx: ServerContext): void {
  api.route({
    method: 'POST',
    path: '/drills',
    role: 'operator',
    summary: 'Start a drill',
    description:
      "Runs the scenario for real in this server (environment up, faults injected, failover measured); the answer is the drill's job, which ends with a report. One drill per workload at a time.",
    status: 202,
    body: z.object({
      scenario: z.string().min(1).max(200),
      plan: z.string().optional().describe('needed when the server serves several plans'),
      failback: z.boolean().default(false).describe("also run and measure the workload's failback"),
      pause: z
        .boolean()
        .default(false)
        .describe('hold the failover after the fault until POST /drill-jobs/{id}/continue'),
      steps: z.string().max(2000).optional().describe('only these runbook steps run: a..b or a,b'),
      approvedBy: z
        .string()
        .max(200)
        .optional()
        .describe(
          'an existing environment with a production site: the approver (one of activation.approvers)',
        ),
    }),
    response: DrillJobSchema,
    handler: async ({ body, principal }) =>
      shown(
        await ctx.drills.start({
          plan: ctx.plans.get(body.plan),
          scenario: body.scenario,
          startedBy: principal?.name ?? 'unknown',
          failback: body.failback,
          pause: body.pause,
          ...(body.steps === undefined ? {} : { steps: body.steps }),
          ...(body.approvedBy === undefined ? {} : { approvedBy: body.approvedBy }),
        }),
      ),
  });
  api.route({
    method: 'POST',
    path: '/drills/stop',
    role: 'operator',
    summary: 'Emergency stop: abort every running drill at once',
    description:
      'Every drill running on the state directory (this server or any drctl drill process) aborts within about a second: its faults are undone, its canary stopped, its report says why. Waits up to 5 s for the drills of this server to end.',
    body: z.object({ reason: z.string().max(500).optional() }).optional(),
    response: z.object({
      stopped: z.array(z.string()).describe("this server's drill jobs that were running"),
    }),
    handler: async ({ body, principal }) => ({
      stopped: await ctx.drills.emergencyStop(principal?.name ?? 'unknown', body?.reason),
    }),
  });
  api.route({
    method: 'GET',
    path: '/drill-jobs',
    role: 'viewer',
    summary: 'Drills started through a server, newest first',
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(50) }),
    response: z.object({ jobs: z.array(DrillJobSchema) }),
    handler: async ({ query }) => ({ jobs: (await ctx.drills.list(query.limit)).map(shown) }),
  });
  api.route({
    method: 'GET',
    path: '/drill-jobs/:id',
    role: 'viewer',
    summary: "One drill job: status, progress lines, its report's id",
    params: JobParams,
    response: DrillJobSchema,
    handler: async ({ params }) => shown(await ctx.drills.get(params.id)),
  });
  api.route({
    method: 'POST',
    path: '/drill-jobs/:id/cancel',
    role: 'operator',
    summary: 'Cancel a running drill: its faults are undone and its environment stopped',
    params: JobParams,
    body: z.object({}).optional(),
    response: DrillJobSchema,
    handler: async ({ params, principal }) =>
      shown(await ctx.drills.cancel(params.id, principal?.name ?? 'unknown')),
  });

  api.route({
    method: 'POST',
    path: '/drill-jobs/:id/continue',
    role: 'operator',
    summary: 'Continue a drill that paused between the fault and the failover',
    params: JobParams,
    body: z.object({}).optional(),
    response: DrillJobSchema,
    handler: async ({ params, principal }) =>
      shown(await ctx.drills.continue(params.id, principal?.name ?? 'unknown')),
  });
  api.route({
    method: 'POST',
    path: '/drill-jobs/:id/notes',
    role: 'operator',
    summary: "Keep a note from the room in a running drill's report",
    params: JobParams,
    body: z.object({ text: z.string().min(1).max(4000) }),
    response: DrillJobSchema,
    handler: async ({ params, body, principal }) =>
      shown(await ctx.drills.note(params.id, principal?.name ?? 'unknown', body.text)),
  });

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
        throw ApiError.notFound(
          'DRCTL_API_DRILL_NOT_FOUND',
          `no drill report ${params.id}`,
          'list them with GET /api/v1/drills',
        );
      }
      return { ...summary(record), report: record.report };
    },
  });
}
